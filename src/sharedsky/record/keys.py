"""API keys and party signing keys, kept in the service's SQLite file.

An API key (`ssk_<id>_<secret>`) is shown once when issued and stored only as its
SHA-256 (the secret is 256 random bits, so a fast hash is enough). Keys are revocable.
Each issued key also gets an Ed25519 key pair: the private half is printed once for
the party to sign its messages; the public half is published in the record
(`party_key` entry) so that anyone holding a copy of the record can check them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sharedsky.record.log import (
    Record,
    _one,
    connect,
    load_public_key,
    private_key_b64,
    public_key_b64,
)

KEY_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    party TEXT NOT NULL,
    supervisor INTEGER NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL
);
"""


@dataclass(frozen=True)
class KeyInfo:
    """Who a valid API key belongs to."""

    key_id: str
    party: str
    supervisor: bool
    public_key: str
    created: float
    revoked: float | None = None


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: the only time `api_key` and `signing_key` are known."""

    key_id: str
    party: str
    supervisor: bool
    api_key: str
    signing_key: str  # base64 raw Ed25519 private key
    public_key: str


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


class KeyStore:
    """Issue, revoke, list and check API keys; thread-safe."""

    def __init__(self, db_path: str | os.PathLike[str], record: Record | None = None) -> None:
        self.path = Path(db_path)
        self._record = record
        self._conn = connect(self.path)
        self._conn.executescript(KEY_SCHEMA)
        self._lock = threading.Lock()

    def _rec(self) -> Record:
        if self._record is None:
            self._record = Record(self.path)
        return self._record

    def issue(self, party: str, supervisor: bool = False) -> IssuedKey:
        """Make a key for `party` and publish its signing key in the record."""
        if not party or len(party) > 64:
            raise ValueError("party id must be 1 to 64 characters")
        key_id = secrets.token_hex(4)
        api_key = f"ssk_{key_id}_{secrets.token_urlsafe(32)}"
        sk = Ed25519PrivateKey.generate()
        pk = public_key_b64(sk.public_key())
        now = time.time()
        # Publish first: a key whose public half is not in the record could sign nothing checkable.
        self._rec().append("party_key", party, {"key_id": key_id, "party": party,
                                                "supervisor": supervisor, "public_key": pk})
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys VALUES (?,?,?,?,?,?,NULL)",
                (key_id, party, int(supervisor), hash_key(api_key), pk, now),
            )
        return IssuedKey(key_id, party, supervisor, api_key, private_key_b64(sk), pk)

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by id (or by the full key); True if a live key was revoked."""
        if key_id.startswith("ssk_"):
            key_id = key_id.split("_")[1]
        with self._lock:
            cur = self._conn.execute(
                "UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL",
                (time.time(), key_id),
            )
            done = cur.rowcount > 0
        if done:
            self._rec().append("key_revoked", "", {"key_id": key_id})
        return done

    def list(self) -> list[KeyInfo]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key_id, party, supervisor, public_key, created, revoked FROM api_keys "
                "ORDER BY created"
            ).fetchall()
        return [KeyInfo(r[0], r[1], bool(r[2]), r[3], r[4], r[5]) for r in rows]

    def authenticate(self, api_key: str | None) -> KeyInfo | None:
        """The live key's owner, or None (unknown, malformed or revoked)."""
        if not api_key or not api_key.startswith("ssk_") or len(api_key) > 200:
            return None
        h = hash_key(api_key)
        with self._lock:
            row = _one(self._conn.execute(
                "SELECT key_id, party, supervisor, public_key, created, revoked, key_sha256 "
                "FROM api_keys WHERE key_sha256 = ?", (h,)
            ))
        if row is None or row[5] is not None or not hmac.compare_digest(row[6], h):
            return None
        return KeyInfo(row[0], row[1], bool(row[2]), row[3], row[4], None)

    def revoked_ids(self) -> set[str]:
        """Ids of every revoked key (a few rows: the service polls this to end streams)."""
        with self._lock:
            rows = self._conn.execute("SELECT key_id FROM api_keys WHERE revoked IS NOT NULL").fetchall()
        return {str(r[0]) for r in rows}

    def is_live(self, key_id: str) -> bool:
        """True if the key exists and is not revoked, read now from the database (which
        `sharedsky keys revoke` in another process may have just written)."""
        with self._lock:
            row = _one(self._conn.execute("SELECT revoked FROM api_keys WHERE key_id = ?", (key_id,)))
        return row is not None and row[0] is None

    def public_key(self, key_id: str) -> Ed25519PublicKey | None:
        with self._lock:
            row = _one(self._conn.execute("SELECT public_key FROM api_keys WHERE key_id = ?",
                                     (key_id,)))
        return None if row is None else load_public_key(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
