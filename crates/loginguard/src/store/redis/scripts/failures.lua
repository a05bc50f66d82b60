-- Helpers of the failed-sign-in scripts; `scripts.rs` prepends this file to
-- failure_admit.lua and failure_settle.lua (not common.lua: one key, no
-- sessions). They mirror domain::FailureWindow field for field.
--   KEYS[1] the counter, a hash: w window start (ms), f failures,
--           p checks in flight, q checks carried from the window before,
--           qw that window's start
--   ARGV[1] now (ms)   ARGV[2] window length (ms)
local KEY = KEYS[1]
local NOW, WINDOW = tonumber(ARGV[1]), tonumber(ARGV[2])

-- The counter, rolled into a new window once the current one is over
-- (FailureWindow::roll): checks of the window just ended are carried,
-- older ones forgotten.
local function load_window()
  local v = redis.call('HMGET', KEY, 'w', 'f', 'p', 'q', 'qw')
  local c = {w = tonumber(v[1]) or 0, f = tonumber(v[2]) or 0, p = tonumber(v[3]) or 0,
             q = tonumber(v[4]) or 0, qw = tonumber(v[5]) or 0}
  if NOW >= c.w + WINDOW then
    if NOW < c.w + 2 * WINDOW then
      c.q, c.qw = c.p, c.w
    else
      c.q, c.qw = 0, 0
    end
    c.w, c.f, c.p = NOW, 0, 0
  end
  return c
end

-- The key outlives its window by one more, the longest a check is carried;
-- the window itself is judged on NOW, never on the TTL.
local function save_window(c)
  redis.call('HSET', KEY, 'w', c.w, 'f', c.f, 'p', c.p, 'q', c.q, 'qw', c.qw)
  redis.call('PEXPIRE', KEY, 2 * WINDOW)
end
