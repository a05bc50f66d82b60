-- redeem: an eviction ticket's redemption (on_limit = ask), as one atomic
-- step: sign the chosen session out, admit the waiting sign-in, use the
-- ticket up.
-- KEYS: the account's three keys, then the reply key of the sign-in that
--       creates the fresh session (common.lua), then KEYS[5] the ticket,
--       KEYS[6] the account's runtime policy override
-- ARGV[1] now (ms)            ARGV[2] the chosen session id
-- ARGV[3] the fresh session id   ARGV[4] its token hash (32 raw bytes)
-- ARGV[5] its absolute end (ms)  ARGV[6] idle timeout (ms)
-- ARGV[7] event channel       ARGV[8] replay window (ms)
-- ARGV[9], ARGV[10] and the last KEY: the audit trail (see common.lua)
-- The ticket (domain::PendingSignIn, `encode_ticket`) holds the waiting
-- session (p), the offered ids (o), its end (e) and the limits it was refused
-- under (m, cl);
-- a stored override's limits replace those (the admin's latest word).
-- Reply: {'created', <new session's record>, <signed-out sessions' records>...},
-- {'invalid'} (no such ticket, or used), {'expired'}, {'not_offered'} or
-- {'denied', <record of each session whose removal would make room>...}
-- (records with their ids); the last two
-- leave the ticket as it was.
local earlier = replay(ACCOUNT)
if earlier then return finish(earlier) end

local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[6]), ARGV[7]
local window = tonumber(ARGV[8])
local raw = redis.call('GET', KEYS[5])
if not raw then return finish(remember(ACCOUNT, {'invalid'}, window)) end
local ticket = decode_ticket(raw)
if ticket.e <= now then return finish(remember(ACCOUNT, {'expired'}, window)) end
local offered = false
for _, id in ipairs(ticket.o) do
  if id == ARGV[2] then offered = true end
end
if not offered then return finish(remember(ACCOUNT, {'not_offered'}, window)) end

local new = ticket.p
new.id, new.h, new.c, new.l, new.e = ARGV[3], ARGV[4], now, now, tonumber(ARGV[5])
local policy = overridden({max = math.max(1, ticket.m), on_limit = 'ask',
  class_limits = ticket.cl, stale_after = 0}, KEYS[6])

prune_tombstones(ACCOUNT, now)
local live = load_live(ACCOUNT, now, idle, channel)
local by = {d = new.d, ip = new.ip, at = now}

local verdict, which = decide(live, new, policy, now, ARGV[2])
if verdict == 'deny' then
  local reply = encode_all(which)
  table.insert(reply, 1, 'denied')
  return finish(remember(ACCOUNT, reply, window))
end

redis.call('DEL', KEYS[5])
local evicted, replaced = admit(ACCOUNT, verdict, which, new, by, now, idle, channel)

local reply = encode_all(evicted)
if replaced then table.insert(reply, encode_session(replaced, true)) end
table.insert(reply, 1, encode_session(new, true))
table.insert(reply, 1, 'created')
return finish(remember(ACCOUNT, reply, window))
