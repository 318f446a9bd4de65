"""The earlier record format (`sharedsky-record/1`, a signed hash chain): checked before conversion."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ZERO_HASH = "0" * 64


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def verify_v1(conn: sqlite3.Connection) -> tuple[bool, str, str]:
    """(ok, why, last hash) of the chain in table `record` of the earlier format."""
    prev, expect, key = ZERO_HASH, 1, None
    for seq, t, kind, party, payload, psha, p, h, sig in conn.execute(
            "SELECT seq, t, kind, party, payload, payload_sha256, prev, hash, sig FROM record ORDER BY seq"):
        if seq != expect or p != prev:
            return False, f"entry {seq}: sequence or link broken", prev
        if hashlib.sha256(payload.encode("utf-8")).hexdigest() != psha:
            return False, f"entry {seq}: payload altered", prev
        head = {"seq": seq, "t": t, "kind": kind, "party": party, "prev": p, "payload_sha256": psha}
        if hashlib.sha256(_canonical(head).encode("utf-8")).hexdigest() != h:
            return False, f"entry {seq}: entry altered", prev
        if seq == 1:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(json.loads(payload)["server_public_key"]))
        assert key is not None
        try:
            key.verify(base64.b64decode(sig), h.encode("ascii"))
        except (InvalidSignature, ValueError):
            return False, f"entry {seq}: server signature does not verify", prev
        prev, expect = h, expect + 1
    return True, f"{expect - 1} entries", prev
