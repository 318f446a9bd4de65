"""The service's side of the Merkle record: events beyond memory, sync after a seq, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharedsky.agreement import loads_agreement
from sharedsky.record.checkpoint import SignedNote
from sharedsky.record.keys import KeyInfo
from sharedsky.record.merkle import verify_consistency, verify_inclusion
from sharedsky.service import store
from sharedsky.service.store import Hub

from service_support import agreement_text

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
    second = SignedNote.parse(hub.checkpoint_text(SUP)).checkpoint
    assert second.size == hub.record.size > first.size
    lines = list(hub.record_lines(BLUE, after=first.size, limit=10))
    assert len(lines) == 10 and '"seq":%d' % (first.size + 1) in lines[0]
    verify_consistency(first.size, second.size, hub.consistency(BLUE, first.size, second.size), first.root,
                       second.root)
    e = hub.record.entry(first.size + 3)
    assert e is not None
    verify_inclusion(e.leaf_hash(), e.seq - 1, second.size, hub.inclusion(BLUE, e.seq, second.size), second.root)
    # The record as blue sees it: red's notices to red only are withheld.
    red_only = [ln for ln in hub.record_lines(BLUE) if '"kind":"notice"' in ln and '"payload":null' in ln]
    assert len(red_only) == 20
