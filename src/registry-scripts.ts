/**
 * Lua scripts: every state change of a session record is one atomic script. A finished
 * record is never made live again, whatever order the writes arrive in.
 */

/** Shared Lua: drop history entries past the retention, then the oldest beyond the bound. */
const TRIM_HISTORY = `
local function trimHistory(history, now, retention, max, sessionPrefix)
  redis.call('ZREMRANGEBYSCORE', history, '-inf', '(' .. (now - retention))
  local excess = redis.call('ZCARD', history) - max
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', history, 0, excess - 1)) do redis.call('DEL', sessionPrefix .. id) end
    redis.call('ZREMRANGEBYRANK', history, 0, excess - 1)
  end
end
`;

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
export const FINISH_SESSION = `${TRIM_HISTORY}
if redis.call('HGET', KEYS[1], 'state') == 'finished' then return 0 end
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
redis.call('HSET', KEYS[1], 'state', 'finished', 'finish', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
trimHistory(KEYS[4], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5])
return 1
`;

/**
 * reapInstance — finalise every live session of an instance whose lease is gone.
 * KEYS[1] the instance's session set, KEYS[2] live set, KEYS[3] history zset, KEYS[4] its lease
 * ARGV[1] now (ms), ARGV[2] retention (ms), ARGV[3] history max, ARGV[4] session key prefix,
 * ARGV[5] reason, ARGV[6] "force" to reap even if the lease exists (a restarted instance
 * clearing what its previous process left)
 * Returns the ids finalised; nothing at all if the lease exists and force was not given, so
 * an instance that heartbeats in the meantime is never reaped.
 */
export const REAP_INSTANCE = `${TRIM_HISTORY}
if ARGV[6] ~= 'force' and redis.call('EXISTS', KEYS[4]) == 1 then return {} end
local reaped = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[4] .. id
  local state = redis.call('HGET', key, 'state')
  if state and state ~= 'finished' then
    redis.call('HSET', key, 'state', 'finished', 'finish', ARGV[1], 'reason', ARGV[5])
    redis.call('PEXPIRE', key, ARGV[2])
    redis.call('ZADD', KEYS[3], ARGV[1], id)
    reaped[#reaped + 1] = id
  end
  redis.call('SREM', KEYS[2], id)
end
redis.call('DEL', KEYS[1])
trimHistory(KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
return reaped
`;

/**
 * acquireLock — take or renew a lock held by one owner (the fleet's single reaper).
 * KEYS[1] lock key; ARGV[1] owner id, ARGV[2] ttl (ms)
 * Returns 1 if ARGV[1] holds the lock now, 0 otherwise.
 */
export const ACQUIRE_LOCK = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
`;

/**
 * attachToSession — add audit references (recording file and hashes) to a record in any
 * state; unlike updateSession it also writes to finished records, but never creates one or
 * touches their state.
 * KEYS[1] session hash; ARGV field/value pairs
 * Returns 1 when written, 0 when the record does not exist.
 */
export const ATTACH_TO_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;
