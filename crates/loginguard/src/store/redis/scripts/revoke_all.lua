-- revoke_all: some accounts' part of signing everyone out: end their live
-- sessions created at or before `now` (later ones stay), with a reason.
-- KEYS: for each account, its three keys then the request's reply key on it
--       (see common.lua), four by four; one account on Redis Cluster (each
--       is in its own slot), a batch of them elsewhere
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)   ARGV[3] event channel
-- ARGV[4] reason     ARGV[5] replay window (ms)
-- ARGV[6], ARGV[7] and the last KEY: the audit trail (see common.lua)
-- Reply: {count of ended sessions, summed over the accounts}. Each account
-- keeps its own count for a re-run (a small reply key per account, not the
-- sessions), so a re-run answers alike however the accounts are batched.
local now, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local reason, window = ARGV[4], tonumber(ARGV[5])
local keys = #KEYS
if AUDIT_KEY then keys = keys - 1 end

local total = 0
for first = 1, keys, 4 do
  local a = account_at(first)
  local earlier = replay(a)
  if earlier then
    total = total + tonumber(earlier[1])
  else
    local before = {}
    for _, s in ipairs(load_live(a, now, idle, channel)) do
      if s.c <= now then table.insert(before, s) end
    end
    local ended = end_sessions(a, before, '', reason, nil, now, idle, channel)
    remember(a, {tostring(#ended)}, window)
    total = total + #ended
  end
end
return finish({tostring(total)})
