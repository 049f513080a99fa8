/**
 * Lua scripts: every state change of a session record is one atomic script. A finished
 * record is never made live again, whatever order the writes arrive in.
 */

/**
 * openSession — create or refresh a live session record.
 * KEYS[1] session hash, KEYS[2] live set, KEYS[3] owner's session set
 * ARGV[1] session id, ARGV[2..] field/value pairs
 * Returns 1 when the record is live, 0 when it had already finished (left untouched).
 */
export const OPEN_SESSION = `
if redis.call('HGET', KEYS[1], 'state') == 'finished' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
`;

/**
 * updateSession — change fields of a live record (state, activity, counters).
 * KEYS[1] session hash
 * ARGV field/value pairs
 * Returns 1 when updated, 0 when the record is missing or finished (nothing written).
 */
export const UPDATE_SESSION = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'finished' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/**
 * finishSession — finalise a record: state finished, out of the live sets, into history,
 * expiry set to the retention; trims history by age and by size.
 * KEYS[1] session hash, KEYS[2] live set, KEYS[3] owner's session set, KEYS[4] history zset
 * ARGV[1] session id, ARGV[2] finish time (ms), ARGV[3] retention (ms), ARGV[4] history max,
 * ARGV[5] session key prefix (same hash tag), ARGV[6..] field/value pairs (full record)
 * Returns 1 when finished now, 0 when it already was (a duplicate finish changes nothing).
 */
export const FINISH_SESSION = `
if redis.call('HGET', KEYS[1], 'state') == 'finished' then return 0 end
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
redis.call('HSET', KEYS[1], 'state', 'finished', 'finish', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
local cutoff = tonumber(ARGV[2]) - tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. cutoff)
local excess = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[4])
if excess > 0 then
  local old = redis.call('ZRANGE', KEYS[4], 0, excess - 1)
  for _, id in ipairs(old) do redis.call('DEL', ARGV[5] .. id) end
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, excess - 1)
end
return 1
`;
