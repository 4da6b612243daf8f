-- wrk script for the side-by-side SCIM runs (bench/scim_load.py passes the arguments after "--"):
--   wrk ... -s scim.lua <url> -- <mode> <base path> <bearer token> <domain> <lookup users> <run nonce>
-- mode "create": POST <base>/Users, each with a userName no other request of the run uses
--                (thread id, the run nonce, a random number drawn per thread, a counter);
-- mode "lookup": GET <base>/Users?filter=userName eq "lookup<i>@<domain>" for a random i below <lookup users>.
-- Every response is checked here: non-2xx answers are counted, and so are lookups that found nobody
-- ("misses"), so a fast wrong answer cannot pass for a fast right one. done() prints one JSON line.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local mode, base, token, domain, lookups, nonce
local counter = 0
local rnd = 0
non2xx = 0
misses = 0
statuses = ""

function init(args)
  mode, base, token, domain = args[1], args[2], args[3], args[4]
  lookups = tonumber(args[5]) or 0
  nonce = args[6] or "0"
  math.randomseed(os.time() * 1000 + id * 7919)
  rnd = math.random(1, 999999999)
end

local function escape(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  counter = counter + 1
  local headers = { ["Authorization"] = "Bearer " .. token, ["Accept"] = "application/scim+json" }
  if mode == "create" then
    local name = string.format("wrk-%s-%d-%d-%d@%s", nonce, id, rnd, counter, domain)
    headers["Content-Type"] = "application/scim+json"
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
      '","name":{"givenName":"Load","familyName":"' .. counter .. '"},"active":true,' ..
      '"emails":[{"value":"' .. name .. '","type":"work","primary":true}]}'
    return wrk.format("POST", base .. "/Users", headers, body)
  end
  local who = string.format("lookup%d@%s", math.random(0, lookups - 1), domain)
  return wrk.format("GET", base .. "/Users?filter=" .. escape('userName eq "' .. who .. '"'), headers)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if string.len(statuses) < 400 then
      statuses = statuses .. status .. ":" .. string.sub(body or "", 1, 120) .. " | "
    end
  elseif mode == "lookup" and body and string.find(body, '"totalResults"%s*:%s*0[^%d]') then
    misses = misses + 1
  end
end

function done(summary, latency, requests)
  local bad, missed, samples = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    missed = missed + thread:get("misses")
    samples = samples .. thread:get("statuses")
  end
  samples = string.gsub(samples, '[\\"%c]', " ")
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"misses":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},"samples":"%s"}\n',
    summary.requests, summary.duration, bad, missed,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    samples))
end
