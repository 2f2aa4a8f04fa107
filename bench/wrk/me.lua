-- GET /api/v1/auth/me with Bearer access tokens of the seeded sessions, round robin.
-- Requests are built once in init(), so the load generator does almost no work per request.
-- Script arguments: <token file prefix>  (reads <prefix><tid>.txt, one access token per line)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

function init(args)
  requests_ = {}
  for _, token in ipairs(read_lines(args[1] .. tid .. ".txt")) do
    table.insert(requests_, wrk.format("GET", "/api/v1/auth/me", {["Authorization"] = "Bearer " .. token}))
  end
  n = 0
end

function request()
  n = n + 1
  return requests_[(n % #requests_) + 1]
end

function response(status, headers, body)
  count_status(status)
end
