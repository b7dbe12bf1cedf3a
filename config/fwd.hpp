// Forward declaration of the settings, for headers that only pass them
// around (by pointer or shared_ptr).
#pragma once

namespace miyabi::config {

struct settings;

} // namespace miyabi::config
