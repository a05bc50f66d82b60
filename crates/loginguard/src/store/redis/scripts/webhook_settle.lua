-- webhook_settle: ends an attempt, if its lease is still the holder's.
-- KEYS[1] due   sorted set, delivery key -> due time (ms), or lease end while held
-- KEYS[2] jobs  hash, delivery key -> delivery JSON
-- KEYS[3] born  sorted set, delivery key -> event time (ms)
-- ARGV[1] delivery key
-- ARGV[2] the lease end webhook_claim gave it (ms)
-- ARGV[3] next due time (ms), or '' to remove it (delivered or given up)
-- ARGV[4] the delivery JSON to keep for the next attempt (failures counted)
-- Reply: 1 when settled, 0 when the lease had run out (someone else holds
-- it now, or it was settled already): then nothing changes.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
end
return 1
