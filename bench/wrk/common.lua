-- Shared by the wrk scripts of bench/run_auth.sh: thread ids, per-status counts, a JSON summary.
-- Each wrk thread has its own Lua state; setup() and done() run in a separate one, which reaches
-- the threads' globals through thread:get().

local threads = {}
local next_tid = 0

-- Counters (globals of each thread) that done() adds up across threads, besides `codes`.
counter_names = counter_names or {}

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

codes = {}

function count_status(status)
  local key = tostring(status)
  codes[key] = (codes[key] or 0) + 1
end

function read_lines(path)
  local lines = {}
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if #line > 0 then table.insert(lines, line) end
  end
  f:close()
  return lines
end

local function json_object(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%s":%d', k, v)) end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local all_codes, counters = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes") or {}) do all_codes[k] = (all_codes[k] or 0) + v end
    for _, name in ipairs(counter_names) do counters[name] = (counters[name] or 0) + (t:get(name) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"latency_us":{"min":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"codes":%s,"counters":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    latency.min, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, json_object(all_codes), json_object(counters)))
end
