"""The incident dossier (issue 16): built from a real service record with real witnesses, checked offline.

One record is flown through the service on loopback (`dossier_support`): a red aircraft enters
blue's airspace after its warning while a blue aircraft passes 500 ft above it. The dossier of
the loss of separation verifies with the agreement's keys; one digit changed in a cited time, a
position or a warning makes `verify` fail and name the entry; red's dossier from its own copy
shows blue's withheld entries as withheld and still verifies; the PDF's pages are turned into
images and read.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from dossier_support import IncidentRecord
from sharedsky.agreement import load_agreement
from sharedsky.record.notary import trust_of
from sharedsky.reports.dossier import verify_dossier

from conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def incident(incident_record: IncidentRecord) -> IncidentRecord:
    return incident_record


@pytest.fixture(scope="module")
def dossier(incident: IncidentRecord, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dossier")
    res = run_cli("report", str(incident.db), "--agreement", str(incident.agreement), "--seq",
                  str(incident.los_seq), "--out", str(out))
    assert res.returncode == 0, res.stderr
    return out


def _verify(path: Path, incident: IncidentRecord) -> tuple[int, str]:
    res = run_cli("verify", str(path), "--agreement", str(incident.agreement))
    return res.returncode, res.stdout + res.stderr


def _tampered(src: Path, dst: Path, pattern: str) -> tuple[Path, int]:
    """A copy of the dossier with the last digit of the first match of `pattern` changed; the row's seq."""
    text = src.read_text()
    m = re.search(pattern, text)
    assert m is not None, pattern
    i = m.end(1) - 1
    digit = text[i]
    assert digit.isdigit()
    dst.write_text(text[:i] + str((int(digit) + 1) % 10) + text[i + 1:])
    seq = int(re.findall(r'data-seq="(\d+)"', text[:i])[-1])
    return dst, seq


def test_dossier_verifies_and_names_a_changed_digit(incident: IncidentRecord, dossier: Path,
                                                     tmp_path: Path) -> None:
    html = dossier / "dossier.html"
    code, out = _verify(html, incident)
    assert code == 0, out
    assert "every fact shown matches them; witnessed by blue, red" in out
    text = html.read_text()
    assert "http://" not in text and "https://" not in text  # nothing fetched: self-contained
    assert '<script type="application/json" id="sharedsky-dossier">' in text
    assert f'data-seq="{incident.airspace_seq}"' in text and f'data-seq="{incident.request_seq}"' in text
    assert "Closest approach (from the reported positions)" in text and 'class="withheld"' not in text

    # A position in the track table, the time of the airspace warning, the distance it states.
    cases = {
        "position": r'data-table="track"><td>\d+</td><td>[^<]+</td><td>RED11</td><td>bb0101</td><td>(35\.\d+)</td>',
        "time": rf'data-seq="{incident.airspace_seq}" data-table="timeline"><td>\d+</td><td>(\d\d:\d\d:\d\d)',
        "warning": rf'data-seq="{incident.airspace_seq}" data-table="timeline">.*?entry in (\d+) s',
    }
    # and the time of the incident in the title
    cases["title"] = rf'data-seq="{incident.los_seq}" data-table="title">[^<]*(\d\d:\d\d:\d\d)'
    ag = load_agreement(incident.agreement)
    trust = trust_of(ag)
    for what, pattern in cases.items():
        bad, seq = _tampered(html, tmp_path / f"{what}.html", pattern)
        res = verify_dossier(bad.read_text(), trust, ag)  # in process: the CLI's own check, faster
        assert not res.ok, what
        assert any(p.startswith(f"entry {seq}: ") and "differs from the proven entry" in p for p in res.problems), \
            (what, res.problems)
    code, out = _verify(bad, incident)
    assert code == 1 and f"REFUSED, entry {seq}: " in out, out

    # The frame round the entries: a minimum of the agreement, a key's fingerprint, the checkpoint's size.
    frame = {"rules that applied": r'data-table="rules">warning: (\d+) NM',
             "keys table": r'data-table="keys"><td>[^<]*</td><td>([0-9a-f ]*?\d)',
             "note of what it was built from": r'proven in the checkpoint of (\d+) entries'}
    for what, pattern in frame.items():
        bad, _ = _tampered(html, tmp_path / "frame.html", pattern)
        res = verify_dossier(bad.read_text(), trust, ag)
        assert [p for p in res.problems if p.startswith(f"the dossier's {what}: the HTML differs")] == res.problems, \
            (what, res.problems)
    code, out = _verify(bad, incident)
    assert code == 1 and "REFUSED, the dossier's note of what it was built from: the HTML differs" in out, out

    # The proof itself changed (the request's text in the embedded JSON): that entry's proof fails.
    text = html.read_text()
    i = text.index("turn south now", text.index('id="sharedsky-dossier"'))
    (tmp_path / "proof.html").write_text(text[:i] + "turn north now" + text[i + len("turn south now"):])
    code, out = _verify(tmp_path / "proof.html", incident)
    assert code == 1 and f"entry {incident.request_seq}: the proof does not verify" in out, out


def test_party_copy_shows_withheld_and_verifies(incident: IncidentRecord, tmp_path: Path) -> None:
    note = incident.red_copy.parent / "witness-red" / "witnessed.note"
    res = run_cli("report", str(incident.red_copy), "--agreement", str(incident.agreement), "--seq",
                  str(incident.airspace_seq), "--out", str(tmp_path), "--no-pdf")
    assert res.returncode == 2 and "give --checkpoint" in res.stderr, res.stderr
    res = run_cli("report", str(incident.red_copy), "--agreement", str(incident.agreement), "--seq",
                  str(incident.airspace_seq), "--checkpoint", str(note), "--out", str(tmp_path), "--no-pdf")
    assert res.returncode == 0, res.stderr
    html = tmp_path / "dossier.html"
    text = html.read_text()
    assert "a copy of the record held by a party (payloads of blue withheld" in text
    withheld = re.findall(r'<tr class="withheld" data-seq="(\d+)" data-table="timeline"><td>\d+</td><td>[^<]+</td>'
                          r'<td>blue</td>', text)
    assert withheld, "blue's withheld entries are shown as withheld"
    code, out = _verify(html, incident)
    assert code == 0, out
    assert "of them withheld from the copy it was built from" in out


def test_pdf_pages_as_images(incident: IncidentRecord, dossier: Path) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    pdf = pdfium.PdfDocument(str(dossier / "dossier.pdf"))
    assert len(pdf) >= 2
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    html = (dossier / "dossier.html").read_text()
    closest = re.search(r"Closest approach \(from the reported positions\): ([\d.]+ NM and \d+ ft at [\d:.]+Z)", html)
    assert closest is not None
    flat = re.sub(r"\s+", " ", text)
    assert closest.group(1) in flat
    los = re.search(r"Loss of separation from ([\d:.]+Z)", html)
    assert los is not None and los.group(1) in flat
    page = np.asarray(pdf[0].render(scale=1.0).to_pil().convert("RGB")).astype(int)
    lower = page[page.shape[0] // 2:, :]  # the map is on the lower half of the first page
    assert (lower.min(axis=2) < 250).mean() > 0.04, "the map area is blank"
    for colour in ((0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28)):  # both parties' tracks, in their colours
        assert (np.abs(page - np.array(colour)).max(axis=2) < 40).sum() > 30, colour


def test_pdf_without_chromium_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sharedsky.commands import report

    monkeypatch.setattr(report, "CHROMIUM", ("no-such-chromium",))
    (tmp_path / "d.html").write_text("<html></html>")
    with pytest.raises(RuntimeError, match="headless chromium was not found"):
        report.print_pdf(tmp_path / "d.html", tmp_path / "d.pdf")


def test_unwitnessed_record_without_log_key(tmp_path: Path) -> None:
    """An agreement that names neither log key nor witnesses: proofs against the latest signed
    checkpoint, said in the dossier; verify checks with the key the dossier carries and warns."""
    from service_support import agreement_text
    from sharedsky.record.log import Record
    from sharedsky.record.notary import Notary

    (tmp_path / "a.toml").write_text(agreement_text())
    ag = load_agreement(tmp_path / "a.toml")
    rec = Record(tmp_path / "s.db")
    t0 = float(int(time.time())) + 10  # after the genesis entry: times grow with seq
    for k in range(5):
        cols = {"n": 1, "t_s": [t0 + k], "icao24": ["aa0001"], "callsign": ["BLU1"], "latitude": [35.0 + 0.01 * k],
                "longitude": [36.0], "altitude": [20000.0], "groundspeed": [400.0], "track": [0.0]}
        rec.append("reports", "blue", {"source": "blue", "columns": cols}, t=t0 + k)
    Notary(rec, trust_of(ag, rec.public_key)).sign()
    rec.close()
    res = run_cli("report", str(tmp_path / "s.db"), "--agreement", str(tmp_path / "a.toml"), "--aircraft", "aa0001",
                  "--from", str(t0 - 1), "--to",
                  datetime.fromtimestamp(t0 + 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "--out", str(tmp_path), "--no-pdf")
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "dossier.html").read_text()
    assert "NOT witnessed" in text and text.count('data-table="track"') == 5
    code, out = _verify(tmp_path / "dossier.html", IncidentRecord(tmp_path / "a.toml", tmp_path / "s.db",
                                                                   tmp_path, 0, 0, 0))
    assert code == 0 and "WARNING, the agreement names no log key" in out and "OK, 5 cited entries" in out, out
