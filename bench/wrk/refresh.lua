-- POST /api/v1/auth/refresh with rotation: each refresh token is used once, and the one a response
-- returns goes back into this thread's pool. The pool starts with the thread's share of the seeded
-- refresh tokens (at least two per connection); as wrk sends a connection's next request only after
-- its previous response (which is handled first), the pool never runs dry unless requests fail.
-- A token is never sent twice, so the reuse detection never fires.
-- Script arguments: <token file prefix>  (reads <prefix><tid>.txt, one refresh token per line)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
counter_names = {"lost_chains", "pool_empty"}

function init(args)
  pool = read_lines(args[1] .. tid .. ".txt")
  head, tail = 1, #pool
  lost_chains, pool_empty = 0, 0
  headers = {["Content-Type"] = "application/json"}
end

function request()
  local token = "pool-empty"
  if head <= tail then
    token = pool[head]
    pool[head] = nil
    head = head + 1
  else
    pool_empty = pool_empty + 1
  end
  return wrk.format("POST", "/api/v1/auth/refresh", headers, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  count_status(status)
  local token = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    tail = tail + 1
    pool[tail] = token
  else
    lost_chains = lost_chains + 1
  end
end
