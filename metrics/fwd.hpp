// Forward declarations of the metrics library's shared objects, for headers
// that only pass them around (by pointer or shared_ptr).
#pragma once

namespace miyabi::metrics {

class service_metrics;

} // namespace miyabi::metrics
