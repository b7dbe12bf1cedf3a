#include "metrics/process.hpp"

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

namespace miyabi::metrics {

namespace {

double boot_time_seconds() {
  std::ifstream in{"/proc/stat"};
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double value = 0;
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

uint64_t count_fds() {
  uint64_t n = 0;
  if (auto* dir = opendir("/proc/self/fd")) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.')
        ++n;
    closedir(dir);
    if (n > 0)
      --n; // the descriptor opendir itself holds
  }
  return n;
}

} // namespace

process_snapshot read_process() {
  process_snapshot snap;
  static const auto page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  static const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double boot = boot_time_seconds();
  {
    std::ifstream statm{"/proc/self/statm"};
    uint64_t size = 0;
    uint64_t resident = 0;
    if (statm >> size >> resident) {
      snap.virtual_bytes = size * page_size;
      snap.resident_bytes = resident * page_size;
    }
  }
  {
    std::ifstream stat_file{"/proc/self/stat"};
    std::string line;
    std::getline(stat_file, line);
    // Fields after the command name, which may contain spaces: skip to ')'.
    auto close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream fields{line.substr(close + 2)};
      std::string field;
      // Field numbers per proc(5), counting from 3 (state).
      for (int index = 3; fields >> field; ++index) {
        if (index == 14)
          snap.cpu_seconds += std::stod(field) / ticks;
        else if (index == 15)
          snap.cpu_seconds += std::stod(field) / ticks;
        else if (index == 20)
          snap.threads = std::stoull(field);
        else if (index == 22) {
          snap.start_time_seconds = boot + std::stod(field) / ticks;
          break;
        }
      }
    }
  }
  snap.open_fds = count_fds();
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    snap.max_fds = lim.rlim_cur;
  return snap;
}

} // namespace miyabi::metrics
