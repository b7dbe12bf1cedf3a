// The bench's memory floor: a process that loads the shared libraries
// miyabi-api links (CAF, Pistache, libpqxx/libpq, libcurl, OpenSSL,
// prometheus-cpp and what they pull in) and does the start-up work the
// service cannot skip (curl_global_init, one HMAC-SHA256 and random bytes
// through OpenSSL, one PostgreSQL connection through libpqxx), and nothing
// else: no actors, no listener, no project code. Its resident memory is what
// any service on this stack pays before its own code runs.
//
//   library_floor CONNINFO
//
// Prints "ready" once connected, then waits for SIGINT/SIGTERM. Exits 1 when
// the connection fails.
#include <csignal>
#include <cstdio>
#include <memory>

#include <caf/actor_system_config.hpp>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pistache/http_headers.h>
#include <pqxx/connection>
#include <prometheus/registry.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: library_floor CONNINFO\n");
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  unsigned char key[32];
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  RAND_bytes(key, sizeof key);
  HMAC(EVP_sha256(), key, sizeof key, key, sizeof key, mac, &mac_len);
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "library_floor: %s\n", e.what());
    return 1;
  }
  // One object from each C++ library, so each is loaded and initialized
  // as the service's are (with --as-needed the link would drop them).
  prometheus::Registry registry;
  caf::actor_system_config caf_config;
  Pistache::Http::Header::Registry::instance();
  std::printf("ready\n");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}
