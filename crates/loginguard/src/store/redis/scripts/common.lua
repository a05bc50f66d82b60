-- Helpers shared by every script; `scripts.rs` prepends this file to each one.
-- They mirror domain::Account: a session is a table with domain::Session's
-- serde names (id, u, d, ip, ua, c, l, e, h, di, and o, pw, dc which the
-- scripts never read but keep, since they re-encode whole records), a
-- tombstone one with domain::Tombstone's (h, r, t, by, e); `h` is the token
-- hash's 32 raw bytes, as ARGV passes it. How they are stored: "Records"
-- below. Every script gets the same three keys of one account, all under the
-- account's hash tag:
--   KEYS[1] sessions hash:   session id -> session record
--   KEYS[2] tombstones hash: session id -> tombstone record
--   KEYS[3] tombstone index: sorted set, session id scored by keep-until (ms)
-- Scripts that change something also get, in KEYS[4], their request's reply
-- key (keys.rs, store/replies.rs): a re-run of the same request answers what
-- the first run did and changes nothing. The helpers take the account they
-- work on as a table of those keys (`account_at`): ACCOUNT is KEYS[1..4],
-- and revoke_all.lua walks several accounts' groups of four in one call.
-- The audit trail (redis/audit.rs, docs/redis.md): the last two ARGV of every
-- script are this instance's name and the stream's cap. With a cap, the last
-- KEY is the stream and each entry is XADDed to it in this same step; with ''
-- (Redis Cluster: one stream cannot share every account's slot) the entries
-- go back beside the reply (`finish`) and the instance appends them.
-- The account whose four keys start at KEYS[i]: s sessions, x tombstones,
-- e tombstone index, r reply key (absent from scripts that change nothing).
local function account_at(i)
  return {s = KEYS[i], x = KEYS[i + 1], e = KEYS[i + 2], r = KEYS[i + 3]}
end
local ACCOUNT = account_at(1)
local AUDIT_INSTANCE, AUDIT_CAP = ARGV[#ARGV - 1], ARGV[#ARGV]
local AUDIT_KEY = nil
if AUDIT_CAP ~= '' then AUDIT_KEY = KEYS[#KEYS] end
local AUDIT = {}
-- domain::account::MAX_TOMBSTONES: the oldest are forgotten past this.
local MAX_TOMBSTONES = 1000
-- Stale tombstones forgotten per call, so no call's work grows with history.
local PRUNE_BATCH = 100

-- Records (store/redis/record.rs is the Rust side; docs/redis.md): a
-- MessagePack sequence of the fields below in this order, no names, nil for
-- an absent one (cmsgpack.pack takes nil arguments; a Lua table cannot hold
-- them). A stored session's id is nil: it is the hash field. Records stored
-- as JSON before (they start with '{') are still read, and written back in
-- this encoding whenever a script writes them anyway.
local SESSION_FIELDS = {'id', 'u', 'd', 'ip', 'ua', 'c', 'l', 'e', 'h', 'o', 'pw', 'dc', 'di'}
local TOMBSTONE_FIELDS = {'h', 'r', 't', 'by', 'e'}

local function is_json(raw)
  return string.byte(raw, 1) == 123
end

-- JSON records held the token hash as 64 hex digits.
local function unhex(hex)
  return (string.gsub(hex, '%x%x', function(b) return string.char(tonumber(b, 16)) end))
end

local function pack_fields(fields, t)
  local v = {}
  for i, f in ipairs(fields) do v[i] = t[f] end
  return cmsgpack.pack(unpack(v, 1, #fields))
end

local function unpack_fields(fields, raw)
  if is_json(raw) then
    local t = cjson.decode(raw)
    t.h = unhex(t.h)
    return t
  end
  local v, t = {cmsgpack.unpack(raw)}, {}
  for i, f in ipairs(fields) do t[f] = v[i] end
  return t
end

-- The session stored under `id`, or (`id` nil) a record that names its own.
local function decode_session(raw, id)
  local s = unpack_fields(SESSION_FIELDS, raw)
  s.id = id or s.id
  return s
end

-- Session `s`'s record: as stored, or `with_id` (a reply to Rust) naming its id.
local function encode_session(s, with_id)
  local id = s.id
  if not with_id then s.id = nil end
  local raw = pack_fields(SESSION_FIELDS, s)
  s.id = id
  return raw
end

local function decode_tombstone(raw)
  return unpack_fields(TOMBSTONE_FIELDS, raw)
end

local function encode_tombstone(t)
  return pack_fields(TOMBSTONE_FIELDS, t)
end

-- An eviction ticket (domain::PendingSignIn): the waiting session's record
-- with its id, then o, e, m, cl; was a JSON object with the session in `p`.
local function encode_ticket(t)
  return cmsgpack.pack(encode_session(t.p, true), t.o, t.e, t.m, t.cl)
end

local function decode_ticket(raw)
  if is_json(raw) then
    local t = cjson.decode(raw)
    t.p.h = unhex(t.p.h)
    return t
  end
  local p, o, e, m, cl = cmsgpack.unpack(raw)
  return {p = decode_session(p), o = o, e = e, m = m, cl = cl}
end

-- One audit entry (domain::AuditRecord's JSON) about session or attempt `s`;
-- `with_id` is false for an attempt that never became a session.
local function audit(kind, s, reason, by, now, with_id)
  local e = {at = now, k = kind, u = s.u, d = s.d, dc = s.dc, ip = s.ip, r = reason, by = by, i = AUDIT_INSTANCE}
  if with_id then e.id = s.id end
  local json = cjson.encode(e)
  if AUDIT_KEY then
    redis.call('XADD', AUDIT_KEY, 'MAXLEN', '~', AUDIT_CAP, '*', 'e', json)
  else
    table.insert(AUDIT, json)
  end
end

-- Every script answers {its reply, the audit entries left to append}.
local function finish(reply)
  return {reply, AUDIT}
end

-- domain::AuditKind::ended
local function ended_kind(reason)
  if reason == 'logout' then return 'signed_out' end
  if reason == 'expired' then return 'expired' end
  return 'revoked'
end

local function is_expired(s, now, idle)
  return now >= s.e or now >= s.l + idle
end

-- Keeps a key alive at least until `at` (ms), never shortening it: NX sets
-- the expiry of a key without one (so a fresh key costs one call), GT only
-- ever lengthens an existing one. True when the key had no expiry: every
-- key the scripts write gets one, so it was made in this call.
local function extend(key, at)
  if redis.call('PEXPIREAT', key, at, 'NX') == 1 then return true end
  redis.call('PEXPIREAT', key, at, 'GT')
  return false
end

local function forget(a, ids)
  if #ids > 0 then
    redis.call('HDEL', a.x, unpack(ids))
    redis.call('ZREM', a.e, unpack(ids))
  end
end

-- Forgets up to PRUNE_BATCH tombstones whose tokens would have expired.
local function prune_tombstones(a, now)
  forget(a, redis.call('ZRANGEBYSCORE', a.e, '-inf', now, 'LIMIT', 0, PRUNE_BATCH))
end

-- Replaces a session of account `a` by its tombstone, kept until the
-- session's absolute end and at least one idle timeout after now
-- (domain::Account::bury), and records the ending in the audit trail.
local function bury(a, s, reason, by, now, idle)
  local keep_until = math.max(s.e, now + idle)
  redis.call('HDEL', a.s, s.id)
  redis.call('HSET', a.x, s.id, encode_tombstone({h = s.h, r = reason, t = now, by = by, e = keep_until}))
  redis.call('ZADD', a.e, keep_until, s.id)
  extend(a.x, keep_until)
  -- A tombstone index made by this ZADD holds one entry: under the cap.
  if not extend(a.e, keep_until) then
    local excess = redis.call('ZCARD', a.e) - MAX_TOMBSTONES
    if excess > 0 then
      forget(a, redis.call('ZRANGE', a.e, 0, excess - 1))
    end
  end
  audit(ended_kind(reason), s, reason, by, now, true)
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

-- Account `a`'s live sessions oldest first, after ending (and announcing)
-- expired ones; the ended ones come back second (`prune.lua` counts them).
local function load_live(a, now, idle, channel)
  local flat = redis.call('HGETALL', a.s)
  local live, expired = {}, {}
  for i = 1, #flat, 2 do
    local s = decode_session(flat[i + 1], flat[i])
    if is_expired(s, now, idle) then
      bury(a, s, 'expired', nil, now, idle)
      table.insert(expired, s)
    else
      table.insert(live, s)
    end
  end
  publish_revoked(channel, expired, 'expired', nil, now)
  table.sort(live, by_age)
  return live, expired
end

-- Sessions as replies hand them to Rust: records with their ids.
local function encode_all(list)
  local out = {}
  for i, s in ipairs(list) do out[i] = encode_session(s, true) end
  return out
end

-- The first run's reply to this request on account `a`, if it ran within
-- the replay window (a MessagePack array; a JSON one, from before, starts
-- with '[').
local function replay(a)
  local raw = redis.call('GET', a.r)
  if not raw then return nil end
  if string.byte(raw, 1) == 91 then return cjson.decode(raw) end
  return cmsgpack.unpack(raw)
end

-- Keeps `reply` for re-runs of this request on account `a` for `window` ms,
-- and returns it.
local function remember(a, reply, window)
  redis.call('SET', a.r, cmsgpack.pack(reply), 'PX', window)
  return reply
end

-- Ends account `a`'s live sessions with id `id` ('' for all) and announces
-- them; returns them, oldest first.
local function end_sessions(a, live, id, reason, by, now, idle, channel)
  local ended = {}
  for _, s in ipairs(live) do
    if id == '' or s.id == id then
      bury(a, s, reason, by, now, idle)
      table.insert(ended, s)
    end
  end
  publish_revoked(channel, ended, reason, by, now)
  return ended
end
