-- failure_admit: may one more password be checked? (FailureWindow::admit)
-- KEYS[1] the counter (see failures.lua)
-- ARGV[1] now (ms)   ARGV[2] window length (ms)   ARGV[3] failures allowed per window
-- Reply: {'admitted', <window start>} | {'wait'} | {'refused', <ms until the window ends>}
local limit = tonumber(ARGV[3])
local c = load_window()
if c.f >= limit then
  save_window(c)
  return {'refused', tostring(math.max(c.w + WINDOW - NOW, 1))}
end
if c.f + c.p + c.q >= limit then
  save_window(c)
  return {'wait'}
end
c.p = c.p + 1
save_window(c)
return {'admitted', tostring(c.w)}
