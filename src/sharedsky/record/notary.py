"""The service's checkpoints: signs them as the tree grows, keeps the witnesses' cosignatures.

Checkpoints and cosignatures live in the record's SQLite file (tables `checkpoint` and
`cosignature`). A new checkpoint is signed only after checking that the tree still has
the root of the last one at its size, so the service never signs two checkpoints that
are not consistent. A checkpoint that carries cosignatures of the agreement's quorum of
witnesses is *witnessed*; `witnessed()` gives the latest, with every cosignature.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from sharedsky.record.checkpoint import (
    Checkpoint,
    NoteError,
    SignedNote,
    Trust,
    load_key,
    sign_checkpoint,
    verify_cosignature,
)
from sharedsky.record.log import Record, RecordError


def trust_of(agreement: Any, log_key: str | None = None) -> Trust:
    """The agreement's keys for the record (`[record]`); `log_key` if the agreement names none."""
    rules = agreement.record
    witnesses = {p: load_key(k, f"[record] witnesses.{p}") for p, k in rules.witnesses.items()}
    quorum = len(witnesses) if rules.quorum == "all" else int(rules.quorum)
    key_text = rules.log_key or log_key
    return Trust(agreement.origin, load_key(key_text, "[record] log_key") if key_text else None,
                 witnesses, quorum)


class Notary:
    """Signs checkpoints of one record and collects cosignatures; thread-safe (the record's lock)."""

    def __init__(self, record: Record, trust: Trust) -> None:
        self.record = record
        self.trust = trust
        self.origin = trust.origin
        conn = record.connection
        with record.lock:
            rows = conn.execute("SELECT size, root FROM checkpoint ORDER BY size DESC LIMIT 1").fetchall()
        self._last: tuple[int, bytes] | None = (int(rows[0][0]), bytes(rows[0][1])) if rows else None
        if self._last is not None and self._last[0] > record.size:
            raise RecordError(f"{record.path}: a checkpoint of size {self._last[0]} was signed but the record "
                              f"has {record.size} entries (restored from an older copy?)")
        self._witnessed: int | None = None

    def sign(self, now: float | None = None) -> SignedNote | None:
        """Sign a checkpoint of the current tree if it grew since the last one; None if not."""
        rec = self.record
        with rec.lock:
            size, root = rec.tree.size, rec.tree.root()
            if self._last is not None:
                last_size, last_root = self._last
                if size <= last_size:
                    return None
                if rec.tree.root(last_size) != last_root:
                    raise RecordError(f"{rec.path}: the tree no longer has the root of checkpoint {last_size}; "
                                      "refusing to sign an inconsistent checkpoint")
            note = sign_checkpoint(rec.key, self.origin, Checkpoint(self.origin, size, root))
            conn = rec.connection
            conn.execute("INSERT INTO checkpoint VALUES (?,?,?,?)",
                         (size, time.time() if now is None else now, root, note.text()))
            self._last = (size, root)
        return note

    def _note(self, row: tuple[Any, ...] | None, with_cosignatures: bool = True) -> SignedNote | None:
        if row is None:
            return None
        note = SignedNote.parse(str(row[1]))
        if with_cosignatures:
            with self.record.lock:
                lines = self.record.connection.execute(
                    "SELECT party, line FROM cosignature WHERE size = ? ORDER BY party", (row[0],)).fetchall()
            for party, line in lines:
                note.sigs.append((str(party), base64.b64decode(line)))
        return note

    def latest(self) -> SignedNote | None:
        with self.record.lock:
            rows = self.record.connection.execute(
                "SELECT size, note FROM checkpoint ORDER BY size DESC LIMIT 1").fetchall()
        return self._note(rows[0] if rows else None)

    def note(self, size: int) -> SignedNote | None:
        """The checkpoint of this size with every cosignature it has (None if none was signed)."""
        with self.record.lock:
            rows = self.record.connection.execute("SELECT size, note FROM checkpoint WHERE size = ?",
                                                  (size,)).fetchall()
        return self._note(rows[0] if rows else None)

    def cosign(self, party: str, size: int, sig: bytes) -> bool:
        """Keep a witness's cosignature of checkpoint `size` (NoteError if it does not verify);
        True if that checkpoint is now witnessed."""
        key = self.trust.witnesses.get(party)
        if key is None:
            raise NoteError(f"party {party!r} has no witness key in the agreement ([record] witnesses)")
        note = self.note(size)
        if note is None:
            raise NoteError(f"no checkpoint of size {size} was signed")
        ts = verify_cosignature(note.body, party, key, sig)
        if ts is None:
            raise NoteError(f"cosignature of {party!r} does not verify for checkpoint {size}")
        with self.record.lock:
            conn = self.record.connection
            conn.execute("INSERT OR REPLACE INTO cosignature VALUES (?,?,?,?,?)",
                         (size, party, time.time(), ts, base64.b64encode(sig).decode("ascii")))
            n = conn.execute("SELECT COUNT(*) FROM cosignature WHERE size = ?", (size,)).fetchall()[0][0]
        done = self.trust.quorum > 0 and int(n) >= self.trust.quorum
        if done and (self._witnessed is None or size > self._witnessed):
            self._witnessed = size
        return done

    def witnessed_size(self) -> int | None:
        """The size of the latest witnessed checkpoint (None before the first)."""
        if self._witnessed is None and self.trust.quorum > 0:
            with self.record.lock:
                rows = self.record.connection.execute(
                    "SELECT size FROM cosignature GROUP BY size HAVING COUNT(*) >= ? ORDER BY size DESC LIMIT 1",
                    (self.trust.quorum,)).fetchall()
            self._witnessed = int(rows[0][0]) if rows else None
        return self._witnessed

    def witnessed(self) -> SignedNote | None:
        """The latest witnessed checkpoint with its cosignatures."""
        size = self.witnessed_size()
        return None if size is None else self.note(size)

    def cosigners(self, size: int) -> dict[str, int]:
        """Parties that cosigned checkpoint `size`, with their timestamps."""
        with self.record.lock:
            rows = self.record.connection.execute("SELECT party, timestamp FROM cosignature WHERE size = ?",
                                                  (size,)).fetchall()
        return {str(p): int(ts) for p, ts in rows}
