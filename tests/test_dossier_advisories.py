"""Who was told which manoeuvre, and who acknowledged it: the incident dossier of a conflict
cites the resolution advisories and well-clear alerts of its aircraft (issue 13: advice on the
line is recorded and acknowledged like a warning; before, dossiers left them out). On a real
`sharedsky serve` on loopback: each party's dossier states its own advice word for word and
cites the other party's as withheld, and `sharedsky verify` accepts both offline and refuses
one whose advice was altered.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from service_support import Collector, Server, agreement_text, converging, issue_keys
from sharedsky.client import Client

from conftest import run_cli

pytestmark = pytest.mark.timeout(180)


def _new(stream: Collector, kind: str) -> dict:
    return stream.wait_for(lambda e: e.get("kind") == kind and e.get("state") == "new", timeout=15)[1]


def _checkpoint_size(url: str, key: str) -> int:
    text = httpx.get(f"{url}/api/v1/checkpoint", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
    return int(text.splitlines()[1])


def test_the_dossier_states_each_partys_advice_and_its_acknowledgement(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(agreement_text(resolution=True, wellclear=True))
    keys = issue_keys(tmp_path / "s.db")
    srv = Server(tmp_path / "a.toml", tmp_path / "s.db").start()
    try:
        blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
        blue_stream, red_stream = Collector(Client(srv.url, keys.blue)), Collector(Client(srv.url, keys.red))
        b, r = converging(time.time(), "aa0300", "bb0300")
        r["longitude"] = 36.3
        blue.push_reports([b])
        red.push_reports([r])
        conflict = _new(blue_stream, "conflict")
        mine, theirs = _new(blue_stream, "advisory"), _new(red_stream, "advisory")
        _new(blue_stream, "wellclear")
        ack_seq = blue.ack(mine["seq"])["seq"]
        deadline = time.time() + 20
        while _checkpoint_size(srv.url, keys.sup) < ack_seq:
            assert time.time() < deadline, "no checkpoint covers the acknowledgement"
            time.sleep(0.3)

        def dossier(key: str, name: str) -> tuple[str, Path]:
            got = httpx.get(f"{srv.url}/api/v1/dossier", params={"seq": conflict["seq"]},
                            headers={"Authorization": f"Bearer {key}"}, timeout=120)
            assert got.status_code == 200, got.text
            path = tmp_path / name
            path.write_bytes(got.content)
            res = run_cli("verify", str(path), "--agreement", str(tmp_path / "a.toml"))
            assert res.returncode == 0, res.stdout + res.stderr
            return got.text, path

        text, path = dossier(keys.blue, "blue.html")
        said = f"resolution advisory new for BLU1 (aa0300) of blue: {mine['text']}"
        assert said in text
        assert "Resolution advisories shown: 1; aa0300 (blue)" in text and f"(entry {ack_seq})" in text
        assert "well-clear alert new for aa0300 of blue: level" in text
        # Red's advice went to red only: blue's dossier cites it, withheld.
        assert f'data-seq="{theirs["seq"]}"' in text and theirs["text"] not in text
        # Advice altered after the fact is refused.
        path.write_text(text.replace(said, said.replace(mine["text"], "Turn left 90 deg")))
        res = run_cli("verify", str(path), "--agreement", str(tmp_path / "a.toml"))
        assert res.returncode != 0, res.stdout

        text, _ = dossier(keys.red, "red.html")
        assert f"resolution advisory new for RED1 (bb0300) of red: {theirs['text']}" in text
        assert "bb0300 (red)" in text and "not acknowledged here" in text
        assert mine["text"] not in text
    finally:
        srv.stop()


def test_dossiers_know_every_kind_of_event_the_line_records() -> None:
    """A kind the service records but dossiers do not know would be left out of every dossier."""
    from sharedsky.reports.dossier_facts import EVENT_KINDS as CITED
    from sharedsky.service.store import EVENT_KINDS as RECORDED

    assert set(RECORDED) == set(CITED)


@pytest.mark.parametrize("name", ["advisory", "wellclear"])
def test_a_format_2_dossier_of_advice_still_verifies(name: str) -> None:
    """Written by sharedsky 7552e3c (tests/data/dossier-v2/README.md): format 3 states advice
    word for word, format 2 stated it as a generic line; both must verify (format 3's
    verifier refused these before it knew format 2 from 3)."""
    d = Path(__file__).parent / "data" / "dossier-v2"
    text = (d / f"{name}.html").read_text()
    assert '"format": "sharedsky-dossier/2"' in text or '"format":"sharedsky-dossier/2"' in text
    res = run_cli("verify", str(d / f"{name}.html"), "--agreement", str(d / "agreement.toml"))
    assert res.returncode == 0 and "every fact shown matches them" in res.stdout, res.stdout + res.stderr


def test_an_advisory_ended_without_text_reads_whole() -> None:
    """An advisory ended because its aircraft is gone has no text, and without distress
    frequencies no channel: the line must not end in a space (the page's parser strips it,
    and a genuine dossier was refused)."""
    import json

    from sharedsky.record.log import Entry
    from sharedsky.reports.dossier_facts import describe

    ev = {"kind": "advisory", "state": "end", "id": "advisory-aa0300-1", "icao24": "aa0300", "party": "blue",
          "reason": "gone"}
    e = Entry(9, 1.8e9, "advisory", "", json.dumps({"to": ["blue"], "event": ev}), "00", "c", None, "s")
    line = describe(e)
    assert line == "resolution advisory end for (aa0300) of blue: gone", line
    assert line == line.strip()
