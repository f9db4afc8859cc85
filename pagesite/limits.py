"""What limits concurrent publishes, across every process: a per-channel cap
(the key names the channel: ``pagesite:slots:channel-<id>``), and one call at a
time per schedule (``LateCalls``).

A Redis sorted set holds one lease per publish in flight, scored by its expiry,
so a worker killed mid-publish frees its slot when the lease runs out, or
sooner: each lease names its holder, and the reconciler frees the leases of
workers whose heartbeat is gone.
"""

import os
import threading
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


class ChannelSlots:
    """The publishes in flight on one channel (an account), at most ``limit`` across every process."""

    def __init__(self, connection, channel_id, limit, lease_seconds):
        self.connection = connection
        self.key = f"pagesite:slots:channel-{channel_id}"
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


class LateCalls:
    """Provider calls of this process that outlived their timeout and still run.

    Their attempt was recorded as of unknown outcome and its retry planned,
    but the call itself goes on in its thread until the network answers or its
    own timeout ends it. While it does, ``pagesite:late-call:<schedule>`` says
    so in Redis, for every process: a retry that finds it waits instead of
    calling beside it. The mark expires a heartbeat TTL after this process
    last renewed it, so one that dies with a late call frees its retry then.
    """

    PREFIX = "pagesite:late-call:"

    def __init__(self):
        self._lock = threading.Lock()
        self._held = {}  # key -> (connection, ttl)
        self._thread = None
        self._pid = None

    def hold(self, connection, schedule_id, ttl, every):
        """Mark ``schedule_id``'s call as running until the returned hold is released."""
        key = f"{self.PREFIX}{schedule_id}"
        token = uuid.uuid4().hex
        connection.set(key, token, px=int(ttl * 1000))
        with self._lock:
            self._held[key] = (connection, ttl, token)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._renew, args=(every,), daemon=True,
                                                name="late-calls")
                self._thread.start()
        return _LateHold(self, key, token)

    def _release(self, key, token):
        with self._lock:
            held = self._held.pop(key, None)
        if held is not None:
            try:
                held[0].eval(_RELEASE_IF_MINE, 1, key, token)
            except Exception:  # Redis away: the mark expires within its TTL
                pass

    def _renew(self, every):
        while True:
            time.sleep(every)
            with self._lock:
                held = list(self._held.items())
            for key, (connection, ttl, _token) in held:
                try:
                    connection.pexpire(key, int(ttl * 1000))
                except Exception:  # Redis away for a moment: the next renewal may get through
                    pass

    @classmethod
    def running(cls, connection, schedule_id):
        """Whether a call for ``schedule_id`` that outlived its timeout is still running somewhere."""
        return bool(connection.exists(f"{cls.PREFIX}{schedule_id}"))


_RELEASE_IF_MINE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class _LateHold:
    def __init__(self, owner, key, token):
        self.owner, self.key, self.token = owner, key, token

    def release(self):
        self.owner._release(self.key, self.token)


late_calls = LateCalls()  # one per process
