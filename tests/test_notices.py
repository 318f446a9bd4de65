"""Notified operations: volumes read and refused, the strategic check (space, levels,
time, buffers; the index against all pairs), versions and withdrawal (issue 17)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import box, shape

from sharedsky.agreement import loads_agreement
from sharedsky.alerting.notice_book import NoticeBook
from sharedsky.engine.notices import VolumeSet, circles, conflicts_between, conflicts_within
from sharedsky.ingest.notices import NoticeError, parse_notice, read_plan

AGREEMENT = """
[agreement]
name = "notices"
default_party = "unknown"
[[party]]
id = "blue"
name = "Blue"
[[party]]
id = "red"
name = "Red"
[[party]]
id = "unknown"
name = "Unknown"
[channels]
notice_lead_s = 3600
[notices]
buffer_nm = {buffer_nm}
purposes = [{{ name = "strike", priority = 2 }}, {{ name = "transit", priority = 1 }}]
"""
T0 = 1_700_000_000.0


def agreement(buffer_nm: float = 0.0):  # noqa: ANN201 - an Agreement
    return loads_agreement(AGREEMENT.format(buffer_nm=buffer_nm))


def square(lon0: float, lat0: float, lon1: float, lat1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]}


def notice(area: dict, floor: float = 10000, ceiling: float = 20000, start: float = T0 + 7200,
           end: float = T0 + 10800, **kw: object) -> dict:
    return {"area": area, "floor_ft": floor, "ceiling_ft": ceiling, "start": start, "end": end, **kw}


def send(book: NoticeBook, party: str, msg: dict, t: float = T0) -> list[dict]:
    spec = parse_notice(msg, book.config)
    op, ver = book.resolve(party, spec, 1)
    return book.apply(party, op, ver, spec, t)


def test_overlapping_notices_of_two_parties_give_one_conflict_with_the_overlap() -> None:
    book = NoticeBook(agreement())
    assert send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5), operation="b1", purpose="strike")) == []
    evs = send(book, "red", notice(square(36.3, 35.2, 37.0, 36.0), 15000, 30000, T0 + 9000, T0 + 20000,
                                   operation="r1", purpose="transit"))
    assert len(evs) == 1
    ev = evs[0]
    assert ev["kind"] == "notice_conflict" and ev["state"] == "new"
    assert ev["to"] == ["blue", "red"]  # one event, to each of the two parties
    region = shape(ev["overlap"])
    assert region.symmetric_difference(box(36.3, 35.2, 36.5, 35.5)).area < 1e-9
    assert (ev["floor_ft"], ev["ceiling_ft"]) == (15000, 20000)
    assert (ev["start"], ev["end"]) == ("2023-11-15T00:43:20Z", "2023-11-15T01:13:20Z")
    assert ev["gives_way"] == "red"  # transit gives way to strike
    assert ev["short_notice"] is False and ev["lead_s"] == 9000
    assert 0.2 * 0.3 * 60 * 60 * 0.8 < ev["overlap_area_nm2"] < 0.2 * 0.3 * 60 * 60 * 0.85


@pytest.mark.parametrize("other", [
    notice(square(36.5, 35.0, 37.0, 35.5)),  # shares an edge
    notice(square(36.0, 35.0, 36.5, 35.5), floor=20000, ceiling=30000),  # band on top
    notice(square(36.0, 35.0, 36.5, 35.5), start=T0 + 10800, end=T0 + 14400),  # starts as it ends
])
def test_touching_but_not_overlapping_is_no_conflict(other: dict) -> None:
    book = NoticeBook(agreement())
    send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5)))
    assert send(book, "red", other) == []


def test_same_party_volumes_never_conflict() -> None:
    book = NoticeBook(agreement())
    send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5), operation="a"))
    assert send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5), operation="b")) == []


def test_buffer_widens_each_volume_by_half() -> None:
    # Two circles 10 NM apart centre to centre, radius 4 NM: 2 NM between the edges.
    lat = 35.0
    dlon = float(10.0 / (60.0 * np.cos(np.radians(lat))))
    a = {"centre": [36.0, lat], "radius_nm": 4.0, "floor_ft": 0, "ceiling_ft": 10000, "start": T0 + 3600,
         "end": T0 + 7200}
    b = dict(a, centre=[36.0 + dlon, lat])
    for buffer_nm, expected in ((1.9, 0), (2.1, 1)):
        book = NoticeBook(agreement(buffer_nm))
        send(book, "blue", a)
        assert len(send(book, "red", b)) == expected, buffer_nm


def test_a_version_that_removes_the_overlap_ends_the_conflict_and_withdrawal_too() -> None:
    book = NoticeBook(agreement())
    send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5), operation="b1"))
    assert [e["state"] for e in send(book, "red", notice(square(36.2, 35.2, 36.8, 35.8), operation="r1"))] == ["new"]
    # Version 2 moves the overlap: updated.
    evs = send(book, "red", notice(square(36.4, 35.2, 36.8, 35.8), operation="r1"))
    assert [e["state"] for e in evs] == ["updated"]
    assert evs[0]["volumes"][1]["version"] == 2
    # Version 3 keeps clear: ended, to both.
    evs = send(book, "red", notice(square(36.5, 35.2, 36.8, 35.8), operation="r1", version=3))
    assert [(e["state"], e["reason"], e["to"]) for e in evs] == [("ended", "version", ["blue", "red"])]
    assert book.conflicts == {}
    evs = send(book, "red", notice(square(36.2, 35.2, 36.8, 35.8), operation="r1"))
    assert [e["state"] for e in evs] == ["new"]
    evs = send(book, "blue", {"operation": "b1", "withdraw": True})
    assert [(e["state"], e["reason"]) for e in evs] == [("ended", "withdrawn")]
    assert book.active(T0 + 8000)[0].operation == "red:r1"


def test_stale_versions_and_unknown_withdrawals_are_refused() -> None:
    book = NoticeBook(agreement())
    send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5), operation="b1", version=4))
    with pytest.raises(NoticeError, match="version: must be newer than the notified version 4"):
        send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5), operation="b1", version=4))
    with pytest.raises(NoticeError, match="no notified operation 'x9'"):
        send(book, "red", {"operation": "x9", "withdraw": True})


def test_short_notice_is_flagged() -> None:
    book = NoticeBook(agreement())
    send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5), start=T0 + 600, end=T0 + 7200))
    ev = send(book, "red", notice(square(36.2, 35.2, 36.8, 35.8), start=T0 + 1200, end=T0 + 3600))[0]
    assert ev["short_notice"] is True and ev["lead_s"] == 1200 and ev["required_lead_s"] == 3600


@pytest.mark.parametrize(("msg", "where"), [
    ({"area": square(36, 35, 36.5, 35.5), "floor_ft": 0, "ceiling_ft": 100, "start": T0, "end": T0 - 1}, "end"),
    ({"centre": [36, 35], "radius_nm": -1, "floor_ft": 0, "ceiling_ft": 100, "start": T0, "end": T0 + 1},
     "radius_nm"),
    ({"centre": [36, 35], "radius_nm": 5, "area": square(36, 35, 37, 36), "floor_ft": 0, "ceiling_ft": 100,
      "start": T0, "end": T0 + 1}, "area"),
    ({"volumes": [{"centre": [36, 35], "radius_nm": 5, "floor_ft": 9, "ceiling_ft": 1, "start": T0,
                   "end": T0 + 1}]}, "volumes[0].ceiling_ft"),
    ({"volumes": [{"centre": [36, 35], "radius": 5}]}, "volumes[0].radius"),
    ({"area": square(36, 35, 36.5, 35.5), "floor_ft": 0, "ceiling_ft": 100, "start": T0, "end": T0 + 1,
      "purpose": "picnic"}, "purpose"),
    ({"operation": "a b", "withdraw": True}, "operation"),
])
def test_bad_volumes_are_refused_naming_the_field(msg: dict, where: str) -> None:
    with pytest.raises(NoticeError) as exc:
        parse_notice(msg, agreement().notices)
    assert exc.value.field == where


def test_index_finds_exactly_the_pairs_all_pairs_find() -> None:
    rng = np.random.default_rng(7)
    n = 600
    lon, lat = rng.uniform(35, 39, n), rng.uniform(33, 37, n)
    r = rng.uniform(2, 15, n)
    geoms = circles(lon, lat, r)
    half = n // 2
    geoms[:half] = shapely.box(lon[:half], lat[:half], lon[:half] + r[:half] / 40, lat[:half] + r[:half] / 50)
    party = rng.integers(0, 4, n)
    floor = rng.choice([0, 5000, 10000, 20000], n).astype(float)
    ceil = floor + rng.choice([5000, 10000], n)
    start = (T0 + rng.integers(0, 24, n) * 1800.0).astype(np.float64)
    end = start + rng.choice([1800, 3600, 7200], n)
    vs = VolumeSet.build(party, geoms, floor, ceil, start, end, buffer_nm=1.0)
    got = conflicts_within(vs, 500.0, 60.0)
    i, j = np.triu_indices(n, 1)
    keep = ((party[i] != party[j]) & (floor[i] < ceil[j] + 500) & (floor[j] < ceil[i] + 500)
            & (start[i] < end[j] + 60) & (start[j] < end[i] + 60))
    i, j = i[keep], j[keep]
    hit = shapely.relate_pattern(vs.outline[i], vs.outline[j], "T********")
    assert set(zip(got.i.tolist(), got.j.tolist(), strict=True)) == set(zip(i[hit].tolist(), j[hit].tolist(),
                                                                            strict=True))
    assert len(got) > 20 and got.candidates < n * (n - 1) / 2 / 10
    # The same pairs found one new set against an indexed one.
    a = VolumeSet.build(party[:100], geoms[:100], floor[:100], ceil[:100], start[:100], end[:100], 1.0)
    b = VolumeSet.build(party[100:], geoms[100:], floor[100:], ceil[100:], start[100:], end[100:], 1.0)
    between = conflicts_between(a, b, 500.0, 60.0)
    expect = {(x, y - 100) for x, y in zip(got.i.tolist(), got.j.tolist(), strict=True) if x < 100 <= y}
    assert set(zip(between.i.tolist(), between.j.tolist(), strict=True)) == expect


def test_plan_files_json_geojson_csv(tmp_path) -> None:  # noqa: ANN001
    agr = agreement()
    book = NoticeBook(agr)
    send(book, "blue", notice(square(36.0, 35.0, 36.5, 35.5), operation="b1"))
    js = tmp_path / "plan.json"
    js.write_text(json.dumps({"notices": [notice(square(36.2, 35.2, 36.8, 35.8), operation="p1")]}))
    gj = tmp_path / "plan.geojson"
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [36.25, 35.25]},
        "properties": {"operation": "p2", "radius_nm": 3, "floor_ft": 0, "ceiling_ft": 15000,
                       "start": "2023-11-15T00:00:00Z", "end": "2023-11-15T01:00:00Z"}}]}))
    cs = tmp_path / "plan.csv"
    cs.write_text("operation,purpose,polygon,floor_ft,ceiling_ft,start,end\n"
                  f"p3,transit,\"36.6 35, 37 35, 37 35.5, 36.6 35.5\",0,40000,{T0},{T0 + 99999}\n"
                  f"p4,transit,\"36.4 35, 37 35, 37 35.5, 36.4 35.5\",0,40000,{T0},{T0 + 99999}\n")
    out = {p.name: book.check_plan("red", read_plan(p, agr.notices), T0) for p in (js, gj, cs)}
    assert [e["volumes"][1]["operation"] for e in out["plan.json"]] == ["red:p1"]
    assert len(out["plan.geojson"]) == 1 and out["plan.geojson"][0]["state"] == "planned"
    assert [e["volumes"][1]["operation"] for e in out["plan.csv"]] == ["red:p4"]
    assert book.conflicts == {}  # a check changes nothing
    bad = tmp_path / "bad.csv"
    bad.write_text("operation,polygon,floor_ft,ceiling_ft,start,end\nq,\"36 35, 37 35, 37 36\",0,x,0,1\n")
    with pytest.raises(NoticeError, match=r"bad.csv: line 2"):
        read_plan(bad, agr.notices)


# --- the tactical check: the assessment step over active volumes -------------------------

def fly_east(book: NoticeBook, t_from: float, t_to: float, lon0: float = 35.0, lat: float = 35.25,
             gs_kt: float = 480.0, alt_ft: float = 15000.0) -> list[dict]:
    """A blue aircraft flying east along `lat` at 1 Hz through the assessment step; its events."""
    from sharedsky.alerting.step import Assessment
    from sharedsky.ingest.snapshot import build_snapshot

    agr = book_agreement[0]
    step = Assessment.for_agreement(agr, airspace=False, distress=False, notice_book=book)
    deg_per_s = gs_kt / 3600.0 / (60.0 * np.cos(np.radians(lat)))
    out: list[dict] = []
    for t in np.arange(t_from, t_to, 1.0):
        lon = lon0 + deg_per_s * (t - t_from)
        one = np.ones(1)
        snap = build_snapshot(float(t), id=np.array(["aa0001"]), lat_deg=one * lat, lon_deg=one * lon,
                              alt_ft=one * alt_ft, track_deg=one * 90.0, gs_kt=one * gs_kt, vs_fpm=one * 0.0,
                              report_s=one * t, party=np.array([0]), parties=agr.party_ids,
                              callsign=np.array(["BLU1"], dtype=object))
        out.extend(e for e in step.step(snap).events if e["kind"] == "notice_volume")
    return out


book_agreement: list = []


def tactical_book(start: float, end: float) -> NoticeBook:
    agr = agreement()
    book_agreement[:] = [agr]
    book = NoticeBook(agr)
    send(book, "red", notice(square(36.0, 35.0, 36.5, 35.5), 10000, 20000, start, end, operation="strike"),
         t=T0 - 86400)
    return book


def test_an_aircraft_predicted_into_an_active_volume_is_warned_on_schedule() -> None:
    # 480 kt east from 35.0E: 1 deg of longitude at 35.25N is 49 NM, 367 s; the volume is active.
    evs = fly_east(tactical_book(T0 - 3600, T0 + 3600), T0, T0 + 520)
    states = [(e["state"], round(e["t"] - T0)) for e in evs]
    assert [s for s, _ in states] == ["advisory", "warning"] + ["violation"] * 6  # repeated every 30 s
    adv, warn, viol = evs[0], evs[1], evs[2]
    entry_s = viol["entry_t"] - T0
    assert 366 < entry_s < 369
    # Each stage at the first step it is due (1 Hz), and its predicted entry is the entry flown.
    assert 299 < adv["time_to_entry_s"] <= 300 and 119 < warn["time_to_entry_s"] <= 120
    for e in (adv, warn):
        assert e["entry_t"] - T0 == pytest.approx(entry_s, abs=2.0)
    assert adv["to"] == ["blue", "red"] and adv["operation"] == "red:strike" and adv["volume"] == "red:strike#0"
    assert adv["heading_to_avoid_deg"] is not None and "red's notified" in adv["message"]
    assert [e["repeat"] for e in evs[2:]] == [0, 1, 2, 3, 4, 5]


def test_no_warning_before_the_volume_starts_and_violation_measured_to_its_end() -> None:
    # The same flight; the volume starts 330 s in (37 s before entry): nothing before then,
    # then the warning stage at once (the advisory is not issued after it).
    evs = fly_east(tactical_book(T0 + 330, T0 + 420), T0, T0 + 520)
    assert all(e["t"] >= T0 + 330 for e in evs)
    assert [e["state"] for e in evs] == ["warning", "violation", "violation", "violation_end"]
    end = evs[-1]
    assert end["reason"] == "volume_ended" and end["exit_t"] == T0 + 420
    assert end["duration_s"] == pytest.approx(420 - (evs[1]["entry_t"] - T0), abs=0.01)
    assert end["max_depth_nm"] > 1.0


def test_an_entry_predicted_after_the_volume_ends_is_not_warned_and_own_volumes_are_not_watched() -> None:
    assert fly_east(tactical_book(T0 - 3600, T0 + 300), T0, T0 + 400) == []
    book = tactical_book(T0 - 3600, T0 + 3600)
    send(book, "red", {"operation": "strike", "withdraw": True}, t=T0 - 3600)
    assert fly_east(book, T0, T0 + 400) == []


def test_replay_watches_the_volumes_of_a_plan(tmp_path) -> None:  # noqa: ANN001
    """`sharedsky replay REC --agreement A --notices PLAN`: the plan's strategic conflict, then the
    tactical warning and violation of a coalition aircraft flying into Russia's active volume."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    t0 = 1_445_320_800  # 2015-10-20T06:00:00Z
    rows = ["timestamp,icao24,callsign,latitude,longitude,altitude,groundspeed,track,vertical_rate"]
    deg_per_s = 480 / 3600 / (60 * np.cos(np.radians(35.25)))
    rows += [f"{t0 + s},ae0001,DUDE11,35.25,{35.3 + deg_per_s * s:.6f},15000,480,90,0" for s in range(0, 270)]
    rec = tmp_path / "rec.csv"
    rec.write_text("\n".join(rows) + "\n")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([
        dict(notice(square(36.0, 35.0, 36.5, 35.5), 10000, 20000, t0 - 60, t0 + 3600, operation="strike"),
             party="russia", purpose="strike"),
        dict(notice(square(36.4, 35.4, 36.8, 35.8), 15000, 25000, t0, t0 + 1800, operation="isr"),
             party="coalition", purpose="isr")]))
    run = subprocess.run([sys.executable, "-m", "sharedsky.cli", "replay", str(rec), "--agreement",
                          str(repo / "examples" / "syria-2015.toml"), "--notices", str(plan)],
                         capture_output=True, text=True, cwd=repo, timeout=300)
    assert run.returncode == 0, run.stderr
    evs = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(e["state"], e["gives_way"]) for e in evs if e["kind"] == "notice_conflict"] == [("new", "coalition")]
    states = [e["state"] for e in evs if e["kind"] == "notice_volume"]
    assert states[:3] == ["advisory", "warning", "violation"]  # entry 4.5 min ahead at the start
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([dict(notice(square(36.0, 35.0, 36.5, 35.5)), party="nobody")]))
    run = subprocess.run([sys.executable, "-m", "sharedsky.cli", "replay", str(rec), "--agreement",
                          str(repo / "examples" / "syria-2015.toml"), "--notices", str(bad)],
                         capture_output=True, text=True, cwd=repo, timeout=300)
    assert run.returncode == 2 and "notices[0].party: must be a party of the agreement" in run.stderr


def test_an_ended_volume_leaves_nothing_behind_in_the_watch() -> None:
    """The watch keeps, per volume, its warning times, when it last forgot them, its zone and
    its reach; once the volume has ended, none of it can matter again, and a service that runs
    for months (and carries the watch over restarts) must not keep every volume ever notified."""
    from sharedsky.alerting.step import Assessment
    from sharedsky.ingest.snapshot import build_snapshot

    book = tactical_book(T0 + 30, T0 + 400)  # warned, entered at 367 s, then the volume ends
    agr = book_agreement[0]
    step = Assessment.for_agreement(agr, airspace=False, distress=False, notice_book=book)
    watch = step.notices
    assert watch is not None
    deg_per_s = 480.0 / 3600.0 / (60.0 * np.cos(np.radians(35.25)))
    seen: set[str] = set()
    for t in np.arange(T0, T0 + 460, 1.0):
        one = np.ones(1)
        snap = build_snapshot(float(t), id=np.array(["aa0001"]), lat_deg=one * 35.25,
                              lon_deg=one * (35.0 + deg_per_s * (t - T0)), alt_ft=one * 15000.0,
                              track_deg=one * 90.0, gs_kt=one * 480.0, vs_fpm=one * 0.0, report_s=one * t,
                              party=np.array([0]), parties=agr.party_ids,
                              callsign=np.array(["BLU1"], dtype=object))
        seen |= {e["state"] for e in step.step(snap).events if e["kind"] == "notice_volume"}
        if t == T0 + 300:  # while the volume is active, the watch holds its warning times
            assert watch.schedule.last_issue and watch._zone_of
    assert {"advisory", "warning", "violation", "violation_end"} <= seen
    assert watch.schedule.last_issue == {} and watch.schedule.forgotten_s == {}
    assert watch._zone_of == {} and watch._reach_nm == {}
