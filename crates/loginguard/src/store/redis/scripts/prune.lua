-- prune: ends an account's expired sessions (the store's upkeep walk).
-- KEYS: the account's three keys (see common.lua)
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)   ARGV[3] event channel
-- ARGV[4], ARGV[5] and the last KEY: the audit trail (see common.lua)
-- Reply: {how many sessions it ended}
local _, ended = load_live(ACCOUNT, tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
return finish({tostring(#ended)})
