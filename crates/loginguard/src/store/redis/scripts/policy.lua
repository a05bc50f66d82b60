-- domain::policy::decide_choosing, shared by sign_in.lua and redeem.lua
-- (scripts.rs puts it after common.lua). `live` is oldest first; `p` is
-- {max =, on_limit =, class_limits = {class = n}, stale_after = ms or 0};
-- `chosen` is a session id (a ticket's redemption) or nil. Returns
--   'replace', <the live session of the same device>
--   'admit',   <the sessions to sign out, oldest first>
--   'deny',    <the sessions whose removal would make room>
-- and `admit`, which carries out a 'replace' or 'admit' verdict, and
-- `overridden`, which lays the account's runtime override over a policy.

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

-- `p` with the fields of the override kept at `key` (domain::PolicyOverride
-- JSON, under the account's hash tag) replaced; `p` itself without one.
local function overridden(p, key)
  local raw = redis.call('GET', key)
  if not raw then return p end
  local o = cjson.decode(raw)
  if o.max_sessions then p.max = math.max(1, o.max_sessions) end
  if o.on_limit then p.on_limit = o.on_limit end
  if o.class_limits then p.class_limits = o.class_limits end
  return p
end

local function decide(live, new, p, now, chosen)
  if new.di then
    for _, s in ipairs(live) do
      if s.di == new.di then return 'replace', s end
    end
  end
  local class = class_of(new)
  local class_limit = p.class_limits[class]
  local in_class = {}
  for i, s in ipairs(live) do
    if class_of(s) == class then table.insert(in_class, i) end
  end

  -- Room::make: oldest first, only among those may_go allows, of the class
  -- down to room for one, then of all down to room for one; nil if short.
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
    local need, taken = math.max(0, #live - count + 1 - p.max), 0
    for i = 1, #live do
      if taken == need then break end
      if not gone[i] and may_go(i) then gone[i] = true; taken = taken + 1 end
    end
    if taken < need then return nil end
    return gone
  end

  local gone
  if chosen then
    gone = make_room(function(i) return live[i].id == chosen end)
  elseif p.on_limit == 'kick_oldest' then
    gone = make_room(function() return true end)
  else
    gone = make_room(function(i)
      return p.stale_after > 0 and now - live[i].l >= p.stale_after
    end)
  end
  if gone == nil then
    local blocking = live
    if class_limit ~= nil and #in_class >= class_limit then
      blocking = {}
      for _, i in ipairs(in_class) do table.insert(blocking, live[i]) end
    end
    return 'deny', blocking
  end
  local evict = {}
  for i, s in ipairs(live) do
    if gone[i] then table.insert(evict, s) end
  end
  return 'admit', evict
end

-- Carries out, on account `a`, a 'replace' or 'admit' verdict for `new`:
-- buries the losers, stores the new session, publishes `signed_in` and
-- audits it. Returns the evicted sessions and the replaced one (or nil).
local function admit(a, verdict, which, new, by, now, idle, channel)
  local evicted, replaced = {}, nil
  if verdict == 'replace' then
    replaced = which
    bury(a, replaced, 'replaced', by, now, idle)
  else
    evicted = which
    for _, s in ipairs(evicted) do bury(a, s, 'duplicate_login', by, now, idle) end
  end
  redis.call('HSET', a.s, new.id, encode_session(new))
  -- One idle timeout past the absolute end: a key Redis drops by itself tells
  -- nobody, so the step that finds the session expired must still see it, to
  -- leave its tombstone and push `expired` to its sockets.
  extend(a.s, new.e + idle)

  local ids = {}
  for i, s in ipairs(evicted) do ids[i] = s.id end
  local event = {k = 'signed_in', u = new.u, id = new.id, by = by}
  if #ids > 0 then event.revoked = ids end
  if replaced then event.rp = replaced.id end
  redis.call('PUBLISH', channel, cjson.encode(event))
  audit('signed_in', new, nil, nil, now, true)
  return evicted, replaced
end
