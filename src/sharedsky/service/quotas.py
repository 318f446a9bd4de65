"""Per-party quotas on the line (issue 14, defect 3): one party's flood never stalls the others.

Each party (never a supervisor, never an operator feed) has, from the agreement's `[line]`:

* `reports_per_s` and `reports_burst`: a token bucket of reports. A batch takes as many
  tokens as it holds reports; when the bucket is short the batch is refused whole with 429
  and `Retry-After` (the seconds until it would be full enough). A batch larger than the
  burst could never pass: 422 instead.
* `aircraft_live`: the aircraft a party may have live at once (owned, reported within the
  coast time). A batch that would take it over is refused with 429; `Retry-After` is the
  coast time, after which silent aircraft are no longer live.
* `messages_per_min`: a token bucket of messages (valid or not: a flood of bad messages
  costs the service as much), 429 and `Retry-After` when empty.

Buckets start full and are kept in memory: a restart forgives.

What a refused batch costs is bounded too (`Admission`): a party's report batches are
read, parsed and checked one at a time (a few more may wait, the next is answered 429
before its body is read), and a batch is refused as soon as its size is known to be
over the bucket, before it is validated. So a party posting as fast as it can, over as
many connections as it may hold, keeps at most one thread of the service busy.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


class TooMany(Exception):
    """429: a party's quota is used up; `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


@dataclass
class Bucket:
    """A token bucket: `capacity` tokens, refilled at `rate` per second."""

    capacity: float
    rate: float
    tokens: float
    t: float

    def refill(self, now: float) -> float:
        """The tokens held at `now`."""
        self.tokens = min(self.capacity, self.tokens + (now - self.t) * self.rate)
        self.t = now
        return self.tokens

    def take(self, n: float, now: float) -> float:
        """Take `n` tokens (0.0 returned) or, if there are too few, none: the seconds to wait."""
        if n <= self.refill(now):
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


class Quotas:
    """The line's quotas, per party (thread-safe)."""

    def __init__(self, line: object, clock: Callable[[], float] = time.monotonic) -> None:
        self.reports_per_s = float(getattr(line, "reports_per_s", 10_000))
        self.reports_burst = int(getattr(line, "reports_burst", 50_000))
        self.aircraft_live = int(getattr(line, "aircraft_live", 10_000))
        self.messages_per_min = int(getattr(line, "messages_per_min", 120))
        self.clock = clock
        self._reports: dict[str, Bucket] = {}
        self._messages: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, table: dict[str, Bucket], party: str, capacity: float, rate: float) -> Bucket:
        b = table.get(party)
        if b is None:
            b = table[party] = Bucket(capacity, rate, capacity, self.clock())
        return b

    def reports(self, party: str, n: int) -> None:
        """Take `n` reports from `party`'s bucket; TooMany (429) or ValueError (a batch over the burst)."""
        if n > self.reports_burst:
            raise ValueError(f"at most {self.reports_burst} reports per batch under the agreement's quota "
                             f"([line] reports_burst), got {n}")
        with self._lock:
            wait = self._bucket(self._reports, party, self.reports_burst, self.reports_per_s).take(n, self.clock())
        if wait:
            raise TooMany(f"reports: party {party!r} is over its quota of {self.reports_per_s:g} reports a "
                          f"second ([line] reports_per_s, burst {self.reports_burst}); retry in {math.ceil(wait)} s",
                          wait)

    def reports_empty(self, party: str) -> None:
        """TooMany (429) if `party`'s report bucket holds less than one report: no batch could pass."""
        with self._lock:
            b = self._reports.get(party)
            wait = 0.0 if b is None else max(0.0, (1.0 - b.refill(self.clock())) / b.rate)
        if wait:
            raise TooMany(f"reports: party {party!r} has used its quota of {self.reports_per_s:g} reports a "
                          f"second ([line] reports_per_s); retry in {math.ceil(wait)} s", wait)

    def aircraft(self, party: str, live_after: int, coast_s: float) -> None:
        """TooMany (429) if `party` would have more than its quota of live aircraft."""
        if live_after > self.aircraft_live:
            raise TooMany(f"reports: party {party!r} would have {live_after} aircraft live, over its quota of "
                          f"{self.aircraft_live} ([line] aircraft_live); silent aircraft leave after "
                          f"{coast_s:g} s", coast_s)

    def messages(self, party: str) -> None:
        """Take one message from `party`'s bucket; TooMany (429) when it is empty."""
        with self._lock:
            wait = self._bucket(self._messages, party, self.messages_per_min,
                                self.messages_per_min / 60.0).take(1, self.clock())
        if wait:
            raise TooMany(f"messages: party {party!r} is over its quota of {self.messages_per_min} messages a "
                          f"minute ([line] messages_per_min); retry in {math.ceil(wait)} s", wait)


#: Report batches of one party that may wait while another of its batches is in work.
WAITING_BATCHES = 2
#: After a batch that kept the service working t s, the party's next batch waits this
#: many times t: one party's batches keep it busy at most half of the time.
REST_PER_WORK = 1.0


class Admission:
    """One report batch of a party in work at a time, `waiting` more queued, and a rest after
    each in proportion to the work it took (event loop only; issue 14, defect 3).

    Waiting happens before a body is read, so a queued batch costs the service nothing
    but its socket; one batch too many is answered 429 at once, its body unread. The rest
    bounds the share of the service's time one party's batches take, however fast the
    machine or many its connections: the engine and the other parties always have the rest.
    """

    def __init__(self, waiting: int = WAITING_BATCHES, rest_per_work: float = REST_PER_WORK) -> None:
        self.waiting = waiting
        self.rest_per_work = rest_per_work
        self._locks: dict[str, asyncio.Lock] = {}
        self._held: dict[str, int] = {}
        self._rest_until: dict[str, float] = {}

    @asynccontextmanager
    async def batch(self, party: str) -> AsyncIterator[None]:
        """Enter when `party` has no other batch in work and has rested; TooMany (429) if too
        many of its batches wait already."""
        loop = asyncio.get_running_loop()
        held = self._held.get(party, 0)
        if held > self.waiting:
            rest = self._rest_until.get(party, 0.0) - loop.time()
            raise TooMany(f"reports: party {party!r} already has {held} report batches in work or waiting; "
                          "send the next when one is answered", max(1.0, rest))
        self._held[party] = held + 1
        try:
            async with self._locks.setdefault(party, asyncio.Lock()):
                rest = self._rest_until.get(party, 0.0) - loop.time()
                if rest > 0:
                    await asyncio.sleep(rest)
                yield
        finally:
            self._held[party] -= 1
            if not self._held[party]:
                del self._held[party]
                self._locks.pop(party, None)

    def worked(self, party: str, seconds: float) -> None:
        """`party`'s batch kept the service working `seconds`: its next batch rests in proportion."""
        self._rest_until[party] = asyncio.get_running_loop().time() + seconds * self.rest_per_work
