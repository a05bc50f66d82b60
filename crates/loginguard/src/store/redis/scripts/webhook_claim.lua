-- webhook_claim: takes due deliveries under a lease, in one step so that
-- no two callers get the same one.
-- KEYS[1] due   sorted set, delivery key -> due time (ms), or lease end while held
-- KEYS[2] jobs  hash, delivery key -> delivery JSON
-- KEYS[3] born  sorted set, delivery key -> event time (ms)
-- ARGV[1] now (ms)
-- ARGV[2] lease end (ms): the new score of each delivery taken, and the
--         token its holder presents to webhook_settle
-- ARGV[3] how many at most
-- Reply: flat list of delivery JSON, one per delivery taken.
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, key in ipairs(keys) do
  local job = redis.call('HGET', KEYS[2], key)
  if job then
    redis.call('ZADD', KEYS[1], ARGV[2], key)
    out[#out + 1] = job
  else
    -- A schedule entry without its delivery is unusable; drop it.
    redis.call('ZREM', KEYS[1], key)
    redis.call('ZREM', KEYS[3], key)
  end
end
return out
