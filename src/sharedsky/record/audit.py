"""`verify` of a whole record or a party's copy: every entry, then the root against a checkpoint.

Each entry's salted commitment (where its payload is present), the server's signature of
its leaf and the parties' signatures are checked in order, so an altered entry is named;
the leaves are folded into a compact range (O(log n) memory), and the root at the size of
a checkpoint (one the parties' witnesses cosigned, checked against the agreement's keys)
must be the checkpoint's: a copy with entries cut off, or one that differs anywhere from
what the witnesses saw, fails and says so.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sharedsky.record.checkpoint import NoteError, SignedNote, Trust, verify_log_signature
from sharedsky.record.log import (
    COLUMNS,
    SQLITE_MAGIC,
    Entry,
    RecordError,
    canonical_json,
    commit,
    load_public_key,
    public_key_b64,
    unb64,
)
from sharedsky.record.merkle import CompactRange


def read_entries(path: Path) -> Iterator[Entry]:
    """Entries of a SQLite record or a JSON-lines copy (`GET /api/v1/record`)."""
    with open(path, "rb") as fh:
        magic = fh.read(16)
    if magic == SQLITE_MAGIC:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for r in conn.execute(f"SELECT {COLUMNS} FROM record ORDER BY seq"):
                yield Entry.from_row(r)
        finally:
            conn.close()
        return
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield Entry.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise RecordError(f"line {n}: not a record entry ({exc})") from exc


@dataclass
class VerifyResult:
    """Outcome of `verify`: ok, the first broken entry's seq (None if none), and why."""

    ok: bool
    first_bad_seq: int | None
    reason: str
    entries: int = 0
    withheld: int = 0
    root: bytes = b""
    checkpoint_size: int | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.ok, self.first_bad_seq, self.reason))


def verify_record(source: str | os.PathLike[str] | Iterable[Entry], server_public_key: str | None = None,
                  checkpoint: SignedNote | None = None, trust: Trust | None = None) -> VerifyResult:
    """Check a record or a copy; with a checkpoint, also that it holds exactly what the checkpoint covers.

    `trust` (the agreement's keys) checks the checkpoint's log signature and its quorum of
    cosignatures; without it the checkpoint is checked against the record's own server key.
    """
    try:
        it = read_entries(Path(source)) if isinstance(source, (str, os.PathLike)) else iter(source)
        return _verify(it, server_public_key, checkpoint, trust)
    except (RecordError, sqlite3.Error, OSError, UnicodeDecodeError) as exc:
        return VerifyResult(False, None, f"record unreadable: {exc}")


def check_entry(e: Entry, server: Ed25519PublicKey | None, party_keys: dict[str, Ed25519PublicKey]) -> str | None:
    """Why one entry is broken (None if it is sound): commitment, signatures, payload.

    `server=None` skips the server's signature of the leaf: a witness, which checks the
    root of all leaves against a signed checkpoint, does not need it to name an entry."""
    if e.payload is not None:
        if e.salt is None:
            return "payload without its salt"
        if e.signed and e.party_sig is None:
            return f"the signature of {e.party!r} was removed from this message"
        try:
            ok = commit(e.salt, e.party_sig, e.payload) == e.commitment
        except (ValueError, UnicodeEncodeError):
            ok = False
        if not ok:
            return "payload, salt or party signature was altered (the salted commitment differs)"
        try:
            data = json.loads(e.payload)
        except ValueError:
            return "payload is not JSON"
        if not isinstance(data, dict):
            return "payload is not a JSON object"
    if server is not None:
        try:
            server.verify(unb64(e.sig), e.leaf_hash())
        except (InvalidSignature, ValueError):
            return "entry was altered (the server's signature of its leaf does not verify)"
    if e.payload is None:
        return None
    if e.kind == "party_key":
        try:
            party_keys[str(data["key_id"])] = load_public_key(str(data["public_key"]))
        except (KeyError, ValueError):
            return "party key entry is malformed"
    if e.party_sig is not None:
        key = party_keys.get(str(data.get("key_id")))
        msg = data.get("message")
        if key is None or not isinstance(msg, dict):
            return "party signature without a known party key"
        try:
            key.verify(unb64(e.party_sig), canonical_json(msg).encode("utf-8"))
        except (InvalidSignature, ValueError):
            return f"party signature of {e.party!r} does not verify"
    return None


def _verify(entries: Iterator[Entry], pinned: str | None, note: SignedNote | None,
            trust: Trust | None) -> VerifyResult:
    expect = 1
    server: Ed25519PublicKey | None = load_public_key(pinned) if pinned else None
    if server is None and trust is not None:
        server = trust.log_key
    party_keys: dict[str, Ed25519PublicKey] = {}
    n = withheld = 0
    cr = CompactRange()
    want = None
    if note is not None:
        try:
            want = note.checkpoint
        except NoteError as exc:
            return VerifyResult(False, None, str(exc))
    root_at: bytes | None = None

    def bad(seq: int, why: str) -> VerifyResult:
        return VerifyResult(False, seq, f"entry {seq}: {why}", n, withheld)

    for e in entries:
        n += 1
        if e.seq != expect:
            return bad(e.seq, f"sequence broken: expected entry {expect}, found {e.seq}")
        if e.payload is None:
            withheld += 1
        if e.seq == 1:
            data = e.data
            if e.kind != "genesis" or "server_public_key" not in data:
                return bad(1, "the first entry is not a genesis entry with the server key")
            try:
                genesis_key = load_public_key(data["server_public_key"])
            except ValueError:
                return bad(1, "server public key is malformed")
            if server is None:
                server = genesis_key
            elif public_key_b64(server) != data["server_public_key"]:
                return bad(1, "server key differs from the pinned key (the agreement's log key)")
        assert server is not None
        why = check_entry(e, server, party_keys)
        if why is not None:
            return bad(e.seq, why)
        cr.append(e.leaf_hash())
        if want is not None and cr.size == want.size:
            root_at = cr.root()
        expect += 1
    if n == 0:
        return VerifyResult(False, None, "record is empty")
    msg = f"{n} entries verified"
    if withheld:
        msg += f" ({withheld} payloads withheld from this copy, checked through their salted commitments)"
    if note is None or want is None:
        return VerifyResult(True, None, msg, n, withheld, cr.root())
    assert server is not None
    try:
        if trust is not None:
            _, who = trust.check(note, server)
            by = f", cosigned by {', '.join(sorted(who))}"
        else:
            verify_log_signature(note, want.origin, server)
            by = " (cosignatures not checked: no agreement given)"
    except NoteError as exc:
        return VerifyResult(False, None, f"the checkpoint does not verify: {exc}", n, withheld, cr.root())
    if n < want.size:
        missing = want.size - n
        return VerifyResult(False, n + 1, f"entries {n + 1} to {want.size} are missing: the copy ends at "
                            f"{n}, the checkpoint covers {want.size} ({missing} entries cut)", n, withheld,
                            cr.root(), want.size)
    if root_at != want.root:
        return VerifyResult(False, None, f"the first {want.size} entries do not match the checkpoint's root "
                            "(a different history from the one the witnesses cosigned)", n, withheld,
                            cr.root(), want.size)
    msg += f"; entries 1 to {want.size} match the checkpoint{by}"
    return VerifyResult(True, None, msg, n, withheld, cr.root(), want.size)
