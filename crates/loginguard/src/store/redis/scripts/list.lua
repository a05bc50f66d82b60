-- list: an account's live sessions, ending expired ones on the way.
-- KEYS: the account's three keys (see common.lua)
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)   ARGV[3] event channel
-- ARGV[4], ARGV[5] and the last KEY: the audit trail (see common.lua)
-- Reply: live sessions' records (with their ids), oldest first
return finish(encode_all(load_live(ACCOUNT, tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])))
