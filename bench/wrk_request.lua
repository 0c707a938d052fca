-- wrk script shared by every target of bench/run.py.
--
-- Usage: wrk ... http://127.0.0.1:TARGETPORT/ -- REQUEST_TARGET HOST
--   REQUEST_TARGET  absolute-form URI for forward proxies
--                   (http://127.0.0.1:ORIGINPORT/small), origin-form for
--                   reverse proxies and the no-proxy baseline (/small).
--   HOST            value of the Host header: 127.0.0.1:ORIGINPORT, or
--                   bench.test (the virtual host) for reverse proxies.
--
-- The request is built once per thread in init() and served by wrk's default
-- (static) request function, so the script adds no per-request Lua work.
-- done() prints one machine-readable line prefixed with "WRKJSON ".

-- A URL host ending in ".test" (https://bench.test:PORT/ in tls mode) is
-- connected to on 127.0.0.1: wrk sends the URL's host as the TLS server name
-- (SNI), and the reserved .test names have no DNS entry.
local default_resolve = wrk.resolve
function wrk.resolve(host, service)
   if string.sub(host, -5) == ".test" then
      host = "127.0.0.1"
   end
   return default_resolve(host, service)
end

function init(args)
   if args[1] ~= nil then
      wrk.path = args[1]
   end
   if args[2] ~= nil then
      wrk.headers["Host"] = args[2]
   end
   req = wrk.format("GET", wrk.path, wrk.headers)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRKJSON {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, " ..
      "\"err_connect\": %d, \"err_read\": %d, \"err_write\": %d, " ..
      "\"err_status\": %d, \"err_timeout\": %d, \"p50_us\": %d, " ..
      "\"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d, \"mean_us\": %.1f}\n",
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean))
end
