"""The service's side of the Merkle record: events beyond memory, sync after a seq, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from service_support import agreement_text
from sharedsky.agreement import loads_agreement
from sharedsky.record.checkpoint import SignedNote
from sharedsky.record.keys import KeyInfo
from sharedsky.record.merkle import verify_consistency, verify_inclusion
from sharedsky.service import store
from sharedsky.service.store import Hub

SUP = KeyInfo("k0", "un", True, "", 0.0)
BLUE = KeyInfo("k1", "blue", False, "", 0.0)


def _notice(i: int, to: list[str]) -> tuple[str, str, dict, None]:
    return ("notice", "red", {"to": to, "event": {"from": "red", "text": f"notice {i}"}}, None)


def test_old_events_are_read_from_the_record_not_kept_in_memory(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "EVENTS_KEPT", 10)
    ag = loads_agreement(agreement_text())
    hub = Hub(ag, str(tmp_path / "s.db"))
    seqs = [e.seq for e in hub.append_events([_notice(i, ["red", "blue"] if i % 2 else ["red"]) for i in range(50)])]
    assert len(hub.events) <= 10
    assert [se.seq for se in hub.events_for(SUP, 0, 1000)] == seqs
    assert [se.seq for se in hub.events_for(BLUE, 0, 1000)] == seqs[1::2]
    assert [se.seq for se in hub.events_for(BLUE, 0, 3)] == seqs[1:6:2]
    assert hub.event(seqs[0]) is not None and hub.event(seqs[0]).event["text"] == "notice 0"  # type: ignore[union-attr]
    hub.record.close()
    again = Hub(ag, str(tmp_path / "s.db"))  # start-up keeps only the latest events
    assert len(again.events) <= 10
    assert [se.seq for se in again.events_for(SUP, 0, 1000)] == seqs
    seq, dup = again.ack(BLUE, {"seq": seqs[1]})
    assert not dup and again.event(seq).event["of_seq"] == seqs[1]  # type: ignore[union-attr]


def test_sync_after_a_seq_and_proofs_between_checkpoints(tmp_path: Path) -> None:
    ag = loads_agreement(agreement_text())
    hub = Hub(ag, str(tmp_path / "s.db"))
    hub.append_events([_notice(i, ["red"]) for i in range(20)])
    first = SignedNote.parse(hub.checkpoint_text(SUP)).checkpoint
    hub.append_events([_notice(i, ["red", "blue"]) for i in range(20, 45)])
    assert SignedNote.parse(hub.checkpoint_text(SUP)).checkpoint == first  # until the next tick
    hub.sign_checkpoint()
    second = SignedNote.parse(hub.checkpoint_text(SUP)).checkpoint
    assert second.size == hub.record.size > first.size
    lines = list(hub.record_lines(BLUE, after=first.size, limit=10))
    assert len(lines) == 10 and f'"seq":{first.size + 1}' in lines[0]
    verify_consistency(first.size, second.size, hub.consistency(BLUE, first.size, second.size), first.root,
                       second.root)
    e = hub.record.entry(first.size + 3)
    assert e is not None
    verify_inclusion(e.leaf_hash(), e.seq - 1, second.size, hub.inclusion(BLUE, e.seq, second.size), second.root)
    # The record as blue sees it: red's notices to red only are withheld.
    red_only = [ln for ln in hub.record_lines(BLUE) if '"kind":"notice"' in ln and '"payload":null' in ln]
    assert len(red_only) == 20


def test_delivered_when_the_addressees_witness_cosigns_else_not_delivered(tmp_path: Path) -> None:
    """A REQUEST to red is `delivered` once a witnessed checkpoint covering it carries red's
    cosignature; one to blue, whose node never cosigns, raises `not_delivered` in time."""
    import time

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sharedsky.record.checkpoint import cosign
    from sharedsky.record.log import load_or_create_server_key, public_key_b64, server_key_path

    db = tmp_path / "s.db"
    log_key = public_key_b64(load_or_create_server_key(server_key_path(db)).public_key())
    wk = {p: Ed25519PrivateKey.generate() for p in ("blue", "red")}
    text = agreement_text() + f'\n[record]\nlog_key = "{log_key}"\nquorum = 1\ndeliver_within_s = 5\n' \
        "[record.witnesses]\n" + "".join(f'{p} = "{public_key_b64(k.public_key())}"\n' for p, k in wk.items())
    hub = Hub(loads_agreement(text), str(db))
    keys = {p: hub.keys.issue(p) for p in ("blue", "red")}
    blue = hub.keys.authenticate(keys["blue"].api_key)
    red = hub.keys.authenticate(keys["red"].api_key)
    assert blue is not None and red is not None
    deadline = time.time() + 600
    to_red = hub.post_message(blue, {"type": "REQUEST", "to": "red", "text": "turn south", "deadline": deadline})
    to_blue = hub.post_message(red, {"type": "REQUEST", "to": "blue", "text": "climb", "deadline": deadline})
    hub.sign_checkpoint()
    note = SignedNote.parse(hub.checkpoint_text(red))
    note.add("red", cosign(wk["red"], "red", note.body, int(time.time())))
    with pytest.raises(Exception, match="cosignature of 'blue'"):
        hub.cosign(blue, note.text())  # red's line is not blue's
    res = hub.cosign(red, note.text())
    assert res["witnessed"] and res["witnessed_size"] == note.checkpoint.size
    evs = [se.event for se in hub.events_for(SUP, to_red, 100)]
    got = [e for e in evs if e["kind"] == "delivered"]
    assert [(e["of_seq"], e["party"]) for e in got] == [(to_red, "red")]
    assert got[0]["sent_t"] <= got[0]["cosigned_t"] + 1
    hub.overdue_deliveries(time.time() + 1)  # within the agreement's 5 s: nothing yet
    assert not [se for se in hub.events_for(SUP, to_red, 100) if se.event["kind"] == "not_delivered"]
    hub.overdue_deliveries(time.time() + 6)
    hub.overdue_deliveries(time.time() + 7)  # raised once
    late = [se.event for se in hub.events_for(SUP, to_red, 100) if se.event["kind"] == "not_delivered"]
    assert [(e["of_seq"], e["party"]) for e in late] == [(to_blue, "blue")]
    # The sender is told its request did not reach blue's node.
    assert [se.event["of_seq"] for se in hub.events_for(red, to_red, 100) if se.event["kind"] == "not_delivered"] \
        == [to_blue]
