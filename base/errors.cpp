#include "base/errors.hpp"

#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace miyabi {

caf::error make_error(errc code) {
  return caf::error{static_cast<uint8_t>(code), error_category};
}

caf::error make_error(errc code, std::string message, std::string details) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(message), std::move(details))};
}

caf::error make_rate_limited(std::string message, int64_t retry_after_seconds) {
  auto details = "retry after " + std::to_string(retry_after_seconds) + " s";
  return caf::error{static_cast<uint8_t>(errc::rate_limited), error_category,
                    caf::make_message(std::move(message), std::move(details),
                                      retry_after_seconds)};
}

error_info describe(const caf::error& err) {
  error_info result;
  if (!err || err.category() != error_category)
    return result;
  result.ours = true;
  result.code = static_cast<errc>(err.code());
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string, std::string>()) {
    result.message = ctx.get_as<std::string>(0);
    result.details = ctx.get_as<std::string>(1);
  } else if (ctx.match_elements<std::string, std::string, int64_t>()) {
    result.message = ctx.get_as<std::string>(0);
    result.details = ctx.get_as<std::string>(1);
    result.retry_after_seconds = ctx.get_as<int64_t>(2);
  }
  return result;
}

bool is(const caf::error& err, errc code) {
  return err && err.category() == error_category &&
         err.code() == static_cast<uint8_t>(code);
}

} // namespace miyabi
