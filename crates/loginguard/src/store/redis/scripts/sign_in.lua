-- sign_in: admit a new session under the policy, as one atomic step.
-- KEYS: the account's three keys, then the request's reply key (see
--       common.lua), then KEYS[5] where a refusal under `ask` keeps its
--       eviction ticket (keys.rs `ticket`, the new session's token hash),
--       KEYS[6] the account's runtime policy override (laid over ARGV's)
-- ARGV[1] now (ms)            ARGV[2] the new session's record, with its id
-- ARGV[3] max_sessions        ARGV[4] on_limit: kick_oldest | deny_new | ask
-- ARGV[5] idle timeout (ms)   ARGV[6] event channel
-- ARGV[7] replay window (ms)  ARGV[8] class limits, a JSON object ({"web":1})
-- ARGV[9] stale after (ms; 0 = off)   ARGV[10] ticket lifetime (ms)
-- ARGV[11], ARGV[12] and the last KEY: the audit trail (see common.lua)
-- Reply: {'created', <on_limit applied>, <replaced session's record or ''>,
-- <evicted session's record>...} or {'denied', <on_limit applied>, <record of
-- each session whose removal would make room>...} (records with their ids);
-- a re-run of the same request (same new session id) gets the first run's
-- reply, or {'undone', ...} once undo_sign_in gave the request up.
local earlier = replay(ACCOUNT)
if earlier then return finish(earlier) end

local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[5]), ARGV[6]
local new = decode_session(ARGV[2])
local policy = overridden({max = math.max(1, tonumber(ARGV[3])), on_limit = ARGV[4],
  class_limits = cjson.decode(ARGV[8]), stale_after = tonumber(ARGV[9])}, KEYS[6])

prune_tombstones(ACCOUNT, now)
local live = load_live(ACCOUNT, now, idle, channel)
local by = {d = new.d, ip = new.ip, at = now}

local verdict, which = decide(live, new, policy, now, nil)
if verdict == 'deny' then
  redis.call('PUBLISH', channel, cjson.encode({k = 'login_blocked', u = new.u, by = by}))
  audit('denied', new, nil, nil, now, false)
  if policy.on_limit == 'ask' then
    local offered = {}
    for i, s in ipairs(which) do offered[i] = s.id end
    local lifetime = tonumber(ARGV[10])
    local ticket = {p = new, o = offered, e = now + lifetime, m = policy.max, cl = policy.class_limits}
    -- Kept a minute past its end, so a late redemption is told it expired.
    redis.call('SET', KEYS[5], encode_ticket(ticket), 'PX', lifetime + 60000)
  end
  local reply = encode_all(which)
  table.insert(reply, 1, policy.on_limit)
  table.insert(reply, 1, 'denied')
  return finish(remember(ACCOUNT, reply, tonumber(ARGV[7])))
end

local evicted, replaced = admit(ACCOUNT, verdict, which, new, by, now, idle, channel)

local reply = encode_all(evicted)
table.insert(reply, 1, replaced and encode_session(replaced, true) or '')
table.insert(reply, 1, policy.on_limit)
table.insert(reply, 1, 'created')
return finish(remember(ACCOUNT, reply, tonumber(ARGV[7])))
