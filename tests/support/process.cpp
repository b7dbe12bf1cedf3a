#include "support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include "support/env.hpp"

namespace miyabi::test {

env_map base_env() {
  return {
    {"PORT", "0"},
    {"SERVER_ADDRESS", "127.0.0.1:0"},
    {"HTTP_THREADS", "2"},
    {"ACTOR_THREADS", "2"},
    {"LOG_LEVEL", "info"},
    {"JWT_SECRET", "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"},
    {"SHUTDOWN_GRACE_MS", "5000"},
    // Tests sign in and write far faster than people do; rate_limit_test
    // sets the limits it checks.
    {"AUTH_RATE_PER_MINUTE", "1000000"},
    {"WRITE_RATE_PER_MINUTE", "1000000"},
  };
}

service_process::service_process(env_map env, std::chrono::milliseconds startup)
    : service_process(std::move(env), false) {
  uint16_t found = 0;
  bool ok = wait_for_line(
    [&found](const std::string& line) {
      if (line.find("\"listening\"") == std::string::npos)
        return false;
      rapidjson::Document doc;
      doc.Parse(line.c_str());
      if (doc.HasParseError() || !doc.HasMember("port"))
        return false;
      found = static_cast<uint16_t>(doc["port"].GetInt());
      return true;
    },
    startup);
  if (!ok) {
    std::string output;
    for (const auto& line : lines())
      output += line + "\n";
    throw std::runtime_error("miyabi-api did not start listening; output:\n" +
                             output);
  }
  port_ = found;
}

service_process::service_process(env_map env, bool) {
  spawn(env);
}

service_process::~service_process() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds{10});
  }
  if (reader_.joinable())
    reader_.join();
}

void service_process::spawn(const env_map& env) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<std::string> storage;
  for (const auto& [key, value] : env)
    storage.push_back(key + "=" + value);
  storage.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin");
  // The sanitizer passes configure the service through these (halt on the
  // first report, suppression files); nothing else of ours is inherited.
  for (const char* name :
       {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"})
    if (const char* value = std::getenv(name); value && env.count(name) == 0)
      storage.push_back(std::string{name} + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : storage)
    envp.push_back(entry.data());
  envp.push_back(nullptr);
  auto binary = service_binary();
  char* argv[] = {binary.data(), nullptr};
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::execve(binary.c_str(), argv, envp.data());
    _exit(127);
  }
  ::close(fds[1]);
  reader_ = std::thread{[this, fd = fds[0]] {
    read_output(fd);
  }};
}

void service_process::read_output(int fd) {
  std::string pending;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (auto nl = pending.find('\n'); nl != std::string::npos;
         nl = pending.find('\n', start)) {
      std::lock_guard<std::mutex> guard{mtx_};
      lines_.push_back(pending.substr(start, nl - start));
      start = nl + 1;
      cv_.notify_all();
    }
    pending.erase(0, start);
  }
  ::close(fd);
  std::lock_guard<std::mutex> guard{mtx_};
  if (!pending.empty())
    lines_.push_back(pending);
  eof_ = true;
  cv_.notify_all();
}

std::string service_process::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void service_process::signal(int sig) {
  if (pid_ > 0 && !exit_code_)
    ::kill(pid_, sig);
}

std::optional<int>
service_process::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_)
    return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // The child's end of the pipe is closed now: once the reader has seen
      // end of file, lines() holds everything the process wrote.
      if (reader_.joinable())
        reader_.join();
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    // waitpid has no timed variant; poll at a short interval.
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

std::vector<std::string> service_process::lines() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return lines_;
}

bool service_process::wait_for_line(
  const std::function<bool(const std::string&)>& pred,
  std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> guard{mtx_};
  size_t checked = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (; checked < lines_.size(); ++checked)
      if (pred(lines_[checked]))
        return true;
    if (eof_)
      return false;
    if (cv_.wait_until(guard, deadline) == std::cv_status::timeout) {
      for (; checked < lines_.size(); ++checked)
        if (pred(lines_[checked]))
          return true;
      return false;
    }
  }
}

size_t service_process::resident_bytes() const {
  std::ifstream in{"/proc/" + std::to_string(pid_) + "/statm"};
  size_t size = 0;
  size_t resident = 0;
  in >> size >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t service_process::open_fds() const {
  size_t n = 0;
  auto path = "/proc/" + std::to_string(pid_) + "/fd";
  if (auto* dir = opendir(path.c_str())) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.')
        ++n;
    closedir(dir);
  }
  return n;
}

} // namespace miyabi::test
