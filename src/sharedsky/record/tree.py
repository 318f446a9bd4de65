"""The record's Merkle tree kept in its SQLite file: every perfect subtree's hash.

A leaf's append writes it and the perfect nodes it completes (two rows on average), using
the compact range held in memory (O(log n) hashes, read back from the table at start), so
an append costs O(log n) whatever the size. The hash of any range [a, b) that a proof
needs is made from at most log n stored nodes: inclusion and consistency proofs at 10^6
entries read a few dozen rows by primary key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from sharedsky.record.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    node_hash,
    split_point,
)

#: Node id = level << LEVEL_SHIFT | index: one INTEGER PRIMARY KEY (rowid) per node.
LEVEL_SHIFT = 42
TREE_SCHEMA = "CREATE TABLE IF NOT EXISTS merkle_node (id INTEGER PRIMARY KEY, hash BLOB NOT NULL)"


def node_id(level: int, index: int) -> int:
    return level << LEVEL_SHIFT | index


class TreeStore:
    """Perfect subtree hashes in table `merkle_node`; the caller holds the connection's lock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute(TREE_SCHEMA)
        rows = conn.execute("SELECT MAX(id) FROM merkle_node WHERE id < ?", (1 << LEVEL_SHIFT,)).fetchall()
        size = 0 if rows[0][0] is None else int(rows[0][0]) + 1
        self.range = CompactRange(size, [self.node(lv, ix) for lv, ix in CompactRange.nodes_of(size)])

    @property
    def size(self) -> int:
        return self.range.size

    def node(self, level: int, index: int) -> bytes:
        rows = self.conn.execute("SELECT hash FROM merkle_node WHERE id = ?", (node_id(level, index),)).fetchall()
        if not rows:
            raise KeyError(f"Merkle node level {level} index {index} is missing from the record")
        return bytes(rows[0][0])

    def append(self, leaves: Sequence[bytes]) -> None:
        """Add leaf hashes (inside the caller's transaction); `rollback` undoes the memory side."""
        rows: list[tuple[int, bytes]] = []
        for leaf in leaves:
            rows.extend((node_id(lv, ix), h) for lv, ix, h in self.range.append(leaf))
        self.conn.executemany("INSERT INTO merkle_node VALUES (?, ?)", rows)

    def snapshot(self) -> CompactRange:
        return CompactRange(self.range.size, list(self.range.hashes))

    def restore(self, snap: CompactRange) -> None:
        self.range = snap

    def subtree(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]) from stored perfect nodes (b <= size)."""
        n = b - a
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and a % n == 0:
            return self.node(n.bit_length() - 1, a // n)
        k = split_point(n)
        return node_hash(self.subtree(a, a + k), self.subtree(a + k, b))

    def root(self, size: int | None = None) -> bytes:
        """Root of the first `size` leaves (the current size by default)."""
        if size is None or size == self.size:
            return self.range.root()
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is beyond the record's {self.size} entries")
        return self.subtree(0, size)

    def leaf(self, index: int) -> bytes:
        return self.node(0, index)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        if size > self.size:
            raise ValueError(f"tree size {size} is beyond the record's {self.size} entries")
        return inclusion_proof(index, size, self.subtree)

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        if size2 > self.size:
            raise ValueError(f"tree size {size2} is beyond the record's {self.size} entries")
        return consistency_proof(size1, size2, self.subtree)
