"""`sharedsky detect`: output, agreement with the engine, and every bad-input case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

HEADER = "id,lat,lon,alt_ft,track_deg,gs_kt,vs_fpm\n"
GOOD = HEADER + "B,45,7.5,35000,270,450,0\nA,45,7,35000,90,450,0\nC,45,7.5,34000,270,450,0\n"


def write(tmp_path: Path, text: str, name: str = "states.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_detect_writes_sorted_conflicts_and_timing(tmp_path: Path) -> None:
    r = run_cli("detect", str(write(tmp_path, GOOD)), "--repeat", "5")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(x["a"], x["b"]) for x in recs] == [("A", "B")]  # C is exactly 1,000 ft below
    assert set(recs[0]) >= {"a", "b", "t_in_s", "t_out_s", "t_cpa_s", "d_cpa_nm", "dz_cpa_ft"}
    assert 0 < recs[0]["t_in_s"] < recs[0]["t_cpa_s"] < recs[0]["t_out_s"] <= 300
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("detect: 3 aircraft, 1 conflicts, median ")
    assert line.endswith(" ms over 5 passes")


def test_detect_options_change_minima(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    r = run_cli("detect", str(p), "--vertical-ft", "1000.5")
    assert len(r.stdout.splitlines()) == 3  # A-C and B-C now too close vertically
    r = run_cli("detect", str(p), "--lookahead-s", "10")
    assert r.stdout == ""  # 31 NM apart: nothing within 10 s


def test_detect_party_column_checks_only_cross_party(tmp_path: Path) -> None:
    text = HEADER.strip() + ",party\n" + "\n".join(
        line + ("," + p) for line, p in zip(GOOD.splitlines()[1:], ["red", "red", "blue"], strict=True)
    ) + "\n"
    p = write(tmp_path, text)
    r = run_cli("detect", str(p), "--vertical-ft", "1001")
    pairs = [(json.loads(x)["a"], json.loads(x)["b"]) for x in r.stdout.splitlines()]
    assert pairs == [("A", "C"), ("B", "C")]
    r = run_cli("detect", str(p), "--vertical-ft", "1001", "--same-party")
    assert len(r.stdout.splitlines()) == 3


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("", "empty file"),
        (HEADER, "no aircraft"),
        ("id,lat,lon,alt_ft,track_deg,gs_kt\nA,45,7,35000,90,450\n", "line 1: missing column(s) vs_fpm"),
        (HEADER + "A,45,7,35000,90,450,0\nB,45,seven,35000,90,450,0\n", "line 3, field lon: not a number: 'seven'"),
        (HEADER + "A,45,7,35000,90,450,0\nB,45,7,,90,450,0\n", "line 3, field alt_ft: not a number: ''"),
        (HEADER + "A,45,7,35000,90,450,nan\n", "line 2, field vs_fpm: not a number"),
        (HEADER + "A,91,7,35000,90,450,0\n", "line 2, field lat: latitude out of range"),
        (HEADER + "A,45,7,35000,90,450,0\nB,45,-181,35000,90,450,0\n", "line 3, field lon: longitude out of range"),
        (HEADER + "A,45,7,35000,90,450,0\nB,45,8,35000,90,450,0\nA,46,7,35000,90,450,0\n",
         "line 4, field id: duplicate id 'A' (first on line 2)"),
        (HEADER + "A,45,7,35000,90,-5,0\n", "line 2, field gs_kt: negative ground speed"),
        (HEADER + ",45,7,35000,90,450,0\n", "line 2, field id: empty id"),
        (HEADER + "A,45,7,35000,90,450,0,extra\n", "line 2: 8 fields, the header has 7"),
        (HEADER + "A,45,7,35000,90,450,0\n\n\nB,45,7,abc,90,450,0\n", "line 3: blank line"),
        (HEADER + "A,45,7,35000,999,450,0\n", "line 2, field track_deg: track out of range"),
    ],
)
def test_detect_bad_input_exits_2_naming_line_and_field(tmp_path: Path, text: str, expect: str) -> None:
    r = run_cli("detect", str(write(tmp_path, text)))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert expect in r.stderr
    assert r.stderr.startswith("detect: ")


def test_detect_missing_file_and_bad_options(tmp_path: Path) -> None:
    r = run_cli("detect", str(tmp_path / "nope.csv"))
    assert r.returncode == 2 and "no such file" in r.stderr and r.stdout == ""
    r = run_cli("detect", str(write(tmp_path, GOOD)), "--horizontal-nm", "-1")
    assert r.returncode == 2 and r.stdout == ""
    r = run_cli("detect", str(write(tmp_path, GOOD)), "--repeat", "0")
    assert r.returncode == 2 and r.stdout == ""


def test_detect_large_random_file_matches_engine(tmp_path: Path) -> None:
    from sharedsky.engine.separation import detect

    from test_separation_engine import ALL, random_traffic, snap_of

    lat, lon, alt, trk, gs, vs = random_traffic(2000, 5)
    ids = [f"{k:05d}" for k in range(2000)]
    rows = "".join(
        f"{i},{a:.6f},{o:.6f},{z:.1f},{t:.3f},{g:.3f},{v:.1f}\n"
        for i, a, o, z, t, g, v in zip(ids, lat, lon, alt, trk, gs, vs, strict=True)
    )
    r = run_cli("detect", str(write(tmp_path, HEADER + rows)))
    assert r.returncode == 0, r.stderr
    got = [(json.loads(x)["a"], json.loads(x)["b"]) for x in r.stdout.splitlines()]
    rd = lambda x, n: np.round(x, n)  # noqa: E731 - same rounding as the file
    s = snap_of(rd(lat, 6), rd(lon, 6), rd(alt, 1), rd(trk, 3), rd(gs, 3), rd(vs, 1), ids=ids)
    c = detect(s, ALL)
    assert got == [(ids[a], ids[b]) for a, b in zip(c.a, c.b, strict=True)]
    assert len(got) > 20
