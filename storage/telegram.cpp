#include <pqxx/pqxx>

#include "storage/statements.hpp"

namespace miyabi::storage {

const std::vector<statement>& telegram_statements() {
  static const std::vector<statement> list = {};
  return list;
}

} // namespace miyabi::storage
