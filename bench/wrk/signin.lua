-- POST /api/v1/auth/signin, cycling through the seeded users (each thread its own stride).
-- Script arguments: <number of users> <password> <number of wrk threads>
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

function init(args)
  users, password, nthreads = tonumber(args[1]), args[2], tonumber(args[3])
  idx = tid
  headers = {["Content-Type"] = "application/json"}
end

function request()
  local email = string.format("bench-%05d@bench.plinto.test", idx % users)
  idx = idx + nthreads
  local body = string.format('{"email":"%s","password":"%s"}', email, password)
  return wrk.format("POST", "/api/v1/auth/signin", headers, body)
end

function response(status, headers, body)
  count_status(status)
end
