-- lookup: resolve one session of an account (token validation, touch, revalidation).
-- KEYS: the account's three keys (see common.lua)
-- ARGV[1] session id   ARGV[2] token hash (32 raw bytes), or '' to match any
-- ARGV[3] now (ms)     ARGV[4] idle timeout (ms)
-- ARGV[5] touch after (ms), or '' for no touch   ARGV[6] event channel
-- ARGV[7], ARGV[8] and the last KEY: the audit trail (see common.lua)
-- Reply: {'live', <session record>} | {'ended', <tombstone record as stored>} | {'unknown'}
local id, hash = ARGV[1], ARGV[2]
local now, idle, channel = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[6]

local live = load_live(ACCOUNT, now, idle, channel)
for _, s in ipairs(live) do
  if s.id == id then
    if hash ~= '' and s.h ~= hash then return finish({'unknown'}) end
    if ARGV[5] ~= '' and now - s.l >= tonumber(ARGV[5]) then
      s.l = now
      redis.call('HSET', ACCOUNT.s, id, encode_session(s))
    end
    return finish({'live', encode_session(s, true)})
  end
end

local raw = redis.call('HGET', ACCOUNT.x, id)
if raw then
  local t = decode_tombstone(raw)
  if (hash == '' or t.h == hash) and t.e > now then return finish({'ended', raw}) end
end
return finish({'unknown'})
