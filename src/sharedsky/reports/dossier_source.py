"""Where a dossier's entries and proofs come from: the service's SQLite record or a party's copy.

A SQLite record (with its server key beside it, as `sharedsky prove` needs) gives each
entry's proof with `make_proof` against the latest witnessed checkpoint. A party's JSON-lines
copy (`GET /api/v1/record`) has no stored tree: its leaves are hashed once and each proof is
built against a witnessed checkpoint the party holds (its witness's `witnessed.note`), with
what the copy withholds left withheld. A record whose agreement names no witnesses has no
witnessed checkpoint: proofs are then against the latest checkpoint the log signed, and the
dossier says so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sharedsky.record.checkpoint import NoteError, SignedNote, Trust
from sharedsky.record.log import SQLITE_MAGIC, Entry, Record, RecordError, server_key_path
from sharedsky.record.merkle import MemoryTree
from sharedsky.record.proof import FORMAT, ProofUnavailable, make_proof


class DossierError(Exception):
    """The dossier cannot be built (names the file or the incident and why)."""


class RecordSource:
    """The service's SQLite record: entries by time window and proofs of each."""

    def __init__(self, path: Path, trust: Trust) -> None:
        from sharedsky.record.notary import Notary

        if not server_key_path(path).exists():
            raise DossierError(f"{path}: the record's server key {server_key_path(path)} is not beside it")
        try:
            self.record = Record(path)
        except RecordError as exc:
            raise DossierError(str(exc)) from exc
        self.trust = trust
        self.notary = Notary(self.record, trust)
        note = self.notary.witnessed()
        self.witnessed = note is not None
        latest = note or self.notary.latest()
        if latest is None:
            raise DossierError(f"{path}: the log has signed no checkpoint yet")
        self.note: SignedNote = latest
        self.size = self.note.checkpoint.size
        self.copy_of = ""  # the whole record, nothing withheld

    def entry(self, seq: int) -> Entry | None:
        return self.record.entry(seq)

    def window(self, t0: float, t1: float) -> Iterator[Entry]:
        """Entries with t0 <= t <= t1 (a binary search to the start, then in order)."""
        first = self.record.first_seq_at(t0)
        for e in self.record.entries(after=first - 1):
            if e.t > t1:
                return
            yield e

    def proof(self, seq: int) -> dict[str, Any]:
        try:
            return make_proof(self.record, self.notary, seq, reveal=True, note=self.note)
        except ProofUnavailable as exc:
            raise DossierError(str(exc)) from exc

    def close(self) -> None:
        self.record.close()


class ViewSource(RecordSource):
    """The service's open record as one party may see it (`GET /api/v1/dossier`): what the
    party may not read is withheld, exactly as in the copy it downloads, and proven all the same."""

    def __init__(self, record: Record, notary: Any, trust: Trust, reveal: Callable[[Entry], bool],
                 party: str) -> None:
        self.record = record
        self.trust = trust
        self.notary = notary
        self.reveal = reveal
        self.party = party
        # With witnesses, only a witnessed checkpoint proves anything to the agreement's keys.
        note = notary.witnessed() if trust.witnesses else notary.latest()
        if note is None:
            raise DossierError("the record has no witnessed checkpoint yet" if trust.witnesses else
                               "the log has signed no checkpoint yet")
        self.witnessed = bool(trust.witnesses)
        self.note = note
        self.size = note.checkpoint.size
        self._withheld: set[str] = set()

    @property
    def copy_of(self) -> str:  # type: ignore[override]
        """The parties whose payloads were withheld from what this source gave out."""
        return ", ".join(sorted(self._withheld))

    def _shown(self, e: Entry | None) -> Entry | None:
        if e is None or self.reveal(e):
            return e
        self._withheld.add(e.party or "the service")
        return Entry.from_dict(e.as_dict(redact=True))

    def entry(self, seq: int) -> Entry | None:
        return self._shown(self.record.entry(seq))

    def window(self, t0: float, t1: float) -> Iterator[Entry]:
        for e in super().window(t0, t1):
            shown = self._shown(e)
            assert shown is not None
            yield shown

    def proof(self, seq: int) -> dict[str, Any]:
        e = self.record.entry(seq)
        try:
            return make_proof(self.record, self.notary, seq, reveal=e is not None and self.reveal(e), note=self.note)
        except ProofUnavailable as exc:
            raise DossierError(str(exc)) from exc

    def close(self) -> None:
        """The record is the service's: it stays open."""


class CopySource:
    """A party's JSON-lines copy of the record, proven against a checkpoint the party holds."""

    def __init__(self, path: Path, note: SignedNote, trust: Trust) -> None:
        from sharedsky.record.audit import read_entries

        try:
            self.entries = list(read_entries(path))
        except (RecordError, OSError, UnicodeDecodeError) as exc:
            raise DossierError(f"{path}: {exc}") from exc
        self.note = note
        self.trust = trust
        try:
            cp, who = trust.check(note)
        except NoteError as exc:
            raise DossierError(f"the checkpoint does not verify with the agreement's keys: {exc}") from exc
        self.witnessed = bool(who)
        self.size = cp.size
        if len(self.entries) < self.size or any(e.seq != i + 1 for i, e in enumerate(self.entries[:self.size])):
            raise DossierError(f"{path}: the copy holds {len(self.entries)} entries in order, the checkpoint "
                               f"covers {self.size}")
        self.tree = MemoryTree([e.leaf_hash() for e in self.entries[:self.size]])
        if self.tree.root() != cp.root:
            raise DossierError(f"{path}: the copy's first {self.size} entries do not match the checkpoint's root")
        withheld = {e.party for e in self.entries if e.payload is None and e.party}
        self.copy_of = ", ".join(sorted(withheld))

    def entry(self, seq: int) -> Entry | None:
        return self.entries[seq - 1] if 1 <= seq <= len(self.entries) else None

    def window(self, t0: float, t1: float) -> Iterator[Entry]:
        for e in self.entries[:self.size]:
            if t0 <= e.t <= t1:
                yield e

    def _included(self, seq: int) -> dict[str, Any]:
        return {"index": seq - 1, "size": self.size,
                "hashes": [base64.b64encode(h).decode("ascii") for h in self.tree.inclusion(seq - 1, self.size)]}

    def proof(self, seq: int) -> dict[str, Any]:
        if seq > self.size:
            raise DossierError(f"entry {seq} is not covered by the checkpoint of size {self.size}")
        e = self.entries[seq - 1]
        out: dict[str, Any] = {"format": FORMAT, "entry": e.as_dict(), "inclusion": self._included(seq),
                               "checkpoint": self.note.text()}
        if e.payload is not None and e.party_sig is not None:
            key_id = e.data.get("key_id")
            for k in self.entries[:seq]:
                if k.kind == "party_key" and k.payload is not None and k.data.get("key_id") == key_id:
                    out["key_entry"] = {"entry": k.as_dict(), "inclusion": self._included(k.seq)}
                    break
        return out

    def close(self) -> None:
        self.entries = []


def open_source(path: Path, trust: Trust, checkpoint: Path | None) -> RecordSource | CopySource:
    """A SQLite record or a party's copy (which needs the witnessed checkpoint it is proven against)."""
    with open(path, "rb") as fh:
        magic = fh.read(16)
    if magic == SQLITE_MAGIC:
        return RecordSource(path, trust)
    if checkpoint is None:
        raise DossierError(f"{path} is a copy of the record: give --checkpoint, a witnessed checkpoint "
                           "(e.g. your witness's witnessed.note) to prove its entries against")
    try:
        note = SignedNote.parse(checkpoint.read_text(encoding="utf-8"))
    except (NoteError, OSError, UnicodeDecodeError) as exc:
        raise DossierError(f"{checkpoint}: {exc}") from exc
    return CopySource(path, note, trust)


def entry_of(proof: dict[str, Any]) -> Entry:
    """The entry a proof carries (its header, and payload where revealed)."""
    return Entry.from_dict(proof["entry"])


def payload_of(e: Entry) -> dict[str, Any]:
    """The entry's payload, {} where withheld or not a JSON object."""
    if e.payload is None:
        return {}
    try:
        d = json.loads(e.payload)
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}
