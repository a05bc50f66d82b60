-- sign_in: admit a new session under the policy, as one atomic step.
-- KEYS: the account's three keys, then the request's reply key (see common.lua)
-- ARGV[1] now (ms)            ARGV[2] the new session's JSON
-- ARGV[3] max_sessions        ARGV[4] on_limit: kick_oldest | deny_new
-- ARGV[5] idle timeout (ms)   ARGV[6] event channel
-- ARGV[7] replay window (ms)
-- ARGV[8], ARGV[9] and the last KEY: the audit trail (see common.lua)
-- Reply: {'created', <evicted session JSON>...} or {'denied', <live session JSON>...};
-- a re-run of the same request (same new session id) gets the first run's
-- reply, or {'undone', ...} once undo_sign_in gave the request up.
local earlier = replay()
if earlier then return finish(earlier) end

local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[5]), ARGV[6]
local new = cjson.decode(ARGV[2])
local max = math.max(1, tonumber(ARGV[3]))

prune_tombstones(now)
local live = load_live(now, idle, channel)
local by = {d = new.d, ip = new.ip, at = now}

if #live >= max and ARGV[4] == 'deny_new' then
  redis.call('PUBLISH', channel, cjson.encode({k = 'login_blocked', u = new.u, by = by}))
  audit('denied', new, nil, nil, now, false)
  local reply = encode_all(live)
  table.insert(reply, 1, 'denied')
  return finish(remember(reply, tonumber(ARGV[7])))
end

local evicted = {}
local evict = math.max(0, #live + 1 - max)
for i = 1, evict do
  bury(live[i], 'duplicate_login', by, now, idle)
  evicted[i] = live[i]
end

redis.call('HSET', SKEY, new.id, ARGV[2])
-- One idle timeout past the absolute end: a key Redis drops by itself tells
-- nobody, so the step that finds the session expired must still see it, to
-- leave its tombstone and push `expired` to its sockets.
extend(SKEY, new.e + idle)

local ids = {}
for i, s in ipairs(evicted) do ids[i] = s.id end
local event = {k = 'signed_in', u = new.u, id = new.id, by = by}
if #ids > 0 then event.revoked = ids end
redis.call('PUBLISH', channel, cjson.encode(event))
audit('signed_in', new, nil, nil, now, true)

local reply = encode_all(evicted)
table.insert(reply, 1, 'created')
return finish(remember(reply, tonumber(ARGV[7])))
