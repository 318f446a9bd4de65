"""The record: an append-only Merkle log (RFC 9162) of everything the service accepted.

Storage is one SQLite file in WAL mode with `synchronous=FULL`, so an append that has
returned survives a SIGKILL or a power cut. Each entry carries:

- `seq` (1, 2, 3, ...), `t` (UTC epoch seconds), `kind`, `party` (who caused it, "" for
  the service itself), `payload` (JSON text);
- `salt` (32 random bytes, hex) and `commitment`: SHA-256(salt || party_sig || "\n" ||
  payload), so that a copy which withholds the payload (with its salt and signature)
  still commits to it, and nothing withheld can be recovered by hashing guesses;
- `party_sig`: for a message a party signed, that party's Ed25519 signature of the
  canonical JSON of `payload["message"]` (checked against the key a `party_key` entry
  published), and `signed` (whether there is one, visible even when withheld);
- `sig`: the server's Ed25519 signature of the entry's leaf hash, which lets `verify`
  name the one entry that was altered.

Entry `seq` is leaf `seq - 1` of the record's Merkle tree; the leaf is the canonical JSON
of `{seq, t, kind, party, signed, commitment}` (`Entry.leaf`). The tree's perfect
subtrees are kept in the same file (`sharedsky.record.tree`), so appends are O(log n)
and proofs are served without reading the entries. Signed checkpoints of the tree
(`sharedsky.record.checkpoint`) are what the parties' witnesses cosign. The first entry
(`genesis`) holds the server's public key. A record of the earlier hash-chained format
(`sharedsky-record/1`) is checked and converted when it is opened (`migrate_v1`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sharedsky.record.checkpoint import CHECKPOINT_SCHEMA
from sharedsky.record.merkle import leaf_hash
from sharedsky.record.tree import TreeStore

SQLITE_MAGIC = b"SQLite format 3\x00"
FORMAT = "sharedsky-record/2"
SALT_BYTES = 32

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    seq INTEGER PRIMARY KEY,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    party TEXT NOT NULL,
    payload TEXT NOT NULL,
    salt TEXT NOT NULL,
    commitment TEXT NOT NULL,
    party_sig TEXT,
    sig TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS record_kind ON record(kind);
"""
#: Working state kept beside the record, not in it (no leaf, no signature): the engine
#: step's carried state (`alerting.carry`), written in the transaction of the entries it
#: goes with, so that after a crash it is the state those entries left.
STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS working_state (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    t REAL NOT NULL,
    body BLOB NOT NULL
);
"""
COLUMNS = "seq, t, kind, party, payload, salt, commitment, party_sig, sig"


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


def commit(salt_hex: str, party_sig: str | None, payload: str) -> str:
    """SHA-256(salt || party_sig || "\n" || payload), hex: the salted commitment a leaf holds."""
    h = hashlib.sha256(bytes.fromhex(salt_hex))
    h.update((party_sig or "").encode("ascii") + b"\n")
    h.update(payload.encode("utf-8"))
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One entry of the record. `payload`, `salt` and `party_sig` are None where withheld."""

    seq: int
    t: float
    kind: str
    party: str
    payload: str | None
    salt: str | None
    commitment: str
    party_sig: str | None
    sig: str
    signed: bool = False

    @property
    def data(self) -> dict[str, Any]:
        """The payload parsed ({} when withheld)."""
        return {} if self.payload is None else json.loads(self.payload)

    @property
    def withheld(self) -> bool:
        return self.payload is None

    def leaf(self) -> bytes:
        """The Merkle leaf: everything that makes the entry, the payload by its commitment."""
        return canonical_json({"seq": self.seq, "t": self.t, "kind": self.kind, "party": self.party,
                               "signed": self.signed, "commitment": self.commitment}).encode("utf-8")

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf())

    def as_dict(self, redact: bool = False) -> dict[str, Any]:
        return {
            "seq": self.seq, "t": self.t, "kind": self.kind, "party": self.party,
            "payload": None if redact else self.payload, "salt": None if redact else self.salt,
            "commitment": self.commitment, "signed": self.signed,
            "party_sig": None if redact else self.party_sig, "sig": self.sig,
        }

    def to_json(self, redact: bool = False) -> str:
        return json.dumps(self.as_dict(redact), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_row(cls, r: Sequence[Any]) -> Entry:
        return cls(int(r[0]), float(r[1]), str(r[2]), str(r[3]), r[4], r[5], str(r[6]), r[7], str(r[8]),
                   r[7] is not None)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        """From `as_dict` (an export line or a proof); KeyError/ValueError/TypeError if malformed."""
        for k in ("payload", "salt", "party_sig"):
            if d.get(k) is not None and not isinstance(d[k], str):
                raise TypeError(f"{k} must be a string or null")
        signed = d.get("signed")
        if not isinstance(signed, bool):
            raise TypeError("signed must be true or false")
        return cls(int(d["seq"]), float(d["t"]), str(d["kind"]), str(d["party"]), d.get("payload"),
                   d.get("salt"), str(d["commitment"]), d.get("party_sig"), str(d["sig"]), signed)


def make_entry(key: Ed25519PrivateKey, seq: int, t: float, kind: str, party: str, payload: dict[str, Any],
               party_sig: str | None) -> Entry:
    """A new entry: fresh salt, commitment, the server's signature of its leaf hash."""
    return entry_of_text(key, seq, t, kind, party, canonical_json(payload), party_sig)


def entry_of_text(key: Ed25519PrivateKey, seq: int, t: float, kind: str, party: str, text: str,
                  party_sig: str | None) -> Entry:
    """`make_entry` of a payload already in canonical JSON."""
    salt = os.urandom(SALT_BYTES).hex()
    c = commit(salt, party_sig, text)
    e = Entry(seq, t, kind, party, text, salt, c, party_sig, "", party_sig is not None)
    sig = b64(key.sign(e.leaf_hash()))
    return Entry(seq, t, kind, party, text, salt, c, party_sig, sig, party_sig is not None)


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
    """Append-only Merkle log in one SQLite file; thread-safe.

    Opening reads only the tree's compact range (O(log n) rows), never the entries.
    """

    def __init__(self, path: str | os.PathLike[str], server_key: Ed25519PrivateKey | None = None) -> None:
        self.path = Path(path)
        try:
            self.key = server_key or load_or_create_server_key(server_key_path(self.path))
            self._conn = connect(self.path)
            self._lock = threading.Lock()
            with self._lock:
                migrate_v1(self._conn, self.key, self.path)
                self._conn.executescript(SCHEMA)
                self._conn.executescript(CHECKPOINT_SCHEMA)
                self._conn.executescript(STATE_SCHEMA)
                self.tree = TreeStore(self._conn)
        except (sqlite3.Error, OSError) as exc:
            raise RecordError(f"{self.path}: cannot open the record ({exc})") from exc
        self.public_key = public_key_b64(self.key.public_key())
        first = _one(self._conn.execute("SELECT payload FROM record WHERE seq = 1"))
        if first is None:
            self.append("genesis", "", {"server_public_key": self.public_key, "format": FORMAT})
        elif json.loads(first[0]).get("server_public_key") != self.public_key:
            raise RecordError(f"{self.path}: the server key in {server_key_path(self.path)} "
                              "is not the one that started this record")
        last = _one(self._conn.execute("SELECT MAX(seq) FROM record"))
        if int(last[0] or 0) != self.tree.size:
            raise RecordError(f"{self.path}: the record has {last[0]} entries but its Merkle tree "
                              f"{self.tree.size} leaves")

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    # -- writing -------------------------------------------------------------------
    def append(self, kind: str, party: str, payload: dict[str, Any],
               party_sig: str | None = None, t: float | None = None) -> Entry:
        """Append one entry and return it once it is on disk."""
        return self.append_many([(kind, party, payload, party_sig)], t)[0]

    def append_many(self, items: Sequence[tuple[str, str, dict[str, Any], str | None]],
                    t: float | None = None, *,
                    state: tuple[str, Callable[[int], bytes]] | None = None) -> list[Entry]:
        """Append entries in one transaction (one fsync); all or nothing. O(log n) per entry.
        `state` (name, function of the record's size after these entries returning the body):
        working state written in the same transaction (`working_state`)."""
        if not items and state is None:
            return []
        now = time.time() if t is None else float(t)
        # Serialised before the lock: a 10,000-report batch takes tens of ms to write as
        # JSON, which no other append should wait for (issue 14, defect 3).
        texts = [canonical_json(payload) for _, _, payload, _ in items]
        with self._lock:
            conn = self._conn
            snap = self.tree.snapshot()
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process (`sharedsky keys issue`) may have appended since: follow it.
                last = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM record").fetchall()[0][0])
                if last != self.tree.size:
                    self.tree = TreeStore(conn)
                    snap = self.tree.snapshot()
                seq = self.tree.size
                out = [entry_of_text(self.key, seq + i + 1, now, kind, party, text, psig)
                       for i, ((kind, party, _, psig), text) in enumerate(zip(items, texts, strict=True))]
                conn.executemany(
                    f"INSERT INTO record ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                    [(e.seq, e.t, e.kind, e.party, e.payload, e.salt, e.commitment, e.party_sig, e.sig)
                     for e in out],
                )
                self.tree.append([e.leaf_hash() for e in out])
                if state is not None:
                    conn.execute("INSERT OR REPLACE INTO working_state (name, seq, t, body) VALUES (?,?,?,?)",
                                 (state[0], seq + len(out), now, state[1](seq + len(out))))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                self.tree.restore(snap)
                raise
        return out

    # -- reading -------------------------------------------------------------------
    def entries(self, after: int = 0, kinds: Iterable[str] | None = None,
                since_t: float | None = None, page: int = 2000, upto: int | None = None) -> Iterator[Entry]:
        """Entries with after < seq (<= upto), in order (optionally only some kinds, or t >= since_t)."""
        sql = f"SELECT {COLUMNS} FROM record WHERE seq > ?"
        args: list[Any] = [after]
        if upto is not None:
            sql += " AND seq <= ?"
            args.append(upto)
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
                yield Entry.from_row(r)
            if len(rows) < page:
                return
            args[0] = rows[-1][0]

    def first_seq_at(self, t_s: float) -> int:
        """The first seq recorded at or after `t_s` (one past the last if none): a binary search
        over the primary key, as entries' times grow with their seq; reading a window of the
        past (the map's history) then starts there instead of scanning the record."""
        lo, hi = 1, self.size + 1
        while lo < hi:
            mid = (lo + hi) // 2
            with self._lock:
                row = _one(self._conn.execute("SELECT t FROM record WHERE seq >= ? ORDER BY seq LIMIT 1", [mid]))
            if row is None or float(row[0]) >= t_s:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def entry(self, seq: int) -> Entry | None:
        with self._lock:
            row = _one(self._conn.execute(f"SELECT {COLUMNS} FROM record WHERE seq = ?", (seq,)))
        return None if row is None else Entry.from_row(row)

    def state_key(self) -> bytes:
        """The key that authenticates this server's working state (derived from its private
        key, so it never leaves the server): a state copied from another is not read."""
        raw = self.key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
        return hashlib.blake2b(raw, digest_size=32, person=b"working-state").digest()

    def working_state(self, name: str) -> tuple[int, float, bytes] | None:
        """The working state `name` last written with `append_many`: (the record's size then,
        time, body), or None."""
        with self._lock:
            row = _one(self._conn.execute("SELECT seq, t, body FROM working_state WHERE name = ?", (name,)))
        return None if row is None else (int(row[0]), float(row[1]), bytes(row[2]))

    def head(self) -> tuple[int, bytes]:
        """(last seq = tree size, the tree's root)."""
        with self._lock:
            return self.tree.size, self.tree.root()

    @property
    def size(self) -> int:
        return self.tree.size

    def root(self, size: int) -> bytes:
        with self._lock:
            return self.tree.root(size)

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry `seq` in the tree of `size` entries."""
        with self._lock:
            return self.tree.inclusion(seq - 1, size)

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        with self._lock:
            return self.tree.consistency(size1, size2)

    def __len__(self) -> int:
        return self.tree.size

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# -- the earlier format --------------------------------------------------------------------

def migrate_v1(conn: sqlite3.Connection, key: Ed25519PrivateKey, path: Path) -> bool:
    """Convert a hash-chained `sharedsky-record/1` record to this format, once, in one transaction.

    The old chain is verified first (a broken one is refused: converting it would launder
    the damage); the old table is kept as `record_v1`, and a `migrated` entry records its
    last hash, so the old copies handed out can still be matched against it.
    """
    cols = [r[1] for r in conn.execute("PRAGMA table_info(record)").fetchall()]
    if "prev" not in cols:
        return False
    from sharedsky.record.legacy import verify_v1

    ok, why, last_hash = verify_v1(conn)
    if not ok:
        raise RecordError(f"{path}: the record in the earlier format does not verify ({why}); not converted")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("ALTER TABLE record RENAME TO record_v1")
        conn.execute("DROP INDEX IF EXISTS record_kind")
        for stmt in SCHEMA.split(";"):  # (executescript would commit the transaction)
            if stmt.strip():
                conn.execute(stmt)
        tree = TreeStore(conn)
        batch: list[Entry] = []
        seq = 0
        for row in conn.execute("SELECT seq, t, kind, party, payload, party_sig FROM record_v1 ORDER BY seq"):
            seq = int(row[0])
            payload = json.loads(row[4])
            if seq == 1:
                payload = {**payload, "format": FORMAT}
            batch.append(make_entry(key, seq, float(row[1]), str(row[2]), str(row[3]), payload, row[5]))
        batch.append(make_entry(key, seq + 1, time.time(), "migrated", "",
                                {"from": "sharedsky-record/1", "entries": seq, "last_hash": last_hash}, None))
        conn.executemany(f"INSERT INTO record ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                         [(e.seq, e.t, e.kind, e.party, e.payload, e.salt, e.commitment, e.party_sig, e.sig)
                          for e in batch])
        tree.append([e.leaf_hash() for e in batch])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True


def verify(source: Any, server_public_key: str | None = None, **kw: Any) -> Any:
    """Check a whole record or a party's copy (see `sharedsky.record.audit.verify_record`)."""
    from sharedsky.record.audit import verify_record

    return verify_record(source, server_public_key=server_public_key, **kw)
