"""Self-contained proofs of one entry, checked offline with the agreement's public keys.

In the spirit of C2SP tlog-proof, a proof (`sharedsky-proof/1`, JSON) holds:

- `entry`: the entry's header (seq, t, kind, party, signed, commitment, the server's
  signature of its leaf) and, where the requester may see it, its payload, salt and the
  party's signature;
- `inclusion`: the RFC 9162 inclusion proof of its leaf in the tree of `size` entries;
- `checkpoint`: the signed note of that size with the witnesses' cosignatures;
- `key_entry`: for a message a party signed, the `party_key` entry that published that
  party's key, with its own inclusion proof in the same checkpoint.

`make_proof(record, notary, seq)` builds one from a record; `verify_proof(proof, trust)`
checks it with nothing but `Trust` (the log key, each party's witness key, the quorum:
`sharedsky.record.notary.trust_of(agreement)`), and says what it proves.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature

from sharedsky.record.checkpoint import NoteError, SignedNote, Trust
from sharedsky.record.log import Entry, Record, canonical_json, commit, load_public_key, unb64
from sharedsky.record.merkle import ProofError, verify_inclusion
from sharedsky.record.notary import Notary

FORMAT = "sharedsky-proof/1"


class ProofUnavailable(Exception):
    """No witnessed checkpoint covers the entry yet (or no such entry)."""


@dataclass
class ProofResult:
    """What `verify_proof` found: ok, why not (or what is proven), and the facts proven."""

    ok: bool
    reason: str
    seq: int | None = None
    size: int | None = None
    kind: str = ""
    party: str = ""
    t: float | None = None
    payload: dict[str, Any] | None = None
    cosigners: dict[str, int] = field(default_factory=dict)


def _included(record: Record, seq: int, size: int) -> dict[str, Any]:
    return {"index": seq - 1, "size": size,
            "hashes": [base64.b64encode(h).decode("ascii") for h in record.inclusion(seq, size)]}


def make_proof(record: Record, notary: Notary, seq: int, reveal: bool = True,
               note: SignedNote | None = None) -> dict[str, Any]:
    """The proof of entry `seq` against `note` (default: the latest witnessed checkpoint)."""
    e = record.entry(seq)
    if e is None:
        raise ProofUnavailable(f"no entry {seq} in the record")
    note = note or notary.witnessed()
    if note is None or note.checkpoint.size < seq:
        raise ProofUnavailable(f"entry {seq} is not yet covered by a witnessed checkpoint "
                               f"(latest witnessed size: {notary.witnessed_size()})")
    size = note.checkpoint.size
    out: dict[str, Any] = {"format": FORMAT, "entry": e.as_dict(redact=not reveal),
                           "inclusion": _included(record, seq, size), "checkpoint": note.text()}
    if reveal and e.party_sig is not None:
        key_id = e.data.get("key_id")
        for k in record.entries(kinds=["party_key"], upto=seq):
            if k.data.get("key_id") == key_id:
                out["key_entry"] = {"entry": k.as_dict(), "inclusion": _included(record, k.seq, size)}
                break
    return out


def _check_entry(obj: Any, trust: Trust, root: bytes, size: int, what: str) -> Entry:
    if not isinstance(obj, dict) or not isinstance(obj.get("entry"), dict) or not isinstance(
            obj.get("inclusion"), dict):
        raise ProofError(f"{what}: needs 'entry' and 'inclusion'")
    try:
        e = Entry.from_dict(obj["entry"])
        inc = obj["inclusion"]
        hashes = [base64.b64decode(h, validate=True) for h in inc["hashes"]]
        index, isize = int(inc["index"]), int(inc["size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"{what}: malformed ({exc})") from exc
    if index != e.seq - 1 or isize != size:
        raise ProofError(f"{what}: inclusion proof is for leaf {index} of size {isize}, not entry {e.seq} "
                         f"of the checkpoint's size {size}")
    assert trust.log_key is not None
    try:
        trust.log_key.verify(unb64(e.sig), e.leaf_hash())
    except (InvalidSignature, ValueError) as exc:
        raise ProofError(f"{what}: entry {e.seq} was altered (the log's signature of its leaf does not verify)") \
            from exc
    if e.payload is not None:
        if e.salt is None or (e.signed and e.party_sig is None):
            raise ProofError(f"{what}: entry {e.seq} shows its payload without its salt or party signature")
        try:
            good = commit(e.salt, e.party_sig, e.payload) == e.commitment
        except (ValueError, UnicodeEncodeError):
            good = False
        if not good:
            raise ProofError(f"{what}: entry {e.seq}'s payload, salt or signature was altered")
    verify_inclusion(e.leaf_hash(), index, size, hashes, root)
    return e


def verify_proof(proof: Any, trust: Trust) -> ProofResult:
    """Check a proof offline with the agreement's keys; never raises on bad input."""
    if not isinstance(proof, dict) or proof.get("format") != FORMAT:
        return ProofResult(False, f"not a {FORMAT} proof")
    if trust.log_key is None:
        return ProofResult(False, "the agreement names no log key ([record] log_key): nothing to check against")
    try:
        note = SignedNote.parse(str(proof.get("checkpoint", "")))
        cp, who = trust.check(note)
    except NoteError as exc:
        return ProofResult(False, f"checkpoint: {exc}")
    try:
        e = _check_entry(proof, trust, cp.root, cp.size, "entry")
        data: dict[str, Any] | None = None
        if e.payload is not None:
            data = json.loads(e.payload)
            if not isinstance(data, dict):
                raise ProofError("entry: payload is not a JSON object")
            if e.party_sig is not None:
                k = _check_entry(proof.get("key_entry"), trust, cp.root, cp.size, "key_entry")
                kd = k.data
                if k.kind != "party_key" or kd.get("key_id") != data.get("key_id") or k.party != e.party:
                    raise ProofError("key_entry: is not the party_key entry of the signing key")
                try:
                    load_public_key(str(kd["public_key"])).verify(
                        unb64(e.party_sig), canonical_json(data.get("message")).encode("utf-8"))
                except (InvalidSignature, ValueError, KeyError) as exc:
                    raise ProofError(f"entry {e.seq}: the signature of {e.party!r} does not verify") from exc
    except (ProofError, ValueError) as exc:
        return ProofResult(False, str(exc))
    signed = " signed by its party," if e.party_sig is not None else ""
    shown = "" if e.payload is not None else " (payload withheld from this proof)"
    reason = (f"entry {e.seq} ({e.kind} from {e.party or 'the service'}),{signed} is in the record of "
              f"{cp.size} entries whose checkpoint {', '.join(sorted(who)) or 'no witness'} cosigned{shown}")
    return ProofResult(True, reason, e.seq, cp.size, e.kind, e.party, e.t, data, who)
