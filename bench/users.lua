-- wrk script for bench/report: GET requests that take turns among many
-- users' access tokens (one per line in TOKEN_FILE), so reads of different
-- users interleave as they would on a busy dashboard.
--
--   wrk ... -s bench/users.lua URL -- TOKEN_FILE
local tokens = {}
local next_token = 0

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      tokens[#tokens + 1] = line
    end
  end
  assert(#tokens > 0, "no tokens in " .. tostring(args[1]))
  -- Threads start at different users.
  next_token = math.random(#tokens)
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[next_token] })
end
