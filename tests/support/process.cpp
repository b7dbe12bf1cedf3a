#include "support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <set>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
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
    {"ENVIRONMENT", "test"},
    {"AUTH_MOCK_ENABLED", "true"},
  };
}

std::string json_line_problem(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse(line.c_str(), line.size());
  if (doc.HasParseError())
    return "not JSON";
  if (!doc.IsObject())
    return "not a JSON object";
  std::set<std::string> names;
  for (auto i = doc.MemberBegin(); i != doc.MemberEnd(); ++i) {
    std::string name{i->name.GetString(), i->name.GetStringLength()};
    if (!names.insert(name).second)
      return "duplicate member \"" + name + "\"";
  }
  return {};
}

namespace {

/// Every live service_process, so the lines of instances shared across
/// test cases (function-local statics, destroyed after the test run) are
/// checked while Boost.Test can still fail the run.
struct live_processes {
  std::mutex mtx;
  std::set<service_process*> all;
};

live_processes& live() {
  static live_processes instance;
  return instance;
}

/// Runs after the last test case, still inside the test run.
struct check_lines_at_the_end {
  check_lines_at_the_end() = default;
  check_lines_at_the_end(const check_lines_at_the_end&) = delete;
  check_lines_at_the_end& operator=(const check_lines_at_the_end&) = delete;
  ~check_lines_at_the_end() {
    std::lock_guard<std::mutex> guard{live().mtx};
    for (auto* proc : live().all)
      proc->check_log_lines();
  }
};

BOOST_TEST_GLOBAL_FIXTURE(check_lines_at_the_end);

} // namespace

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
  std::lock_guard<std::mutex> guard{live().mtx};
  live().all.insert(this);
}

service_process::~service_process() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds{10});
  }
  if (reader_.joinable())
    reader_.join();
  {
    std::lock_guard<std::mutex> guard{live().mtx};
    live().all.erase(this);
  }
  check_log_lines();
}

void service_process::check_log_lines() {
  std::vector<std::string> unchecked;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    unchecked.assign(stdout_lines_.begin() + static_cast<long>(checked_),
                     stdout_lines_.end());
    checked_ = stdout_lines_.size();
  }
  bool in_test = boost::unit_test::framework::test_in_progress();
  for (const auto& line : unchecked) {
    auto problem = json_line_problem(line);
    if (problem.empty())
      continue;
    if (in_test)
      BOOST_ERROR("miyabi-api wrote a bad log line (" << problem
                                                      << "): " << line);
    else // after the run: nothing can fail any more; say it at least
      std::fprintf(stderr, "miyabi-api wrote a bad log line (%s): %s\n",
                   problem.c_str(), line.c_str());
  }
}

void service_process::spawn(const env_map& env) {
  // stdout and stderr apart: stdout must hold JSON log lines only.
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw std::runtime_error("pipe failed");
  }
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
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::execve(binary.c_str(), argv, envp.data());
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  reader_ = std::thread{[this, out_fd = out[0], err_fd = err[0]] {
    read_output(out_fd, err_fd);
  }};
}

void service_process::read_output(int out_fd, int err_fd) {
  struct stream {
    int fd;
    bool is_stdout;
    std::string pending;
  };
  stream streams[] = {{out_fd, true, {}}, {err_fd, false, {}}};
  size_t open = 2;
  char buf[4096];
  while (open > 0) {
    pollfd fds[2];
    nfds_t n = 0;
    stream* polled[2];
    for (auto& s : streams) {
      if (s.fd < 0)
        continue;
      fds[n] = pollfd{s.fd, POLLIN, 0};
      polled[n++] = &s;
    }
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0)
        continue;
      auto& s = *polled[i];
      auto got = ::read(s.fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0) {
        ::close(s.fd);
        s.fd = -1;
        --open;
        std::lock_guard<std::mutex> guard{mtx_};
        if (!s.pending.empty())
          lines_.push_back(std::move(s.pending)); // no newline: not checked
        continue;
      }
      s.pending.append(buf, static_cast<size_t>(got));
      size_t start = 0;
      for (auto nl = s.pending.find('\n'); nl != std::string::npos;
           nl = s.pending.find('\n', start)) {
        std::lock_guard<std::mutex> guard{mtx_};
        lines_.push_back(s.pending.substr(start, nl - start));
        if (s.is_stdout)
          stdout_lines_.push_back(lines_.back());
        start = nl + 1;
        cv_.notify_all();
      }
      s.pending.erase(0, start);
    }
  }
  std::lock_guard<std::mutex> guard{mtx_};
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
