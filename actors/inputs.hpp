// Decoded request inputs (bodies and query strings), one type per operation
// that takes input. The HTTP layer produces them after validation, so actors
// can rely on every field being present and in range.
#pragma once

#include <variant>

namespace miyabi::actors {

using request_input = std::variant<std::monostate>;

} // namespace miyabi::actors
