-- Helpers shared by every script; `scripts.rs` prepends this file to each one.
-- They mirror domain::Account: a session record is the JSON of domain::Session
-- (id, u, d, ip, ua, c, l, e, h), a tombstone the JSON of domain::Tombstone
-- (h, r, t, by, e). Every key touched carries the account's hash tag.

local function is_expired(s, now, idle)
  return now >= s.e or now >= s.l + idle
end

-- Keeps a key alive at least until `at` (ms), never shortening it.
local function extend(key, at)
  if redis.call('PTTL', key) == -1 then
    redis.call('PEXPIREAT', key, at)
  else
    redis.call('PEXPIREAT', key, at, 'GT')
  end
end

-- Replaces a session by its tombstone, kept until the session's absolute end
-- and at least one idle timeout after now (domain::Account::bury).
local function bury(skey, xkey, s, reason, by, now, idle)
  local keep_until = math.max(s.e, now + idle)
  redis.call('HDEL', skey, s.id)
  redis.call('HSET', xkey, s.id, cjson.encode({h = s.h, r = reason, t = now, by = by or cjson.null, e = keep_until}))
  extend(xkey, keep_until)
end

local function by_age(a, b)
  if a.c ~= b.c then return a.c < b.c end
  return a.id < b.id
end

local function publish_revoked(channel, ended, reason, by, now)
  if #ended == 0 then return end
  local ids = {}
  for i, s in ipairs(ended) do ids[i] = s.id end
  redis.call('PUBLISH', channel, cjson.encode({k = 'revoked', u = ended[1].u, ids = ids, r = reason, by = by or cjson.null, at = now}))
end

-- Live sessions oldest first, after ending (and announcing) expired ones.
-- Returns the decoded records and their raw JSON, index for index.
local function load_live(skey, xkey, now, idle, channel)
  local flat = redis.call('HGETALL', skey)
  local live, expired = {}, {}
  for i = 1, #flat, 2 do
    local s = cjson.decode(flat[i + 1])
    if is_expired(s, now, idle) then
      bury(skey, xkey, s, 'expired', nil, now, idle)
      table.insert(expired, s)
    else
      table.insert(live, s)
    end
  end
  publish_revoked(channel, expired, 'expired', nil, now)
  table.sort(live, by_age)
  return live
end

local function encode_all(list)
  local out = {}
  for i, s in ipairs(list) do out[i] = cjson.encode(s) end
  return out
end
