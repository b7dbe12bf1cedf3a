-- wrk script for bench/claims: every request claims the caller's oldest
-- pending execution (POST /api/v1/agents/executions/claim with `{}`).
--
--   wrk ... -s bench/claim.lua URL -- TOKEN
--
-- Only 200s count as claims: a 204 means the queue ran dry, which the
-- script reports so a round is never mistaken for a full one.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.body = "{}"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (args[1] or "")
  claims = 0
  empty = 0
end

function response(status, headers, body)
  if status == 200 then
    claims = claims + 1
  elseif status == 204 then
    empty = empty + 1
  end
end

function done(summary, latency, requests)
  local c, e = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("claims")
    e = e + t:get("empty")
  end
  io.write(string.format("Claims: %d\nEmpty answers: %d\n", c, e))
end
