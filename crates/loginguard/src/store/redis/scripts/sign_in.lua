-- sign_in: admit a new session under the policy, as one atomic step.
-- KEYS: the account's three keys, then the request's reply key (see common.lua)
-- ARGV[1] now (ms)            ARGV[2] the new session's JSON
-- ARGV[3] max_sessions        ARGV[4] on_limit: kick_oldest | deny_new
-- ARGV[5] idle timeout (ms)   ARGV[6] event channel
-- ARGV[7] replay window (ms)
-- Reply: {'created', <replaced session JSON or ''>, <evicted session JSON>...}
-- or {'denied', <live session JSON>...};
-- a re-run of the same request (same new session id) gets the first run's
-- reply, or {'undone', ...} once undo_sign_in gave the request up.
local earlier = replay()
if earlier then return earlier end

local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[5]), ARGV[6]
local new = cjson.decode(ARGV[2])
local max = math.max(1, tonumber(ARGV[3]))

prune_tombstones(now)
local live = load_live(now, idle, channel)
local by = {d = new.d, ip = new.ip, at = now}

-- domain::policy::decide, in its order: the same device replaces itself
-- first, touching nothing else and needing no room.
local replaced = nil
if new.di then
  for _, s in ipairs(live) do
    if s.di == new.di then replaced = s; break end
  end
end

local evicted = {}
if replaced then
  bury(replaced, 'replaced', by, now, idle)
elseif #live >= max and ARGV[4] == 'deny_new' then
  redis.call('PUBLISH', channel, cjson.encode({k = 'login_blocked', u = new.u, by = by}))
  local reply = encode_all(live)
  table.insert(reply, 1, 'denied')
  return remember(reply, tonumber(ARGV[7]))
else
  local evict = math.max(0, #live + 1 - max)
  for i = 1, evict do
    bury(live[i], 'duplicate_login', by, now, idle)
    evicted[i] = live[i]
  end
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
if replaced then event.rp = replaced.id end
redis.call('PUBLISH', channel, cjson.encode(event))

local reply = encode_all(evicted)
table.insert(reply, 1, replaced and cjson.encode(replaced) or '')
table.insert(reply, 1, 'created')
return remember(reply, tonumber(ARGV[7]))
