"""The publishes a worker process has in flight, in threads of its own."""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("pagesite.publish")

IN_FLIGHT = "pagesite_in_flight"  # where a worker keeps its InFlight, in its app's extensions


class InFlight:
    """The publishes a worker process has handed to threads of its own.

    A publish job holds for its time, takes its provider slot and claims in the
    worker's main thread, then hands the provider call and the record of its
    result to one of these threads and ends, so the worker takes its next job
    while a network answers. At most ``limit`` are in flight per process; a
    job waits for room before it takes a slot or claims. The claim names the
    worker, so if the process dies with publishes in flight, the reconciler
    rescues them as it rescues any dead worker's claims (same idempotency key).

    A provider whose calls end within a few milliseconds (the sandbox, a
    receiver next door) is cheaper to wait for than to hand over: threads
    then only contend for the interpreter and the database. So each process
    keeps a running average of each provider's call time, and hands over only
    the calls of providers slower than ``hand_over_above_ms`` (and any
    provider's first call).
    """

    hand_over_above_ms = 5.0

    def __init__(self, app, limit):
        self.app = app
        self.limit = limit
        self._room = threading.BoundedSemaphore(limit)
        self._threads = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="publish")
        self._idle = threading.Condition()
        self._running = 0
        self._call_ms = {}  # provider name -> running average of its call time here

    def observe(self, provider, duration_ms):
        average = self._call_ms.get(provider)
        self._call_ms[provider] = duration_ms if average is None else 0.8 * average + 0.2 * duration_ms

    def worth_handing_over(self, provider):
        return self._call_ms.get(provider, float("inf")) > self.hand_over_above_ms

    def reserve(self):
        """Wait for room (a publish in flight ends within the provider timeout and the record)."""
        self._room.acquire()
        with self._idle:
            self._running += 1

    def release(self):
        with self._idle:
            self._running -= 1
            self._idle.notify_all()
        self._room.release()

    def run(self, publish):
        """Run ``publish`` (a reserved publish's rest) in a thread, inside the app's context."""

        def rest():
            try:
                with self.app.app_context():
                    publish()
            except Exception:  # already logged where it can be; the reconciler rescues the claim
                log.exception("a publish handed to a thread failed")
            finally:
                self.release()

        self._threads.submit(rest)

    def in_flight(self):
        with self._idle:
            return self._running

    def drain(self, timeout=None):
        """Wait until every publish in flight is recorded (a worker stopping warmly); whether all were."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True


