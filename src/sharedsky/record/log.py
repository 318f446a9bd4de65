"""The record: an append-only, hash-chained, signed log of everything the service accepted.

Storage is one SQLite file in WAL mode with `synchronous=FULL`, so an append that has
returned survives a SIGKILL or a power cut. Each entry carries:

- `seq` (1, 2, 3, ...), `t` (UTC epoch seconds), `kind`, `party` (who caused it, "" for
  the service itself), `payload` (JSON text) and `payload_sha256`;
- `prev`: the previous entry's hash (64 zeros for the first), and `hash`: SHA-256 of the
  canonical JSON of `{seq, t, kind, party, prev, payload_sha256}`;
- `sig`: the server's Ed25519 signature of `hash` (ASCII hex bytes), base64;
- `party_sig`: for a message a party signed, that party's Ed25519 signature of the
  canonical JSON of `payload["message"]`, base64 (checked against the public key that
  a `party_key` entry earlier in the record published).

The entry hash covers the payload only through its digest, so a party's copy of the
record can leave out payloads it may not see (other parties' reports) and still be
verified end to end. The first entry (`genesis`) holds the server's public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ZERO_HASH = "0" * 64
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    seq INTEGER PRIMARY KEY,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    party TEXT NOT NULL,
    payload TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL,
    sig TEXT NOT NULL,
    party_sig TEXT
);
CREATE INDEX IF NOT EXISTS record_kind ON record(kind);
"""


class RecordError(Exception):
    """The record cannot be opened or written (names the file and what is wrong)."""


def canonical_json(obj: Any) -> str:
    """The one JSON text of a value that is hashed and signed: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def public_key_b64(key: Ed25519PublicKey) -> str:
    """Raw 32-byte Ed25519 public key, base64."""
    return b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def load_public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(unb64(text))


def private_key_b64(key: Ed25519PrivateKey) -> str:
    """Raw 32-byte Ed25519 private key (seed), base64."""
    return b64(
        key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
    )


def load_private_key(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(unb64(text.strip()))


def sign_message(key: Ed25519PrivateKey, message: dict[str, Any]) -> str:
    """A party's signature of a message (canonical JSON without its `signature` field)."""
    body = {k: v for k, v in message.items() if k != "signature"}
    return b64(key.sign(canonical_json(body).encode("utf-8")))


def entry_hash(seq: int, t: float, kind: str, party: str, prev: str, payload_sha256: str) -> str:
    head = {"seq": seq, "t": t, "kind": kind, "party": party, "prev": prev,
            "payload_sha256": payload_sha256}
    return hashlib.sha256(canonical_json(head).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One entry of the record. `payload` is None in a copy where it was withheld."""

    seq: int
    t: float
    kind: str
    party: str
    payload: str | None
    payload_sha256: str
    prev: str
    hash: str
    sig: str
    party_sig: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The payload parsed ({} when withheld)."""
        return {} if self.payload is None else json.loads(self.payload)

    def as_dict(self, redact: bool = False) -> dict[str, Any]:
        return {
            "seq": self.seq, "t": self.t, "kind": self.kind, "party": self.party,
            "payload": None if redact else self.payload,
            "payload_sha256": self.payload_sha256, "prev": self.prev, "hash": self.hash,
            "sig": self.sig, "party_sig": self.party_sig,
        }

    def to_json(self, redact: bool = False) -> str:
        return json.dumps(self.as_dict(redact), ensure_ascii=False, separators=(",", ":"))


def load_or_create_server_key(path: Path) -> Ed25519PrivateKey:
    """The server's signing key, kept next to the database (`<db>.key`, mode 0600)."""
    if path.exists():
        try:
            return load_private_key(path.read_text())
        except ValueError as exc:
            raise RecordError(f"{path}: not a base64 Ed25519 private key ({exc})") from exc
    key = Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(private_key_b64(key) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


def server_key_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".key")


def _one(cur: sqlite3.Cursor) -> Any:
    """First row or None, closing the statement (an open one pins an old WAL snapshot)."""
    rows = cur.fetchall()
    return rows[0] if rows else None


def connect(db_path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with full fsync, shared by the record and the key store."""
    conn = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Record:
    """Append-only hash-chained record in one SQLite file; thread-safe."""

    def __init__(self, path: str | os.PathLike[str], server_key: Ed25519PrivateKey | None = None) -> None:
        self.path = Path(path)
        try:
            self.key = server_key or load_or_create_server_key(server_key_path(self.path))
            self._conn = connect(self.path)
            self._conn.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise RecordError(f"{self.path}: cannot open the record ({exc})") from exc
        self._lock = threading.Lock()
        self.public_key = public_key_b64(self.key.public_key())
        first = _one(self._conn.execute("SELECT payload FROM record WHERE seq = 1"))
        if first is None:
            self.append("genesis", "", {"server_public_key": self.public_key,
                                        "format": "sharedsky-record/1"})
        elif json.loads(first[0]).get("server_public_key") != self.public_key:
            raise RecordError(f"{self.path}: the server key in {server_key_path(self.path)} "
                              "is not the one that started this record")

    # -- writing -------------------------------------------------------------------
    def append(self, kind: str, party: str, payload: dict[str, Any],
               party_sig: str | None = None, t: float | None = None) -> Entry:
        """Append one entry and return it once it is on disk."""
        return self.append_many([(kind, party, payload, party_sig)], t)[0]

    def append_many(self, items: Sequence[tuple[str, str, dict[str, Any], str | None]],
                    t: float | None = None) -> list[Entry]:
        """Append entries in one transaction (one fsync); all or nothing."""
        if not items:
            return []
        now = time.time() if t is None else float(t)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = _one(conn.execute("SELECT seq, hash FROM record ORDER BY seq DESC LIMIT 1"))
                seq, prev = (0, ZERO_HASH) if row is None else (int(row[0]), str(row[1]))
                out: list[Entry] = []
                for kind, party, payload, psig in items:
                    seq += 1
                    text = canonical_json(payload)
                    ph = hashlib.sha256(text.encode("utf-8")).hexdigest()
                    h = entry_hash(seq, now, kind, party, prev, ph)
                    sig = b64(self.key.sign(h.encode("ascii")))
                    e = Entry(seq, now, kind, party, text, ph, prev, h, sig, psig)
                    out.append(e)
                    prev = h
                conn.executemany(
                    "INSERT INTO record VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(e.seq, e.t, e.kind, e.party, e.payload, e.payload_sha256, e.prev, e.hash,
                      e.sig, e.party_sig) for e in out],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return out

    # -- reading -------------------------------------------------------------------
    def entries(self, after: int = 0, kinds: Iterable[str] | None = None,
                since_t: float | None = None, page: int = 2000) -> Iterator[Entry]:
        """Entries with seq > after, in order (optionally only some kinds, or t >= since_t)."""
        sql = "SELECT * FROM record WHERE seq > ?"
        args: list[Any] = [after]
        if kinds is not None:
            ks = list(kinds)
            sql += f" AND kind IN ({','.join('?' * len(ks))})"
            args += ks
        if since_t is not None:
            sql += " AND t >= ?"
            args.append(since_t)
        sql += " ORDER BY seq LIMIT ?"
        # In pages, so that a long record is never held in memory at once.
        while True:
            with self._lock:
                rows = self._conn.execute(sql, [*args, page]).fetchall()
            for r in rows:
                yield Entry(*r)
            if len(rows) < page:
                return
            args[0] = rows[-1][0]

    def first_seq_at(self, t_s: float) -> int:
        """The first seq recorded at or after `t_s` (one past the last if none): a binary search
        over the primary key, as entries' times grow with their seq; reading a window of the
        past (the map's history) then starts there instead of scanning the record."""
        lo, hi = 1, self.head()[0] + 1
        while lo < hi:
            mid = (lo + hi) // 2
            with self._lock:
                row = _one(self._conn.execute("SELECT t FROM record WHERE seq >= ? ORDER BY seq LIMIT 1", [mid]))
            if row is None or float(row[0]) >= t_s:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def head(self) -> tuple[int, str]:
        """(last seq, its hash)."""
        with self._lock:
            row = _one(self._conn.execute("SELECT seq, hash FROM record ORDER BY seq DESC LIMIT 1"))
        return (0, ZERO_HASH) if row is None else (int(row[0]), str(row[1]))

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM record").fetchall()[0][0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# -- verification ----------------------------------------------------------------------

def _read_entries(path: Path) -> Iterator[Entry]:
    with open(path, "rb") as fh:
        magic = fh.read(16)
    if magic == SQLITE_MAGIC:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            cur = conn.execute("SELECT seq, t, kind, party, payload, payload_sha256, prev, hash, "
                               "sig, party_sig FROM record ORDER BY seq")
            for r in cur:
                yield Entry(*r)
        finally:
            conn.close()
        return
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                yield Entry(int(d["seq"]), float(d["t"]), str(d["kind"]), str(d["party"]),
                            d.get("payload"), str(d["payload_sha256"]), str(d["prev"]),
                            str(d["hash"]), str(d["sig"]), d.get("party_sig"))
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

    def __iter__(self) -> Iterator[Any]:
        return iter((self.ok, self.first_bad_seq, self.reason))


def verify(source: str | os.PathLike[str] | Iterable[Entry],
           server_public_key: str | None = None) -> VerifyResult:
    """Check the whole chain: hashes, links, server and party signatures.

    `source` is a SQLite record, a JSON-lines export (`GET /api/v1/record`) or entries.
    Without `server_public_key` the key published in the genesis entry is used.
    Returns `(ok, first_bad_seq, reason)` (a `VerifyResult`, which unpacks so).
    """
    try:
        it = _read_entries(Path(source)) if isinstance(source, (str, os.PathLike)) else iter(source)
        return _verify(it, server_public_key)
    except (RecordError, sqlite3.Error, OSError, UnicodeDecodeError) as exc:
        return VerifyResult(False, None, f"record unreadable: {exc}")


def _verify(entries: Iterator[Entry], pinned: str | None) -> VerifyResult:
    prev = ZERO_HASH
    expect = 1
    server: Ed25519PublicKey | None = load_public_key(pinned) if pinned else None
    party_keys: dict[str, Ed25519PublicKey] = {}
    n = withheld = 0

    def bad(seq: int, why: str) -> VerifyResult:
        return VerifyResult(False, seq, f"entry {seq}: {why}", n, withheld)

    for e in entries:
        n += 1
        if e.seq != expect:
            return bad(e.seq, f"sequence broken: expected entry {expect}, found {e.seq}")
        if e.prev != prev:
            return bad(e.seq, "does not link to the previous entry (prev hash differs)")
        if e.payload is None:
            withheld += 1
            data: dict[str, Any] = {}
        else:
            if hashlib.sha256(e.payload.encode("utf-8")).hexdigest() != e.payload_sha256:
                return bad(e.seq, "payload was altered (its SHA-256 differs)")
            try:
                data = json.loads(e.payload)
            except ValueError:
                return bad(e.seq, "payload is not JSON")
        if entry_hash(e.seq, e.t, e.kind, e.party, e.prev, e.payload_sha256) != e.hash:
            return bad(e.seq, "entry was altered (its hash differs from its contents)")
        if e.seq == 1:
            if e.kind != "genesis" or "server_public_key" not in data:
                return bad(1, "the first entry is not a genesis entry with the server key")
            if server is None:
                try:
                    server = load_public_key(data["server_public_key"])
                except ValueError:
                    return bad(1, "server public key is malformed")
            elif public_key_b64(server) != data["server_public_key"]:
                return bad(1, "server key differs from the pinned key")
        assert server is not None
        try:
            server.verify(unb64(e.sig), e.hash.encode("ascii"))
        except (InvalidSignature, ValueError):
            return bad(e.seq, "server signature does not verify")
        if e.kind == "party_key" and data:
            try:
                party_keys[str(data["key_id"])] = load_public_key(str(data["public_key"]))
            except (KeyError, ValueError):
                return bad(e.seq, "party key entry is malformed")
        if e.party_sig is not None and e.payload is not None:
            key = party_keys.get(str(data.get("key_id")))
            msg = data.get("message")
            if key is None or not isinstance(msg, dict):
                return bad(e.seq, "party signature without a known party key")
            try:
                key.verify(unb64(e.party_sig), canonical_json(msg).encode("utf-8"))
            except (InvalidSignature, ValueError):
                return bad(e.seq, f"party signature of {e.party!r} does not verify")
        prev = e.hash
        expect += 1
    if n == 0:
        return VerifyResult(False, None, "record is empty")
    msg = f"{n} entries verified"
    if withheld:
        msg += f" ({withheld} payloads withheld from this copy, chain checked through their digests)"
    return VerifyResult(True, None, msg, n, withheld)
