// The version of this build, as health, `--version`, miyabi_build_info,
// the User-Agent of outbound calls and the start-up log report it:
// MIYABI_VERSION given to CMake (the container build passes it), else
// `git describe` of the source tree at build time, else the project version
// (cmake/version.cmake). A constant; any thread.
#pragma once

namespace miyabi {

const char* build_version();

} // namespace miyabi
