-- revoke_all: one account's part of signing everyone out: end its live
-- sessions created at or before `now` (later ones stay), with a reason.
-- KEYS: the account's three keys, then the request's reply key (see common.lua)
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)   ARGV[3] event channel
-- ARGV[4] reason     ARGV[5] replay window (ms)
-- ARGV[6], ARGV[7] and the last KEY: the audit trail (see common.lua)
-- Reply: {count of ended sessions}; only the count is kept for a re-run, so
-- signing a large store out leaves a small reply key per account.
local earlier = replay()
if earlier then return finish(earlier) end

local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local before = {}
for _, s in ipairs(load_live(now, idle, channel)) do
  if s.c <= now then table.insert(before, s) end
end
local ended = end_sessions(before, '', ARGV[4], nil, now, idle, channel)
return finish(remember({tostring(#ended)}, tonumber(ARGV[5])))
