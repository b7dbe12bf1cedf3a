-- wrk script for bench/report: POSTs distinct Telegram updates to
-- /api/v1/telegram/webhook, each a /getid message from an authorized chat, so
-- every request is processed (not a duplicate) and answered with a reply in
-- the response body.
--
--   wrk ... -s bench/webhook.lua URL -- RUN CHAT_ID SECRET
--
-- update_id = (RUN * 64 + thread) * 1e9 + n: unique across wrk threads and
-- across the runs of one report (RUN differs per wrk invocation).
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  run = tonumber(args[1] or "0")
  chat = tonumber(args[2] or "1")
  secret = args[3] or ""
  base = (run * 64 + tid) * 1e9
  n = 0
  processed = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if secret ~= "" then
    wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = secret
  end
end

function request()
  n = n + 1
  local body = string.format(
    '{"update_id":%.0f,"message":{"message_id":%d,"date":1700000000,' ..
    '"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,' ..
    '"first_name":"bench"},"text":"/getid"}}',
    base + n, n, chat, chat)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  -- A processed update answers with a Bot API method in the body.
  if status == 200 and string.find(body, '"method"', 1, true) then
    processed = processed + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("processed") or 0)
  end
  io.write(string.format("Replies in body: %d\n", total))
end
