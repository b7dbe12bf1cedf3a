#include "domain/status.hpp"

namespace miyabi::domain {

const char* to_string(db_state state) {
  switch (state) {
    case db_state::connected: return "connected";
    case db_state::disconnected: return "disconnected";
    default: return "disabled";
  }
}

} // namespace miyabi::domain
