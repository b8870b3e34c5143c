-- Applies one batch to one shard together with the shard's watermark, atomically.
-- KEYS[1]: the watermark; KEYS[2..]: the keys written, in the order of their ops.
-- ARGV[1]: the watermark this batch was planned against ('0' for none);
-- ARGV[2]: the new watermark; then per op, in KEYS order:
--   'h', expire_at, n, then n pairs of (field, increment)   (a hash; one key)
--   'p', expire_at, n, then n members                       (a HyperLogLog; one key)
--   'o', expire_at, n, then n pairs of (member, field)      (two keys: a hash and the
--        set of members it has counted; the field gets 1 only for a member new to it)
-- Returns {1, new watermark}, or {0, found watermark} when the watermark is not the
-- one planned against (another writer, or a retry of a batch that already landed):
-- then nothing is written.
local current = redis.call('GET', KEYS[1]) or '0'
if current ~= ARGV[1] then
  return {0, current}
end
local a = 3
local k = 2
while k <= #KEYS do
  local key, op, expire_at, n = KEYS[k], ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  if op == 'h' then
    for i = a, a + 2 * n - 1, 2 do
      redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1])
    end
    a = a + 2 * n
  elseif op == 'o' then
    local seen = KEYS[k + 1]
    for i = a, a + 2 * n - 1, 2 do
      if redis.call('SADD', seen, ARGV[i]) == 1 then
        redis.call('HINCRBY', key, ARGV[i + 1], 1)
      end
    end
    a = a + 2 * n
    redis.call('EXPIREAT', seen, expire_at)
    k = k + 1
  else
    -- unpack() is bounded by the Lua stack: add members a thousand at a time.
    local last = a + n - 1
    while a <= last do
      local upto = math.min(a + 999, last)
      redis.call('PFADD', key, unpack(ARGV, a, upto))
      a = upto + 1
    end
  end
  -- A hash whose 'o' pairs were all counted before may not exist: EXPIREAT is then a no-op.
  redis.call('EXPIREAT', key, expire_at)
  k = k + 1
end
redis.call('SET', KEYS[1], ARGV[2])
return {1, ARGV[2]}
