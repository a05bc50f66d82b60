-- undo_sign_in: give up a sign-in whose reply was lost. Ends its session when
-- it is live (reason `logout`: nobody holds its token) and leaves 'undone' as
-- that sign-in's reply, so a run of it still on its way changes nothing.
-- KEYS: the account's three keys, then the SIGN-IN's reply key (see common.lua)
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)   ARGV[3] event channel
-- ARGV[4] the sign-in's session id   ARGV[5] replay window (ms)
-- ARGV[6], ARGV[7] and the last KEY: the audit trail (see common.lua)
-- Reply: {'undone', '1'} when it ended the session, {'undone', '0'} when none
-- was live; a re-run gets the first run's reply.
local earlier = replay(ACCOUNT)
if earlier and earlier[1] == 'undone' then return finish(earlier) end

local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local ended = end_sessions(ACCOUNT, load_live(ACCOUNT, now, idle, channel), ARGV[4], 'logout', nil, now, idle, channel)
local flag = '0'
if #ended > 0 then flag = '1' end
return finish(remember(ACCOUNT, {'undone', flag}, tonumber(ARGV[5])))
