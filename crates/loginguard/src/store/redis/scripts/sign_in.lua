-- sign_in: admit a new session under the policy, as one atomic step.
-- KEYS: the account's three keys, then the request's reply key (see common.lua)
-- ARGV[1] now (ms)            ARGV[2] the new session's JSON
-- ARGV[3] max_sessions        ARGV[4] on_limit: kick_oldest | deny_new
-- ARGV[5] idle timeout (ms)   ARGV[6] event channel
-- ARGV[7] replay window (ms)   ARGV[8] class limits, a JSON object ({"web":1})
-- ARGV[9] stale after (ms; 0 = off): under deny_new, sessions unused this
--         long may be signed out to make room
-- Reply: {'created', <replaced session JSON or ''>, <evicted session JSON>...}
-- or {'denied', <live session JSON>...};
-- a re-run of the same request (same new session id) gets the first run's
-- reply, or {'undone', ...} once undo_sign_in gave the request up.
local earlier = replay()
if earlier then return earlier end

local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[5]), ARGV[6]
local new = cjson.decode(ARGV[2])
local max = math.max(1, tonumber(ARGV[3]))
local class_limits = cjson.decode(ARGV[8])
local stale_after = tonumber(ARGV[9])

-- domain::DeviceClass's User-Agent words, for records stored before classes
-- existed (Session::class).
local MOBILE_MARKERS = {'Mobile', 'Android', 'iPhone', 'iPad', 'iPod', 'Tablet',
  'Windows Phone', 'Opera Mini', 'Kindle'}
local function class_of(s)
  if s.dc then return s.dc end
  for _, m in ipairs(MOBILE_MARKERS) do
    if string.find(s.ua or '', m, 1, true) then return 'mobile' end
  end
  return 'web'
end

prune_tombstones(now)
local live = load_live(now, idle, channel)
local by = {d = new.d, ip = new.ip, at = now}

-- domain::policy::decide, in its order: the same device replaces itself
-- first, touching nothing else and needing no room.
local replaced = nil
if new.di then
  for _, s in ipairs(live) do
    if s.di == new.di then replaced = s; break end
  end
end

-- Otherwise room in the new session's class (when it has a limit) and in
-- the total; live is oldest first.
local class = class_of(new)
local class_limit = class_limits[class]
local in_class = {}
for i, s in ipairs(live) do
  if class_of(s) == class then table.insert(in_class, i) end
end
local class_full = class_limit ~= nil and #in_class >= class_limit

-- domain::policy::Room::make: the sessions to sign out, oldest first, taken
-- only among those may_go allows: of the class down to room for one, then
-- of all down to room for one. nil when they cannot make room.
local function make_room(may_go)
  local gone, count = {}, 0
  if class_limit ~= nil then
    local need = math.max(0, #in_class + 1 - class_limit)
    for _, i in ipairs(in_class) do
      if count == need then break end
      if may_go(i) then gone[i] = true; count = count + 1 end
    end
    if count < need then return nil end
  end
  local need, taken = math.max(0, #live - count + 1 - max), 0
  for i = 1, #live do
    if taken == need then break end
    if not gone[i] and may_go(i) then gone[i] = true; taken = taken + 1 end
  end
  if taken < need then return nil end
  return gone
end

local gone = nil
if not replaced then
  if ARGV[4] == 'deny_new' then
    gone = make_room(function(i)
      return stale_after > 0 and now - live[i].l >= stale_after
    end)
  else
    gone = make_room(function() return true end)
  end
end

local evicted = {}
if replaced then
  bury(replaced, 'replaced', by, now, idle)
elseif gone == nil then
  redis.call('PUBLISH', channel, cjson.encode({k = 'login_blocked', u = new.u, by = by}))
  local blocking = live
  if class_full then
    blocking = {}
    for _, i in ipairs(in_class) do table.insert(blocking, live[i]) end
  end
  local reply = encode_all(blocking)
  table.insert(reply, 1, 'denied')
  return remember(reply, tonumber(ARGV[7]))
else
  for i, s in ipairs(live) do
    if gone[i] then
      bury(s, 'duplicate_login', by, now, idle)
      table.insert(evicted, s)
    end
  end
end

redis.call('HSET', SKEY, new.id, ARGV[2])
-- One idle timeout past the absolute end: a key Redis drops by itself tells
-- nobody, so the step that finds the session expired must still see it, to
-- leave its tombstone and push `expired` to its sockets.
extend(SKEY, new.e + idle)

local ids = {}
for i, s in ipairs(evicted) do ids[i] = s.id end
local event = {k = 'signed_in', u = new.u, id = new.id, by = by}
if #ids > 0 then event.revoked = ids end
if replaced then event.rp = replaced.id end
redis.call('PUBLISH', channel, cjson.encode(event))

local reply = encode_all(evicted)
table.insert(reply, 1, replaced and cjson.encode(replaced) or '')
table.insert(reply, 1, 'created')
return remember(reply, tonumber(ARGV[7]))
