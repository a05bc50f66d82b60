-- revoke: end one live session, or all of an account's, with a reason.
-- KEYS: the account's three keys, then the request's reply key (see common.lua)
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)   ARGV[3] event channel
-- ARGV[4] reason     ARGV[5] `by` actor JSON, or '' for none
-- ARGV[6] session id, or '' for every session of the account
-- ARGV[7] replay window (ms)
-- ARGV[8], ARGV[9] and the last KEY: the audit trail (see common.lua)
-- Reply: the ended sessions' records (with ids), oldest first (empty when none was live);
-- a re-run of the same request (same id, reason and now) gets the same reply.
local earlier = replay(ACCOUNT)
if earlier then return finish(earlier) end

local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local by = nil
if ARGV[5] ~= '' then by = cjson.decode(ARGV[5]) end

local ended = end_sessions(ACCOUNT, load_live(ACCOUNT, now, idle, channel), ARGV[6], ARGV[4], by, now, idle, channel)
return finish(remember(ACCOUNT, encode_all(ended), tonumber(ARGV[7])))
