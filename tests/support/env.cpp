#include "support/env.hpp"

#include <cstdlib>
#include <stdexcept>
#include <sys/resource.h>

namespace miyabi::test {

std::string service_binary() {
  return MIYABI_TEST_BINARY;
}

std::string source_dir() {
  return MIYABI_TEST_SOURCE_DIR;
}

std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0')
    throw std::runtime_error(std::string{name} +
                             " is not set: run the tests with scripts/test");
  return value;
}

std::string optional_env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string{} : std::string{value};
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

} // namespace miyabi::test
