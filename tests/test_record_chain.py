"""The record: append, Merkle leaves, signatures, withheld payloads, tampering found by verify."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sharedsky.record.keys import KeyStore
from sharedsky.record.log import Record, canonical_json, load_private_key, sign_message, verify

from conftest import run_cli


def _fill(db: Path) -> tuple[Record, str]:
    rec = Record(db)
    ks = KeyStore(db, rec)
    k = ks.issue("coalition")
    sk = load_private_key(k.signing_key)
    for i in range(5):
        rec.append("reports", "coalition", {"reports": [{"icao24": f"abc{i:03d}", "latitude": 36.5}]})
    msg = {"type": "DISTRESS", "icao24": "abc001", "latitude": 36.5, "longitude": 37.1, "nature": "engine fire"}
    rec.append("distress", "coalition", {"message": msg, "key_id": k.key_id, "to": ["*"]},
               party_sig=sign_message(sk, msg))
    rec.append_many([("conflict", "", {"a": "x", "b": "y", "to": ["a", "b"]}, None)] * 3)
    return rec, k.key_id


def test_chain_verifies_and_is_ordered(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    rec, _ = _fill(db)
    seqs = [e.seq for e in rec.entries()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e.kind for e in rec.entries()][:2] == ["genesis", "party_key"]
    ok, bad, why = verify(db)
    assert ok, why
    assert bad is None
    # Reopening continues the chain with the same key.
    rec.close()
    rec2 = Record(db)
    e = rec2.append("ack", "coalition", {"of_seq": 3})
    assert e.seq == len(seqs) + 1
    assert verify(db).ok


def test_export_with_withheld_payloads_still_verifies(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    rec, _ = _fill(db)
    out = tmp_path / "export.jsonl"
    out.write_text("".join(e.to_json(redact=e.kind == "reports") + "\n" for e in rec.entries()))
    res = verify(out)
    assert res.ok, res.reason
    assert res.withheld == 5


@pytest.mark.parametrize("field", ["payload", "salt", "commitment", "t", "kind", "party", "sig", "party_sig",
                                   "signed"])
def test_one_changed_byte_in_an_export_is_found_and_named(tmp_path: Path, field: str) -> None:
    db = tmp_path / "r.db"
    rec, _ = _fill(db)
    entries = [e.as_dict() for e in rec.entries()]
    target = next(i for i, e in enumerate(entries) if e["kind"] == "distress")
    seq = entries[target]["seq"]
    v = entries[target][field]
    if isinstance(v, bool):
        entries[target][field] = not v
    elif isinstance(v, float):
        entries[target][field] = v + 1e-3
    else:
        # Change exactly one character (keeping base64/hex alphabets plausible).
        pos = len(v) // 2
        repl = "A" if v[pos] != "A" else "B"
        if field in ("salt", "commitment"):
            repl = "0" if v[pos] != "0" else "1"
        entries[target][field] = v[:pos] + repl + v[pos + 1:]
    out = tmp_path / "export.jsonl"
    out.write_text("".join(json.dumps(e) + "\n" for e in entries))
    ok, bad, why = verify(out)
    assert not ok
    assert bad == seq, why
    assert f"entry {seq}" in why


def test_forged_party_message_is_found(tmp_path: Path) -> None:
    """The server cannot put words in a party's mouth: its signature covers the message."""
    db = tmp_path / "r.db"
    rec, key_id = _fill(db)
    msg = {"type": "DISTRESS", "icao24": "abc001", "latitude": 36.5, "longitude": 37.1, "nature": "x"}
    other = load_private_key(KeyStore(db, rec).issue("russia").signing_key)
    e = rec.append("distress", "coalition", {"message": msg, "key_id": key_id, "to": ["*"]},
                   party_sig=sign_message(other, msg))
    ok, bad, why = verify(db)
    assert not ok and bad == e.seq and "party signature" in why


def test_one_flipped_byte_in_the_sqlite_file_is_found_by_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    rec, _ = _fill(db)
    target = next(e for e in rec.entries() if e.kind == "distress")
    rec.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert run_cli("verify", str(db)).returncode == 0
    raw = bytearray(db.read_bytes())
    needle = b"engine fire"
    pos = raw.find(needle)
    assert pos > 0
    raw[pos] ^= 0x20  # 'e' -> 'E': one byte
    db.write_bytes(bytes(raw))
    res = run_cli("verify", str(db))
    assert res.returncode == 1
    assert f"entry {target.seq}" in res.stderr
    assert "payload" in res.stderr


def test_deleted_entry_in_the_middle_is_found(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    rec, _ = _fill(db)
    rec.close()
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM record WHERE seq = 4")
    conn.commit()
    conn.close()
    ok, bad, why = verify(db)
    assert not ok and bad == 5 and "sequence" in why


def test_canonical_json_is_stable() -> None:
    a = {"b": 1.5, "a": [1, "é"], "c": None}
    assert canonical_json(a) == '{"a":[1,"é"],"b":1.5,"c":null}'
    assert canonical_json(json.loads(canonical_json(a))) == canonical_json(a)


def test_keys_cli_issue_list_revoke(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    res = run_cli("keys", "issue", "coalition", "--db", str(db), "--json")
    assert res.returncode == 0, res.stderr
    k = json.loads(res.stdout)
    assert k["api_key"].startswith("ssk_")
    ks = KeyStore(db)
    info = ks.authenticate(k["api_key"])
    assert info is not None and info.party == "coalition" and not info.supervisor
    listed = run_cli("keys", "list", "--db", str(db))
    assert k["key_id"] in listed.stdout and "live" in listed.stdout
    assert k["api_key"] not in listed.stdout
    assert run_cli("keys", "revoke", k["key_id"], "--db", str(db)).returncode == 0
    assert ks.authenticate(k["api_key"]) is None
    assert run_cli("keys", "revoke", k["key_id"], "--db", str(db)).returncode == 1
    assert verify(db).ok
    ks.close()
    # Stored only as a hash. (Read the file only once no connection is open: closing any
    # descriptor of it drops this process's POSIX locks.)
    for f in tmp_path.glob("s.db*"):
        assert k["api_key"].encode() not in f.read_bytes()


def _copy(rec: Record, path: Path, withhold: set[str] = frozenset()) -> list[dict]:  # type: ignore[assignment]
    lines = [e.as_dict(redact=e.kind in withhold) for e in rec.entries()]
    path.write_text("".join(json.dumps(d) + "\n" for d in lines))
    return lines


def test_withheld_payloads_cannot_be_recovered_by_hashing_guesses(tmp_path: Path) -> None:
    """The guesses that recovered an `ack` and an `unacknowledged` payload from a party's
    copy (a plain SHA-256 of predictable JSON) find nothing: the commitment is salted and
    the salt is withheld with the payload."""
    import hashlib

    db = tmp_path / "r.db"
    rec, _ = _fill(db)
    ack = {"to": ["coalition", "russia"], "event": {"of_seq": 8, "of_kind": "conflict", "by": "russia"}}
    unack = {"to": ["russia"], "event": {"of_seq": 8, "of_kind": "conflict", "party": "russia"}}
    rec.append("ack", "russia", ack)
    rec.append("unacknowledged", "", unack)
    copy = _copy(rec, tmp_path / "copy.jsonl", withhold={"ack", "unacknowledged"})
    hidden = [d for d in copy if d["kind"] in ("ack", "unacknowledged")]
    assert len(hidden) == 2 and all(d["payload"] is None and d["salt"] is None for d in hidden)
    # Every guess the earlier attack made, the true payloads among them.
    guesses = [canonical_json(p) for p in (ack, unack)]
    for of_seq in range(1, 20):
        for who in ("coalition", "russia", "turkey"):
            for kind in ("conflict", "airspace", "distress", "loss_of_separation"):
                for to in (["coalition", "russia"], [who], ["*"]):
                    guesses.append(canonical_json({"to": to, "event": {"of_seq": of_seq, "of_kind": kind, "by": who}}))
                    guesses.append(canonical_json({"to": to, "event": {"of_seq": of_seq, "of_kind": kind,
                                                                       "party": who}}))
    digests = {hashlib.sha256(g.encode()).hexdigest() for g in guesses}
    digests |= {hashlib.sha256(b"\n" + g.encode()).hexdigest() for g in guesses}  # salt-less commitment form
    text = (tmp_path / "copy.jsonl").read_text()
    assert not any(d in text for d in digests)
    assert verify(tmp_path / "copy.jsonl").ok


def test_removed_party_signature_is_found_and_named(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    rec, _ = _fill(db)
    copy = _copy(rec, tmp_path / "copy.jsonl")
    target = next(d for d in copy if d["kind"] == "distress")
    target["party_sig"] = None
    (tmp_path / "cut.jsonl").write_text("".join(json.dumps(d) + "\n" for d in copy))
    ok, bad, why = verify(tmp_path / "cut.jsonl")
    assert not ok and bad == target["seq"] and "signature of 'coalition' was removed" in why
    # Also pretending it was never signed: the leaf differs from what the server signed.
    target["signed"] = False
    (tmp_path / "cut.jsonl").write_text("".join(json.dumps(d) + "\n" for d in copy))
    ok, bad, why = verify(tmp_path / "cut.jsonl")
    assert not ok and bad == target["seq"]


def test_a_cut_copy_fails_against_a_checkpoint_and_names_the_cut(tmp_path: Path) -> None:
    from sharedsky.record.checkpoint import SignedNote, Trust
    from sharedsky.record.notary import Notary

    db = tmp_path / "r.db"
    rec, _ = _fill(db)
    rec.append_many([("reports", "coalition", {"n": i}, None) for i in range(30)])
    notary = Notary(rec, Trust("sharedsky/test", rec.key.public_key(), {}, 0))
    note = notary.sign()
    assert note is not None and notary.sign() is None  # nothing new: no new checkpoint
    size = rec.size
    copy = _copy(rec, tmp_path / "copy.jsonl", withhold={"reports"})
    assert verify(tmp_path / "copy.jsonl", checkpoint=note).ok
    (tmp_path / "cut.jsonl").write_text("".join(json.dumps(d) + "\n" for d in copy[:-10]))
    assert verify(tmp_path / "cut.jsonl").ok  # alone, a cut copy looks whole
    res = verify(tmp_path / "cut.jsonl", checkpoint=SignedNote.parse(note.text()))
    assert not res.ok and res.first_bad_seq == size - 9
    assert f"entries {size - 9} to {size} are missing" in res.reason and "10 entries cut" in res.reason
    # A later entry does not change what the checkpoint covers.
    rec.append("ack", "russia", {"x": 1})
    assert verify(db, checkpoint=note).ok


def test_a_record_of_the_earlier_format_is_verified_and_converted(tmp_path: Path) -> None:
    """A hash-chained record (`sharedsky-record/1`) is converted once when opened."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sharedsky.record.log import private_key_b64, public_key_b64, server_key_path

    db = tmp_path / "old.db"
    key = Ed25519PrivateKey.generate()
    server_key_path(db).write_text(private_key_b64(key) + "\n")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE record (seq INTEGER PRIMARY KEY, t REAL NOT NULL, kind TEXT NOT NULL, party TEXT "
                 "NOT NULL, payload TEXT NOT NULL, payload_sha256 TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT "
                 "NOT NULL, sig TEXT NOT NULL, party_sig TEXT)")
    prev = "0" * 64
    payloads = [("genesis", {"server_public_key": public_key_b64(key.public_key()), "format": "sharedsky-record/1"}),
                ("ack", {"of_seq": 1}), ("notice", {"text": "exercise"})]
    for seq, (kind, p) in enumerate(payloads, 1):
        text = canonical_json(p)
        ph = hashlib.sha256(text.encode()).hexdigest()
        h = hashlib.sha256(canonical_json({"seq": seq, "t": 1.0, "kind": kind, "party": "", "prev": prev,
                                           "payload_sha256": ph}).encode()).hexdigest()
        sig = base64.b64encode(key.sign(h.encode())).decode()
        conn.execute("INSERT INTO record VALUES (?,?,?,?,?,?,?,?,?,NULL)", (seq, 1.0, kind, "", text, ph, prev, h, sig))
        prev = h
    conn.commit()
    conn.close()
    rec = Record(db)
    kinds = [e.kind for e in rec.entries()]
    assert kinds == ["genesis", "ack", "notice", "migrated"]
    assert rec.entry(4).data["last_hash"] == prev  # type: ignore[union-attr]
    assert verify(db).ok
    rec.close()
    assert [e.kind for e in Record(db).entries()] == kinds  # once only
