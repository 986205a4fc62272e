-- Check every rate limit of one request in one round trip, and return what the headers need.
--
-- The storage layout is exactly that of the `limits` library's Redis storage (a counter per key
-- for fixed window, a list of timestamps for moving window, a current/previous counter pair for
-- the sliding-window counter), so the library's own strategies can still read, test and clear
-- the same keys.
--
-- ARGV[1]  strategy: fixed-window | moving-window | sliding-window-counter
-- ARGV[2]  now, in seconds (the caller's clock, as `limits` uses it)
-- ARGV[3]  1 to stop after the first denial (Flask-Limiter's fail_on_first_breach), else 0
-- then four per limit: amount, expiry in seconds, cost, 1 to consume (hit) or 0 to only test
-- KEYS     one per limit; two (previous, current) for the sliding-window counter
--
-- Returns three values per limit: status (1 allowed, 0 denied, -1 not evaluated because an
-- earlier limit was denied), remaining, and milliseconds until the window resets; or -2, the
-- error text and 0 when a command on that limit's keys failed (WRONGTYPE: a key of another
-- type under our name). One broken key must not take the request's other limits with it, so
-- the error is caught per limit and the caller decides (READONLY and OOM mean the whole node
-- cannot serve; the caller treats those as an outage).

local strategy = ARGV[1]
local now_text = ARGV[2]
local now = tonumber(now_text)
local stop_on_denial = ARGV[3] == '1'

local function fixed_window(key, amount, expiry, cost, consume)
    local count, allowed
    if consume then
        count = redis.call('incrby', key, cost)
        if count == cost then
            redis.call('expire', key, expiry)
        end
        allowed = count <= amount
    else
        count = tonumber(redis.call('get', key) or '0')
        allowed = count + cost <= amount
    end
    local ttl = redis.call('pttl', key)
    if ttl < 0 then
        ttl = 0
    end
    return allowed, math.max(0, amount - count), ttl
end

-- Entries newer than the window start, by binary search over the newest-first list.
local function moving_window_count(key, amount, expiry)
    local target = now - expiry
    -- bounded by the list length: with a large limit most of the list is not there yet
    local low, high = 0, math.min(amount, redis.call('llen', key)) - 1
    local found, oldest = nil, nil
    while low <= high do
        local mid = math.floor((low + high) / 2)
        local value = tonumber(redis.call('lindex', key, mid))
        if value and value >= target then
            found, oldest = mid, value
            low = mid + 1
        else
            high = mid - 1
        end
    end
    if found == nil then
        return 0, expiry * 1000
    end
    return found + 1, math.floor((oldest + expiry - now) * 1000)
end

local function moving_window(key, amount, expiry, cost, consume)
    local allowed
    if consume then
        allowed = cost <= amount
        if allowed then
            local entry = tonumber(redis.call('lindex', key, amount - cost))
            if entry and entry >= now - expiry then
                allowed = false
            end
        end
        if allowed then
            local entries = {}
            for i = 1, cost do
                entries[i] = now_text
            end
            for i = 1, #entries, 5000 do
                redis.call('lpush', key, unpack(entries, i, math.min(i + 4999, #entries)))
            end
            redis.call('ltrim', key, 0, amount - 1)
            redis.call('expire', key, expiry)
        end
    end
    local count, reset = moving_window_count(key, amount, expiry)
    if not consume then
        allowed = count <= amount - cost
    end
    return allowed, amount - count, reset
end

local function sliding_window(previous_key, current_key, amount, expiry_seconds, cost, consume)
    local expiry = expiry_seconds * 1000
    local current_ttl = tonumber(redis.call('pttl', current_key))
    if current_ttl > 0 and current_ttl < expiry then
        redis.call('rename', current_key, previous_key)
        redis.call('set', current_key, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous_key)) or 0
    local previous_ttl = math.max(0, tonumber(redis.call('pttl', previous_key)) or 0)
    local current_count = tonumber(redis.call('get', current_key)) or 0
    current_ttl = math.max(0, tonumber(redis.call('pttl', current_key)) or 0)
    local weighted = previous_count * previous_ttl / expiry + current_count
    local allowed
    if consume then
        allowed = cost <= amount and math.floor(previous_count * previous_ttl / expiry)
            + current_count + cost <= amount
        if allowed then
            if redis.call('exists', current_key) == 1 then
                redis.call('incrby', current_key, cost)
            else
                redis.call('set', current_key, cost, 'PX', expiry * 2)
                current_ttl = expiry * 2
            end
            current_count = current_count + cost
            weighted = weighted + cost
        end
    else
        allowed = weighted < amount - cost + 1
    end
    local reset = 0
    if previous_count > 0 or current_count > 0 then
        reset = math.huge
        if previous_count > 0 then
            reset = math.fmod(previous_ttl, expiry / previous_count)
        end
        if current_count > 0 then
            reset = math.min(reset, math.fmod(current_ttl, expiry))
        end
    end
    return allowed, math.max(0, amount - math.floor(weighted)), math.floor(reset)
end

local result = {}
local key_index = 1
local stopped = false
local limits = (#ARGV - 3) / 4
for i = 0, limits - 1 do
    local base = 4 + i * 4
    local amount = tonumber(ARGV[base])
    local expiry = tonumber(ARGV[base + 1])
    local cost = tonumber(ARGV[base + 2])
    local consume = ARGV[base + 3] == '1'
    local ok, allowed, remaining, reset
    if stopped then
        result[#result + 1] = -1
        result[#result + 1] = 0
        result[#result + 1] = 0
    else
        if strategy == 'fixed-window' then
            ok, allowed, remaining, reset = pcall(
                fixed_window, KEYS[key_index], amount, expiry, cost, consume
            )
        elseif strategy == 'moving-window' then
            ok, allowed, remaining, reset = pcall(
                moving_window, KEYS[key_index], amount, expiry, cost, consume
            )
        else
            ok, allowed, remaining, reset = pcall(
                sliding_window, KEYS[key_index], KEYS[key_index + 1], amount, expiry, cost, consume
            )
        end
        if ok then
            result[#result + 1] = allowed and 1 or 0
            result[#result + 1] = remaining
            result[#result + 1] = reset
            if stop_on_denial and not allowed then
                stopped = true
            end
        else
            -- the error is a string, or a table with `err` when Redis raised it as a reply
            result[#result + 1] = -2
            result[#result + 1] = type(allowed) == 'table' and tostring(allowed.err)
                or tostring(allowed)
            result[#result + 1] = 0
        end
    end
    key_index = key_index + (strategy == 'sliding-window-counter' and 2 or 1)
end
return result
