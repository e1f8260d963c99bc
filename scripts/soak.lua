-- scripts/soak.lua — wrk script for scripts/soak.py (`make soak`).
--
--   wrk -t2 -c32 -d60s -s scripts/soak.lua http://127.0.0.1:PORT/ -- POOL
--
-- POOL (written by soak.py): one request per line, tab-separated:
--   class  expected-status  expected-sub  METHOD  PATH  [Header: value]...
-- (expected-sub "-" = no identity header may reach the service). Every request gets
-- `x-soak-id: <line>`; the rendered Envoy config echoes it on every answer (the demo
-- APIs' response headers for forwarded requests, a local_reply_config mapper for local
-- replies), so each response is matched to the request it answers, whatever the
-- connection. Per class it counts statuses, mismatches (status, or `x-seen-sub`, the
-- identity the service saw) and answers without an id.
--
-- done() prints machine-readable lines that soak.py parses:
--   SOAK_CLASS class=C status=S n=N
--   SOAK_BAD class=C id=I status=S seen_sub=X          (first few per thread)
--   SOAK_NOID status=S n=N
--   SOAK_TOTAL requests=N duration_us=N connect=N read=N write=N timeout=N status=N
--              p50_us=N p99_us=N max_us=N mismatches=N

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads - 1)
end

local reqs, cls, want, sub = {}, {}, {}, {}
local n, idx = 0, 0
counts = {}   -- "class\tstatus" -> n   (read by done() through thread:get)
noid = {}     -- status -> n
bad = {}      -- list of "class\tid\tstatus\tseen_sub"
mismatches = 0

local function split_tabs(line)
  local out = {}
  for field in string.gmatch(line, "[^\t]+") do
    out[#out + 1] = field
  end
  return out
end

function init(args)
  local path = args[1] or error("soak.lua: pass the pool file after --")
  local host = wrk.host .. ":" .. tostring(wrk.port)
  for line in io.lines(path) do
    local f = split_tabs(line)
    if #f >= 5 then
      n = n + 1
      cls[n], want[n], sub[n] = f[1], tonumber(f[2]), f[3]
      local r = { f[4], " ", f[5], " HTTP/1.1\r\nHost: ", host, "\r\nx-soak-id: ", tostring(n), "\r\n" }
      for i = 6, #f do
        r[#r + 1] = f[i]
        r[#r + 1] = "\r\n"
      end
      if f[4] == "POST" or f[4] == "PUT" or f[4] == "PATCH" then
        r[#r + 1] = "Content-Length: 0\r\n"
      end
      r[#r + 1] = "\r\n"
      reqs[n] = table.concat(r)
    end
  end
  if n == 0 then
    error("soak.lua: empty pool " .. path)
  end
  -- Threads start at different points of the pool.
  idx = (tonumber(thread_index) or 0) * 7919 % n
end

function request()
  idx = idx % n + 1
  return reqs[idx]
end

function response(status, headers, body)
  local id = tonumber(headers["x-soak-id"])
  if id == nil or cls[id] == nil then
    noid[status] = (noid[status] or 0) + 1
    return
  end
  local key = cls[id] .. "\t" .. status
  counts[key] = (counts[key] or 0) + 1
  local seen = headers["x-seen-sub"] or ""
  if seen == "-" then
    seen = ""
  end
  local ok = status == want[id]
  if ok and status == 200 then
    if sub[id] == "-" then
      ok = seen == ""
    else
      ok = seen == sub[id]
    end
  end
  if not ok then
    mismatches = mismatches + 1
    if #bad < 20 then
      bad[#bad + 1] = cls[id] .. "\t" .. id .. "\t" .. status .. "\t" .. seen
    end
  end
end

function done(summary, latency, requests)
  local total_mismatch = 0
  local agg, aggnoid = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts") or {}) do
      agg[k] = (agg[k] or 0) + v
    end
    for k, v in pairs(t:get("noid") or {}) do
      aggnoid[k] = (aggnoid[k] or 0) + v
    end
    for _, b in ipairs(t:get("bad") or {}) do
      local f = split_tabs(b)
      io.write(string.format("SOAK_BAD class=%s id=%s status=%s seen_sub=%s\n",
        f[1], f[2], f[3], f[4] or ""))
    end
    total_mismatch = total_mismatch + (t:get("mismatches") or 0)
  end
  for k, v in pairs(agg) do
    local c, s = string.match(k, "^(.-)\t(%d+)$")
    io.write(string.format("SOAK_CLASS class=%s status=%s n=%d\n", c, s, v))
  end
  for k, v in pairs(aggnoid) do
    io.write(string.format("SOAK_NOID status=%s n=%d\n", k, v))
  end
  local e = summary.errors
  io.write(string.format(
    "SOAK_TOTAL requests=%d duration_us=%d connect=%d read=%d write=%d timeout=%d status=%d " ..
    "p50_us=%d p99_us=%d max_us=%d mismatches=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max, total_mismatch))
end
