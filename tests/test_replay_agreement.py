"""Replay and detect driven by an agreement: attribution, minima per pair, levels."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from conftest import REPO, run_cli

SYRIA = str(REPO / "examples" / "syria-2015.toml")


def conflict_events(stdout: str) -> list[tuple]:
    out = []
    for line in stdout.splitlines():
        e = json.loads(line)
        if e["kind"] in ("conflict", "loss_of_separation"):
            out.append((e["kind"], e["state"], e["a"], e["b"], e["t"], e.get("t_in_s"),
                        e.get("d_cpa_nm"), e.get("min_d_nm")))
    return out


def test_detect_with_agreement_names_parties_and_levels(tmp_path: Path) -> None:
    # A coalition (ae....) and a Russian (14....) aircraft closing head-on, level;
    # a civil airliner far away.
    p = tmp_path / "s.csv"
    p.write_text(
        "id,lat,lon,alt_ft,track_deg,gs_kt,vs_fpm,callsign\n"
        "ae1234,35.0,38.0,25000,90,480,0,\n"
        "150001,35.0,38.3,25000,270,480,0,\n"
        "4ca123,36.5,39.0,25000,270,480,0,THY123\n"
    )
    r = run_cli("detect", str(p), "--agreement", SYRIA)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(recs) == 1
    assert {recs[0]["party_a"], recs[0]["party_b"]} == {"coalition", "russia"}
    assert recs[0]["level"] == "warning"  # 3 NM hard minimum: they meet head-on
    assert (recs[0]["a"], recs[0]["b"]) == ("150001", "ae1234")


def test_detect_agreement_errors_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("id,lat,lon,alt_ft,track_deg,gs_kt,vs_fpm,party\nae1234,35,38,25000,90,480,0,martians\n")
    r = run_cli("detect", str(p), "--agreement", SYRIA)
    assert r.returncode == 2 and "line 2, field party: unknown party 'martians'" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[agreement]\nname = 1\n")
    r = run_cli("detect", str(p), "--agreement", str(bad))
    assert r.returncode == 2 and "bad.toml" in r.stderr and r.stdout == ""


def formation(shared_data: Path, tmp_path: Path) -> Path:
    """The recorded tanker (FAF4011), its first 40 minutes, plus two receivers flying formation on it.

    ../shared/data/adsb/inflight_refuelling.json.gz holds only the tanker's track, so
    the receivers are the tanker's own reports offset 0.3 NM behind and 0.2 NM aside,
    200 and 400 ft below, with their own addresses and FAF callsigns (same party).
    """
    with gzip.open(shared_data / "adsb" / "inflight_refuelling.json.gz", "rt") as fh:
        rows = json.load(fh)
    df = pd.DataFrame(rows)
    df = df[df["timestamp"] < df["timestamp"].min() + 40 * 60 * 1000]  # the first 40 min of the track
    frames = [df]
    for k, (dlat, dlon, dz) in enumerate([(-0.004, 0.003, -200.0), (-0.005, -0.003, -400.0)]):
        r = df.copy()
        r["icao24"] = f"3b777{k + 8}"
        r["callsign"] = f"FAF40{12 + k}"
        r["latitude"] = r["latitude"] + dlat
        r["longitude"] = r["longitude"] + dlon
        r["altitude"] = r["altitude"] + dz
        frames.append(r)
    out = tmp_path / "formation.json.gz"
    with gzip.open(out, "wt") as fh:
        json.dump(pd.concat(frames).sort_values("timestamp").to_dict(orient="records"), fh)
    return out


def test_same_party_formation_no_alert_unless_asked(shared_data: Path, tmp_path: Path) -> None:
    f = formation(shared_data, tmp_path)
    quiet = run_cli("replay", str(f), "--agreement", SYRIA, "--summary-only")
    assert quiet.returncode == 0, quiet.stderr
    s = json.loads(quiet.stdout.splitlines()[-1])
    assert s["events"].get("conflict_new", 0) == 0
    assert s["losses_of_separation"] == 0
    loud = run_cli("replay", str(f), "--agreement", SYRIA, "--same-party", "--summary-only")
    s2 = json.loads(loud.stdout.splitlines()[-1])
    assert s2["events"].get("conflict_new", 0) >= 2
    assert s2["losses_of_separation"] >= 2


def test_attribution_vectorised_matches_rules() -> None:
    from sharedsky.agreement import load_agreement

    agr = load_agreement(SYRIA)
    icao = np.array(["ae0001", "140abc", "4b8001", "778001", "4ca123", "000000"])
    cs = np.array(["", "", "", "", "THY123", ""])
    got = [agr.party_ids[k] for k in agr.attribute(icao, cs)]
    assert got[:5] == ["coalition", "russia", "turkey", "syria", "civil"]
    assert got[5] == agr.default_party
