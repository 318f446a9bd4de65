"""Checkpoints as C2SP signed notes, and the witnesses' cosignatures (C2SP tlog-cosignature).

A checkpoint (c2sp.org/tlog-checkpoint) is the note body

    <origin>\\n<tree size>\\n<base64 root>\\n

followed by a blank line and one signature line per signer, `\\u2014 <name> <base64>`.
The log's line is Ed25519 over the body (c2sp.org/signed-note: 4-byte key id =
SHA-256(name || "\\n" || 0x01 || public key)[:4], then the 64-byte signature). A
witness's line (c2sp.org/tlog-cosignature, `cosignature/v1`) is key id (alg 0x04) ||
8-byte big-endian timestamp || Ed25519 over "cosignature/v1\\ntime <timestamp>\\n" + body.

The origin names the agreement, the log's key name is the origin, and a witness's key
name is its party id; the keys are the agreement's (`[record]`), so a checkpoint and its
cosignatures can be checked with nothing else. `Trust` holds those keys and the quorum.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
DASH = "\u2014"
MAX_NOTE_BYTES = 64 * 1024

CHECKPOINT_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (
    size INTEGER PRIMARY KEY, t REAL NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cosignature (
    size INTEGER NOT NULL, party TEXT NOT NULL, t REAL NOT NULL, timestamp INTEGER NOT NULL,
    line TEXT NOT NULL, PRIMARY KEY (size, party));
"""


class NoteError(ValueError):
    """A note or checkpoint is malformed or a signature does not verify (says which)."""


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, alg: int, key: Ed25519PublicKey) -> bytes:
    """The 4-byte key id of a signed-note key: SHA-256(name || "\\n" || alg || key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + _raw(key)).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint says: origin, tree size, root (32 bytes)."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("checkpoint: needs origin, size and root lines, each ending with a newline")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin or not re.fullmatch(r"(0|[1-9][0-9]{0,18})", size):
            raise NoteError(f"checkpoint: bad origin or size line {size!r}")
        try:
            raw = base64.b64decode(root, validate=True)
        except ValueError as exc:
            raise NoteError("checkpoint: root is not base64") from exc
        if len(raw) != 32:
            raise NoteError("checkpoint: root is not 32 bytes")
        return cls(origin, int(size), raw)


@dataclass
class SignedNote:
    """A note body and its signature lines (name, raw signature bytes), in order."""

    body: str
    sigs: list[tuple[str, bytes]] = field(default_factory=list)

    def text(self) -> str:
        return self.body + "\n" + "".join(f"{DASH} {n} {base64.b64encode(s).decode('ascii')}\n"
                                          for n, s in self.sigs)

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse(self.body)

    @classmethod
    def parse(cls, text: str) -> SignedNote:
        if len(text.encode("utf-8")) > MAX_NOTE_BYTES:
            raise NoteError(f"note: larger than {MAX_NOTE_BYTES} bytes")
        body, sep, rest = text.partition("\n\n")
        if not sep or not rest.endswith("\n"):
            raise NoteError("note: no blank line before the signatures, or no final newline")
        sigs: list[tuple[str, bytes]] = []
        for line in rest[:-1].split("\n"):
            m = re.fullmatch(DASH + r" (\S+) ([A-Za-z0-9+/=]+)", line)
            if m is None:
                raise NoteError(f"note: bad signature line {line[:80]!r}")
            try:
                raw = base64.b64decode(m.group(2), validate=True)
            except ValueError:
                raise NoteError(f"note: signature of {m.group(1)!r} is not base64") from None
            if len(raw) < 5:
                raise NoteError(f"note: signature of {m.group(1)!r} too short")
            sigs.append((m.group(1), raw))
        return cls(body + "\n", sigs)

    def add(self, name: str, sig: bytes) -> None:
        """Add a signature line, replacing one of the same name and key id."""
        self.sigs = [(n, s) for n, s in self.sigs if not (n == name and s[:4] == sig[:4])] + [(name, sig)]


def sign_checkpoint(key: Ed25519PrivateKey, name: str, cp: Checkpoint) -> SignedNote:
    """The log's signed note of a checkpoint."""
    body = cp.body()
    return SignedNote(body, [(name, key_id(name, ALG_ED25519, key.public_key()) + key.sign(body.encode("utf-8")))])


def verify_log_signature(note: SignedNote, name: str, key: Ed25519PublicKey) -> None:
    """Raise NoteError unless the note carries the log's valid signature."""
    kid = key_id(name, ALG_ED25519, key)
    for n, s in note.sigs:
        if n == name and s[:4] == kid and len(s) == 68:
            try:
                key.verify(s[4:], note.body.encode("utf-8"))
                return
            except InvalidSignature:
                raise NoteError(f"checkpoint: the log's signature ({name}) does not verify") from None
    raise NoteError(f"checkpoint: no signature of the log ({name})")


def _cosigned_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(key: Ed25519PrivateKey, name: str, body: str, timestamp: int) -> bytes:
    """A witness's cosignature/v1 of a checkpoint body: key id || timestamp || signature."""
    return (key_id(name, ALG_COSIGNATURE_V1, key.public_key()) + struct.pack(">Q", timestamp)
            + key.sign(_cosigned_message(body, timestamp)))


def verify_cosignature(body: str, name: str, key: Ed25519PublicKey, sig: bytes) -> int | None:
    """The cosignature's timestamp if `sig` is this witness's valid cosignature, else None."""
    if len(sig) != 76 or sig[:4] != key_id(name, ALG_COSIGNATURE_V1, key):
        return None
    ts = struct.unpack(">Q", sig[4:12])[0]
    try:
        key.verify(sig[12:], _cosigned_message(body, ts))
    except InvalidSignature:
        return None
    return int(ts)


@dataclass(frozen=True)
class Trust:
    """The agreement's keys for the record: the log's, each party's witness, the quorum."""

    origin: str
    log_key: Ed25519PublicKey | None
    witnesses: Mapping[str, Ed25519PublicKey]
    quorum: int

    def cosigners(self, note: SignedNote) -> dict[str, int]:
        """Parties whose valid cosignature the note carries, with their timestamps."""
        out: dict[str, int] = {}
        for n, s in note.sigs:
            key = self.witnesses.get(n)
            if key is not None and n not in out:
                ts = verify_cosignature(note.body, n, key, s)
                if ts is not None:
                    out[n] = ts
        return out

    def check(self, note: SignedNote, log_key: Ed25519PublicKey | None = None) -> tuple[Checkpoint, dict[str, int]]:
        """The checkpoint of a note signed by the log and cosigned by a quorum; NoteError if not."""
        cp = note.checkpoint
        if cp.origin != self.origin:
            raise NoteError(f"checkpoint: origin {cp.origin!r} is not this agreement's {self.origin!r}")
        key = self.log_key or log_key
        if key is None:
            raise NoteError("checkpoint: the agreement names no log key ([record] log_key)")
        verify_log_signature(note, self.origin, key)
        who = self.cosigners(note)
        if len(who) < self.quorum:
            raise NoteError(f"checkpoint of size {cp.size}: cosigned by {len(who)} witness(es) "
                            f"({', '.join(sorted(who)) or 'none'}), the agreement's quorum is {self.quorum}")
        return cp, who


def load_key(text: str, what: str) -> Ed25519PublicKey:
    """A base64 raw Ed25519 public key; NoteError naming `what` if it is not one."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise NoteError(f"{what}: not a base64 Ed25519 public key") from exc
