// Where the tests find the service binary, the source tree and the
// PostgreSQL that scripts/test started. Any thread.
#pragma once

#include <string>

namespace miyabi::test {

/// Path of the miyabi-api binary under test.
std::string service_binary();

/// The source tree (for files like config/miyabi.env.example).
std::string source_dir();

/// A required environment variable; fails the test with a hint when unset.
std::string required_env(const char* name);

/// An optional environment variable (empty when unset).
std::string optional_env(const char* name);

/// Raises this process's open-file limit to its hard limit (load tests open
/// thousands of sockets).
void raise_fd_limit();

} // namespace miyabi::test
