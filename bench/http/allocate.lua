-- wrk script for the POST /allocate runs: every request allocates a new order (run tag, wrk thread, counter) of
-- quantity 1, going round the seeded SKUs.
--   wrk ... -s allocate.lua <url> -- <run tag> <number of SKUs>
-- Prints the same RESULT line as get.lua.

local threads = 0

function setup(thread)          -- runs in the main Lua state, once per wrk thread
   thread:set("thread_id", threads)
   threads = threads + 1
end

function init(args)             -- runs in each thread's own Lua state
   tag = args[1] or "run"
   skus = tonumber(args[2]) or 100
   counter = 0
   wrk.method = "POST"
   wrk.path = "/allocate"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   local sku = string.format("BENCH-SKU-%03d", (counter + thread_id * 37) % skus)
   local body = string.format('{"orderid":"%s-%d-%d","sku":"%s","qty":1}', tag, thread_id, counter, sku)
   return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
