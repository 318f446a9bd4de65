"""A service that lies on purpose, for the witness tests only (`SHAREDSKY_TEST_MISBEHAVE`).

`fork:PARTY` shows PARTY a history that differs from everyone else's from the size the
record had at start: every later entry's time is moved by a second and re-signed with
the server's key, and PARTY gets checkpoints and proofs of that forked tree, signed by
the server, of the same sizes as the true ones. A party's witness alone cannot tell; the
witnesses' cosignatures compared with each other can. Never set outside tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sharedsky.record.checkpoint import Checkpoint, SignedNote, sign_checkpoint
from sharedsky.record.log import Entry, Record, b64
from sharedsky.record.merkle import MemoryTree

ENV = "SHAREDSKY_TEST_MISBEHAVE"


class ForkView:
    """The record as shown to one party by a forking service (same sizes, other roots)."""

    def __init__(self, record: Record, origin: str) -> None:
        self.record = record
        self.origin = origin
        self.fork_at = record.size
        self._lock = threading.Lock()
        self._tree = MemoryTree([record.tree.leaf(i) for i in range(self.fork_at)])

    def _forked(self, e: Entry) -> Entry:
        if e.seq <= self.fork_at:
            return e
        f = replace(e, t=e.t + 1.0, sig="")
        return replace(f, sig=b64(self.record.key.sign(f.leaf_hash())))

    def entries(self, after: int = 0, upto: int | None = None) -> Iterator[Entry]:
        for e in self.record.entries(after=after, upto=upto):
            yield self._forked(e)

    @property
    def size(self) -> int:
        return self.record.size

    def _sync(self) -> MemoryTree:
        with self._lock:
            n = len(self._tree.leaves)
            for e in self.record.entries(after=n):
                self._tree.leaves.append(self._forked(e).leaf_hash())
            return self._tree

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        return self._sync().consistency(size1, size2)

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        return self._sync().inclusion(seq - 1, size)

    def checkpoint(self) -> SignedNote:
        tree = self._sync()
        size = len(tree.leaves)
        return sign_checkpoint(self.record.key, self.origin, Checkpoint(self.origin, size, tree.root(size)))


def misbehave_from_env(hub: Any) -> None:
    """Install the misbehaviour `SHAREDSKY_TEST_MISBEHAVE` asks for (tests only)."""
    spec = os.environ.get(ENV, "")
    if not spec:
        return
    what, _, party = spec.partition(":")
    if what != "fork" or party not in hub.parties:
        raise ValueError(f"{ENV}={spec!r}: only fork:PARTY is known")
    hub.views[party] = ForkView(hub.record, hub.trust.origin)
