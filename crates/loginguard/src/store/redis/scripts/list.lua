-- list: an account's live sessions, ending expired ones on the way.
-- KEYS[1] the account's sessions hash   KEYS[2] the account's tombstones hash
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)   ARGV[3] event channel
-- Reply: live sessions' JSON, oldest first
return encode_all(load_live(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]))
