#include "support/postgres.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <unistd.h>

#include <pqxx/pqxx>

#include "support/env.hpp"

namespace miyabi::test {

namespace {

std::string with_database(std::string url, const std::string& db) {
  auto slash = url.rfind('/');
  return url.substr(0, slash + 1) + db;
}

std::string unique_name(const char* prefix) {
  static std::atomic<int> counter{0};
  return std::string{prefix} + std::to_string(::getpid()) + "_" +
         std::to_string(counter++);
}

void create_db(const std::string& admin_url, const std::string& name) {
  pqxx::connection conn{admin_url};
  pqxx::nontransaction tx{conn};
  tx.exec("CREATE DATABASE \"" + name + "\"");
}

} // namespace

std::string create_database() {
  auto admin = required_env("MIYABI_TEST_PG_URL");
  auto name = unique_name("t");
  create_db(admin, name);
  return with_database(admin, name);
}

void exec_sql(const std::string& url, const std::string& sql) {
  pqxx::connection conn{url};
  pqxx::nontransaction tx{conn};
  tx.exec(sql);
}

long long query_int(const std::string& url, const std::string& sql) {
  pqxx::connection conn{url};
  pqxx::nontransaction tx{conn};
  auto row = tx.exec1(sql);
  return row[0].as<long long>();
}

std::string query_text(const std::string& url, const std::string& sql) {
  pqxx::connection conn{url};
  pqxx::nontransaction tx{conn};
  auto row = tx.exec1(sql);
  return row[0].is_null() ? std::string{} : row[0].as<std::string>();
}

private_postgres::private_postgres() {
  char tmpl[] = "/tmp/miyabi-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  ::rmdir(tmpl); // pgctl create makes it again, owned by postgres
  run("create " + dir_);
  port_ = static_cast<uint16_t>(std::stoi(run("start " + dir_)));
}

private_postgres::~private_postgres() {
  try {
    run("destroy " + dir_);
  } catch (...) {
    // Best effort: the next scripts/test run starts from scratch anyway.
  }
}

std::string private_postgres::url(const std::string& db) {
  auto admin =
    "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
  pqxx::connection conn{admin};
  pqxx::nontransaction tx{conn};
  auto found =
    tx.exec("SELECT 1 FROM pg_database WHERE datname = " + tx.quote(db));
  if (found.empty())
    tx.exec("CREATE DATABASE \"" + db + "\"");
  return with_database(admin, db);
}

void private_postgres::stop(const std::string& mode) {
  run("stop " + dir_ + " " + mode);
}

void private_postgres::start() {
  run("start " + dir_ + " " + std::to_string(port_));
}

std::string private_postgres::run(const std::string& args) {
  auto command = required_env("MIYABI_PGCTL") + " " + args + " 2>&1";
  std::string output;
  if (auto* pipe = ::popen(command.c_str(), "r")) {
    std::array<char, 256> buf{};
    while (std::fgets(buf.data(), buf.size(), pipe) != nullptr)
      output += buf.data();
    if (::pclose(pipe) != 0)
      throw std::runtime_error("pgctl " + args + " failed: " + output);
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == ' '))
    output.pop_back();
  return output;
}

} // namespace miyabi::test
