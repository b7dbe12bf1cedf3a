// Decoded request inputs (bodies and query strings), one type per operation
// that takes input. The HTTP layer produces them after validation, so actors
// can rely on every field being present, well-formed and in range.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/model.hpp"

namespace miyabi::actors {

/// POST /auth/mock.
struct mock_login_input {
  storage::user_profile profile;
};

/// POST /auth/refresh.
struct refresh_input {
  std::string refresh_token;
};

/// POST /auth/logout (body optional).
struct logout_input {
  std::optional<std::string> refresh_token;
};

/// GET /auth/github?redirect=/path
struct github_start_input {
  std::string redirect = "/";
};

/// GET /auth/github/callback?code=..&state=.. plus the login cookie.
struct github_callback_input {
  std::string code;
  std::string state;
  std::string binding; ///< the login cookie's value (empty when absent)
  std::string error;   ///< GitHub's `error` parameter (user denied, ...)
};

/// POST /agents/executions/claim.
struct claim_input {
  std::vector<std::string> agent_types;
};

/// GET /workflows?repository_id=
struct list_workflows_input {
  std::optional<std::string> repository_id;
};

using request_input
  = std::variant<std::monostate, mock_login_input, refresh_input,
                 logout_input, github_start_input, github_callback_input,
                 storage::new_repository, storage::new_execution,
                 storage::execution_filter, claim_input,
                 storage::execution_update, storage::new_log,
                 storage::log_filter, list_workflows_input,
                 storage::workflow_input>;

} // namespace miyabi::actors
