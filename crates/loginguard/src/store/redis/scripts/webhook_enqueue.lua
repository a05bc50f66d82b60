-- webhook_enqueue: schedules deliveries, each once (by key).
-- KEYS[1] due   sorted set, delivery key -> due time (ms), or lease end while held
-- KEYS[2] jobs  hash, delivery key -> delivery JSON
-- KEYS[3] born  sorted set, delivery key -> event time (ms): the oldest undelivered
-- ARGV[1] due time (ms) of the new deliveries
-- ARGV[2..] triples: delivery key, delivery JSON, event time (ms)
-- Reply: how many were new. A key already scheduled (the same event read
-- again after an instance died before acking it) is left as it is.
local added = 0
for i = 2, #ARGV, 3 do
  local key = ARGV[i]
  if redis.call('HSETNX', KEYS[2], key, ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[1], key)
    redis.call('ZADD', KEYS[3], ARGV[i + 2], key)
    added = added + 1
  end
end
return added
