"""The Lua script behind ``RedisBreakerStore``: every read-modify-write of a shared breaker.

Also its two ends in Python: ``config_args`` encodes a ``BreakerConfig`` as arguments once,
``Reply.parse`` decodes an answer.

One script with an ``op`` argument, so a breaker needs one SHA and every operation is one atomic
EVALSHA: ``acquire`` (flush a batch, move OPEN to HALF_OPEN when due, reserve a probe),
``flush`` (count a batch and judge the window), ``probe`` (a probe's outcome decides close or
re-open), ``transition`` (a manual move) and ``snapshot`` (read only).

Unlike the in-memory store, a probe can die with its process; so when every probe slot has been
taken for ``reset_timeout`` seconds without all results coming back, ``acquire`` frees the
outstanding slots again (a lease), and a crashed worker cannot wedge the fleet in HALF_OPEN.

It ports ``MemoryBreakerStore``'s rules line for line (same thresholds, same reasons), so a
breaker behaves the same whichever store holds it.

Keys (one hash tag, so Redis Cluster keeps them in one slot): ``KEYS[1]`` the state hash,
``KEYS[2]`` the window (a string ring of outcome characters for a count window, a hash of
per-slice counters for a time window, ten slices as ``TimeWindow``).

ARGV: 1 op, 2 now (seconds; empty = Redis ``TIME``), 3 the caller's generation (empty = any),
4 payload (outcome characters ``'0'``-``'3'``, or a target state), 5 reason, 6-14 the config:
window kind, window size, minimum calls, failure rate (empty = off), consecutive failures
(empty = off), slow calls on (``'1'``/``'0'``), slow-call rate, half-open probes, reset timeout.

Reply: state, generation, seconds of open time left, probe granted (0/1), moved by this call
(0/1), reason of the last move, calls, failures, slow calls, consecutive failures.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .store import BreakerConfig, BreakerState

_STATES = {state.value: state for state in BreakerState}

BREAKER_LUA = r"""
local K, W = KEYS[1], KEYS[2]
local op = ARGV[1]
local now = tonumber(ARGV[2])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local cfg = {
  window = ARGV[6], size = tonumber(ARGV[7]), min_calls = tonumber(ARGV[8]),
  rate = tonumber(ARGV[9]), threshold = tonumber(ARGV[10]), slow = ARGV[11] == '1',
  slow_rate = tonumber(ARGV[12]), probes = tonumber(ARGV[13]), reset = tonumber(ARGV[14]),
}
local BUCKETS = 10

local raw = redis.call('HGETALL', K)
local s = {state = 'closed', gen = 0, open_until = 0, consecutive = 0, calls = 0,
  failures = 0, slow = 0, idx = 0, issued = 0, done = 0, pfail = 0, pslow = 0, probe_at = 0,
  reason = ''}
for i = 1, #raw, 2 do
  local v = raw[i + 1]
  if raw[i] == 'state' or raw[i] == 'reason' then s[raw[i]] = v else s[raw[i]] = tonumber(v) end
end
local dirty, moved = false, 0

local function tally(chars)
  local f, sl = 0, 0
  for i = 1, #chars do
    local v = string.byte(chars, i) - 48
    f = f + v % 2
    sl = sl + math.floor(v / 2) % 2
  end
  return f, sl
end

local function pct(x) return string.format('%.0f%%', x * 100) end

local function move(target, reason)
  s.state, s.reason, s.gen, moved, dirty = target, reason, s.gen + 1, 1, true
  s.issued, s.done, s.pfail, s.pslow = 0, 0, 0, 0
  if target == 'open' then s.open_until = now + cfg.reset end
  if target == 'closed' then
    redis.call('DEL', W)
    s.calls, s.failures, s.slow, s.idx, s.consecutive = 0, 0, 0, 0, 0
  end
end

local function add_count(chars)
  local size, n = cfg.size, #chars
  if n > size then chars, n = string.sub(chars, n - size + 1), size end
  local m1 = math.min(n, size - s.idx)
  local f, sl
  if s.calls == size then
    f, sl = tally(redis.call('GETRANGE', W, s.idx, s.idx + m1 - 1))
    s.failures, s.slow = s.failures - f, s.slow - sl
  end
  redis.call('SETRANGE', W, s.idx, string.sub(chars, 1, m1))
  if n > m1 then
    f, sl = tally(redis.call('GETRANGE', W, 0, n - m1 - 1))
    s.failures, s.slow = s.failures - f, s.slow - sl
    redis.call('SETRANGE', W, 0, string.sub(chars, m1 + 1))
  end
  f, sl = tally(chars)
  s.failures, s.slow = s.failures + f, s.slow + sl
  s.calls = math.min(size, s.calls + n)
  s.idx = (s.idx + n) % size
end

local function epoch_of(t) return math.floor(t / (cfg.size / BUCKETS)) end

local function add_time(chars)
  local e = epoch_of(now)
  local f, sl = tally(chars)
  redis.call('HINCRBY', W, 'c:' .. e, #chars)
  if f > 0 then redis.call('HINCRBY', W, 'f:' .. e, f) end
  if sl > 0 then redis.call('HINCRBY', W, 's:' .. e, sl) end
end

local function totals()
  if cfg.window == 'count' then return s.calls, s.failures, s.slow end
  local oldest = epoch_of(now) - BUCKETS + 1
  local sums = {c = 0, f = 0, s = 0}
  local fields = redis.call('HGETALL', W)
  for i = 1, #fields, 2 do
    local kind, e = string.sub(fields[i], 1, 1), tonumber(string.sub(fields[i], 3))
    if e < oldest then redis.call('HDEL', W, fields[i])
    else sums[kind] = sums[kind] + tonumber(fields[i + 1]) end
  end
  return sums.c, sums.f, sums.s
end

local function trip_reason(peak)
  if cfg.threshold and peak >= cfg.threshold then return peak .. ' consecutive failures' end
  local calls, failures, slow = totals()
  if calls < cfg.min_calls then return nil end
  if cfg.rate and failures > 0 and failures / calls >= cfg.rate then
    return 'failure rate ' .. pct(failures / calls) .. ' >= ' .. pct(cfg.rate)
      .. ' over ' .. calls .. ' calls'
  end
  if cfg.slow and slow > 0 and slow / calls >= cfg.slow_rate then
    return 'slow call rate ' .. pct(slow / calls) .. ' over ' .. calls .. ' calls'
  end
  return nil
end

local function flush(chars)
  if #chars == 0 or s.state ~= 'closed' then return end
  if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= s.gen then return end
  dirty = true
  local peak = 0
  for i = 1, #chars do
    if (string.byte(chars, i) - 48) % 2 == 1 then s.consecutive = s.consecutive + 1
    else s.consecutive = 0 end
    if s.consecutive > peak then peak = s.consecutive end
  end
  if cfg.window == 'count' then add_count(chars) else add_time(chars) end
  local reason = trip_reason(peak)
  if reason then move('open', reason) end
end

local function record_probe(outcome)
  if s.state ~= 'half_open' or tonumber(ARGV[3]) ~= s.gen then return end
  dirty = true
  if outcome >= 4 then s.issued = math.max(0, s.issued - 1) return end
  local limit = cfg.probes
  s.done, s.pfail, s.pslow = s.done + 1, s.pfail + outcome % 2, s.pslow + math.floor(outcome / 2)
  if s.pfail > 0 and (cfg.rate == nil or s.pfail / limit >= cfg.rate) then
    move('open', s.pfail .. ' of ' .. limit .. ' probes failed')
  elseif cfg.slow and s.pslow / limit >= cfg.slow_rate then
    move('open', s.pslow .. ' of ' .. limit .. ' probes were slow')
  elseif s.done >= limit then
    move('closed', limit .. ' probe(s) succeeded')
  end
end

local probe = 0
if op == 'acquire' then
  flush(ARGV[4])
  if s.state == 'open' and now >= s.open_until then move('half_open', 'reset timeout elapsed') end
  if s.state == 'half_open' and s.issued >= cfg.probes and now - s.probe_at >= cfg.reset then
    s.issued, dirty = s.done, true -- outstanding probes died with their process: lease expired
  end
  if s.state == 'half_open' and s.issued < cfg.probes then
    s.issued, s.probe_at, probe, dirty = s.issued + 1, now, 1, true
  end
elseif op == 'flush' then
  flush(ARGV[4])
elseif op == 'probe' then
  record_probe(tonumber(ARGV[4]))
elseif op == 'transition' then
  if ARGV[4] ~= s.state then move(ARGV[4], ARGV[5]) end
end

if dirty then
  redis.call('HSET', K, 'state', s.state, 'gen', s.gen,
    'open_until', string.format('%.6f', s.open_until), 'consecutive', s.consecutive,
    'calls', s.calls, 'failures', s.failures, 'slow', s.slow, 'idx', s.idx,
    'issued', s.issued, 'done', s.done, 'pfail', s.pfail, 'pslow', s.pslow,
    'probe_at', string.format('%.6f', s.probe_at), 'reason', s.reason)
end
local remaining = 0
if s.state == 'open' then remaining = math.max(0, s.open_until - now) end
local calls, failures, slow = totals()
return {s.state, s.gen, string.format('%.6f', remaining), probe, moved, s.reason,
  calls, failures, slow, s.consecutive}
"""


class Reply(NamedTuple):
    """The script's answer, decoded (the module docstring gives the order)."""

    state: BreakerState
    gen: int
    remaining: float
    probe: bool
    moved: bool
    reason: str
    calls: int
    failures: int
    slow: int
    consecutive: int

    @classmethod
    def parse(cls, raw: list[Any]) -> Reply:
        state, gen, remaining, probe, moved, reason, calls, failures, slow, consecutive = raw
        return cls(
            _STATES[_text(state)],
            int(gen),
            float(_text(remaining)),
            probe == 1,
            moved == 1,
            _text(reason),
            int(calls),
            int(failures),
            int(slow),
            int(consecutive),
        )


def _text(value: bytes | str) -> str:
    """Replies are bytes or str depending on the client's ``decode_responses``."""
    return value.decode() if isinstance(value, bytes) else value


def config_args(config: BreakerConfig) -> tuple[str, ...]:
    """The breaker's rules as script arguments (ARGV 6-14), computed once per store."""

    def optional(value: float | None) -> str:
        return "" if value is None else repr(value)

    size = int(config.window_size) if config.window == "count" else config.window_size
    return (
        config.window,
        repr(size),
        str(config.minimum_calls),
        optional(config.failure_rate_threshold),
        optional(config.failure_threshold),
        "0" if config.slow_call_threshold is None else "1",
        repr(config.slow_call_rate_threshold),
        str(config.half_open_max_calls),
        repr(config.reset_timeout),
    )
