-- failure_settle: a check is done (FailureWindow::settle).
-- KEYS[1] the counter (see failures.lua)
-- ARGV[1] now (ms)   ARGV[2] window length (ms)
-- ARGV[3] the window the check was admitted in (ms)   ARGV[4] '1' when it failed, else '0'
-- Reply: an empty list
local window, failed = tonumber(ARGV[3]), ARGV[4] == '1'
local c = load_window()
if window == c.w then
  c.p = math.max(c.p - 1, 0)
elseif window == c.qw then
  c.q = math.max(c.q - 1, 0)
end
if failed then c.f = c.f + 1 end
save_window(c)
return {}
