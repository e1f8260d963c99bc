-- bench/rotate.lua — wrk script: every request carries the next token of a file.
--
--   wrk -t1 -c16 -d10s -s bench/rotate.lua http://127.0.0.1:PORT/orders/42 -- TOKENS [OFFSET]
--
-- TOKENS: a file with one compact JWS per line. The tokens are sent round-robin as
-- `Authorization: Bearer <token>`, starting at line OFFSET (0-based, default 0), so a
-- caller can give each run a fresh window of a large pool ("cold": never-seen tokens).
-- With several wrk threads each thread starts at OFFSET + its index * (pool / threads).
--
-- done() prints one machine-readable line that bench/bench.py parses:
--   BENCH_RESULT requests=N duration_us=N non2xx=N connect=N read=N write=N timeout=N
--                p50_us=N p90_us=N p99_us=N max_us=N
-- (non2xx is wrk's "status" error count: responses outside 200-399.)
-- No response() callback: defining one makes wrk hand every response to Lua, which
-- would slow the load generator for every listener alike and blur the comparison.

local tokens = {}
local n = 0
local idx = 0
local prefix = ""
local suffix = "\r\n\r\n"

local thread_index = 0
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local t0 = os.clock()
  local path = args[1]
  if path == nil then
    error("rotate.lua: pass the token file after --")
  end
  local offset = tonumber(args[2] or "0") or 0
  local threads = tonumber(args[3] or "1") or 1
  for line in io.lines(path) do
    if #line > 0 then
      n = n + 1
      tokens[n] = line
    end
  end
  if n == 0 then
    error("rotate.lua: no tokens in " .. path)
  end
  local ti = tonumber(thread_index) or 0
  idx = (offset + ti * math.floor(n / threads)) % n
  -- The request line and fixed headers never change; only the token does.
  local host = wrk.headers["Host"] or wrk.host
  if wrk.port ~= nil and not string.find(host, ":", 1, true) then
    host = host .. ":" .. wrk.port
  end
  prefix = wrk.method .. " " .. wrk.path .. " HTTP/1.1\r\nHost: " .. host ..
           "\r\nAuthorization: Bearer "
  -- Envoy idles while this runs; bench.py leaves it out of its CPU accounting.
  io.stderr:write(string.format("BENCH_LOAD_US=%d\n", (os.clock() - t0) * 1e6))
end

function request()
  idx = idx + 1
  if idx > n then
    idx = 1
  end
  return prefix .. tokens[idx] .. suffix
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
