"""A per-channel cap on concurrent publishes, shared by every worker process
(the key names the channel: ``pagesite:slots:channel-<id>``).

A Redis sorted set holds one lease per publish in flight, scored by its expiry,
so a worker killed mid-publish frees its slot when the lease runs out, or
sooner: each lease names its holder, and the reconciler frees the leases of
workers whose heartbeat is gone.
"""

import time
import uuid

ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[3])
  return 1
end
return 0
"""


class ProviderSlots:
    def __init__(self, connection, provider, limit, lease_seconds):
        self.connection = connection
        self.key = f"pagesite:slots:{provider}"
        self.limit = limit
        self.lease_seconds = lease_seconds
        self._acquire = connection.register_script(ACQUIRE)

    def acquire(self, wait_seconds, holder=""):
        """A lease token, or None if no slot came free within ``wait_seconds``."""
        token = f"{holder}|{uuid.uuid4().hex}"
        deadline = time.monotonic() + wait_seconds
        delay = 0.01
        while True:
            if self._acquire(keys=[self.key], args=[self.limit, self.lease_seconds, token]):
                return token
            if time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def release(self, token):
        self.connection.zrem(self.key, token)

    def in_use(self):
        return self.connection.zcount(self.key, time.time(), "+inf")


def free_dead_holders(connection, is_dead, lease_seconds, settled_seconds):
    """Release every channel's leases whose holder ``is_dead``; returns how many.

    A lease taken within ``settled_seconds`` is kept whatever ``is_dead`` says:
    its holder was alive to take it, and after a Redis wipe a live worker has
    no heartbeat mark until its next beat (freeing its lease then would let one
    call more than the cap start)."""
    seconds, micros = connection.time()
    taken_before = seconds + micros / 1_000_000 - settled_seconds
    freed = 0
    for key in connection.scan_iter("pagesite:slots:*"):
        for token, expires in connection.zrange(key, 0, -1, withscores=True):
            holder = token.decode().rpartition("|")[0]
            if holder and expires - lease_seconds <= taken_before and is_dead(holder):
                freed += connection.zrem(key, token)
    return freed
