"""`sharedsky replay sbs://...`: the engine runs on a live feed served on loopback."""

from __future__ import annotations

import json

from test_feeds_stream import OneShotServer

from conftest import run_cli


def sbs_lines() -> bytes:
    """Two aircraft head-on at FL350, 20 NM apart, reporting every second for 30 s."""
    out = []
    for k in range(30):
        ts = f"2024/03/01,10:00:{k:02d}.000"
        # 450 kt = 0.125 NM/s; 1 NM of longitude at 46N is 1/(60 cos 46) deg.
        dlon = 0.125 * k / (60 * 0.6947)
        for hexid, lon0, sign, trk in (("4CA001", 7.0, 1, 90.0), ("4CA002", 7.48, -1, 270.0)):
            lon = lon0 + sign * dlon
            out.append(f"MSG,3,1,1,{hexid},1,{ts},{ts},,35000,,,46.0,{lon:.5f},,,0,0,0,0")
            out.append(f"MSG,4,1,1,{hexid},1,{ts},{ts},,,450,{trk},,,0,,0,0,0,0")
    return ("\n".join(out) + "\n").encode()


def test_replay_runs_the_engine_on_a_live_sbs_feed() -> None:
    server = OneShotServer([sbs_lines()])
    try:
        r = run_cli("replay", f"sbs://127.0.0.1:{server.port}", "--all-pairs", "--duration-s", "4",
                    timeout=60)
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    summary = rows[-1]
    assert summary["kind"] == "summary" and summary["aircraft"] == 2
    new = [e for e in rows if e.get("kind") == "conflict" and e["state"] == "new"]
    assert [(e["a"], e["b"]) for e in new] == [("4ca001", "4ca002")]
    # 20 NM closing at 900 kt: separation (5 NM) lost 60 s after the first report.
    first = new[0]
    assert abs(first["t"] + first["t_in_s"] - (summary_start(summary) + 60.0)) < 3.0


def summary_start(summary: dict) -> float:
    from datetime import datetime

    return datetime.fromisoformat(summary["start"]).timestamp()
