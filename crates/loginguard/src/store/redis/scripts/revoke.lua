-- revoke: end one live session, or all of an account's, with a reason.
-- KEYS: the account's three keys (see common.lua)
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)   ARGV[3] event channel
-- ARGV[4] reason     ARGV[5] `by` actor JSON, or '' for none
-- ARGV[6] session id, or '' for every session of the account
-- Reply: the ended sessions' JSON, oldest first (empty when none was live)
local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local reason, id = ARGV[4], ARGV[6]
local by = nil
if ARGV[5] ~= '' then by = cjson.decode(ARGV[5]) end

local live = load_live(now, idle, channel)
local ended = {}
for _, s in ipairs(live) do
  if id == '' or s.id == id then
    bury(s, reason, by, now, idle)
    table.insert(ended, s)
  end
end
publish_revoked(channel, ended, reason, by, now)
return encode_all(ended)
