"""`sharedsky detect STATES.csv`: conflicts among aircraft states given at one instant."""

from __future__ import annotations

import csv
import json
import statistics
import sys
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

from sharedsky.alerting.step import Assessment
from sharedsky.commands.common import fail, load_agreement_or_fail, uniform_levels
from sharedsky.ingest.snapshot import Snapshot

REQUIRED = ("id", "lat", "lon", "alt_ft", "track_deg", "gs_kt", "vs_fpm")
NUMERIC = REQUIRED[1:]


class StatesError(ValueError):
    """Bad states file: names the line and the field."""


def _check_shape(path: Path) -> None:
    """Every line has as many fields as the header; no blank lines (pandas would skip
    them and shift every line number after them)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            header = next(rows, None)
            if header is None:
                raise StatesError(f"{path}: empty file (expected a header {','.join(REQUIRED)})")
            for n, row in enumerate(rows, start=2):
                if not row or all(not f.strip() for f in row):
                    raise StatesError(f"{path} line {n}: blank line")
                if len(row) != len(header):
                    raise StatesError(
                        f"{path} line {n}: {len(row)} fields, the header has {len(header)}"
                    )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise StatesError(f"{path}: cannot read CSV: {exc}") from exc


def read_states(path: Path) -> pd.DataFrame:
    """Read and validate a states CSV; line numbers count the header as line 1."""
    _check_shape(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True,
                         index_col=False)
    except pd.errors.EmptyDataError as exc:
        raise StatesError(f"{path}: empty file (expected a header {','.join(REQUIRED)})") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise StatesError(f"{path}: cannot read CSV: {exc}") from exc
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise StatesError(f"{path} line 1: missing column(s) {', '.join(missing)}")
    if df.shape[0] == 0:
        raise StatesError(f"{path}: no aircraft (only a header)")
    out = pd.DataFrame({"id": df["id"].str.strip()})
    empty_id = out["id"] == ""
    if empty_id.any():
        raise StatesError(f"{path} line {int(np.argmax(empty_id.to_numpy())) + 2}, field id: empty id")
    for c in NUMERIC:
        raw = df[c].str.strip()
        val = pd.to_numeric(raw, errors="coerce")
        bad = val.isna() | ~np.isfinite(val.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            k = int(np.argmax(bad.to_numpy()))
            raise StatesError(f"{path} line {k + 2}, field {c}: not a number: {raw.iloc[k]!r}")
        out[c] = val.astype(float)
    checks = (
        ("lat", (out["lat"] < -90) | (out["lat"] > 90), "latitude out of range [-90, 90]"),
        ("lon", (out["lon"] < -180) | (out["lon"] > 180), "longitude out of range [-180, 180]"),
        ("gs_kt", out["gs_kt"] < 0, "negative ground speed"),
        ("track_deg", (out["track_deg"] < 0) | (out["track_deg"] > 360),
         "track out of range [0, 360]"),
    )
    for field, bad, why in checks:
        if bad.any():
            k = int(np.argmax(bad.to_numpy()))
            raise StatesError(f"{path} line {k + 2}, field {field}: {why}: {df[field].iloc[k]!r}")
    dup = out["id"].duplicated()
    if dup.any():
        k = int(np.argmax(dup.to_numpy()))
        first = int(np.argmax((out["id"] == out["id"].iloc[k]).to_numpy()))
        raise StatesError(
            f"{path} line {k + 2}, field id: duplicate id {out['id'].iloc[k]!r} (first on line {first + 2})"
        )
    if "party" in df.columns:
        out["party"] = df["party"].str.strip()
    if "callsign" in df.columns:
        out["callsign"] = df["callsign"].str.strip()
    return out


@click.command()
@click.argument("states", type=click.Path(path_type=Path))
@click.option("--horizontal-nm", type=float, default=5.0, show_default=True, help="Horizontal minimum H.")
@click.option("--vertical-ft", type=float, default=1000.0, show_default=True, help="Vertical minimum V.")
@click.option("--lookahead-s", type=float, default=300.0, show_default=True, help="Look-ahead T.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Detection passes to time (the median is reported).")
@click.option("--agreement", type=click.Path(path_type=Path), default=None,
              help="Agreement file: parties, attribution and minima per pair of parties.")
@click.option("--same-party", is_flag=True, help="Also check pairs of the same party.")
def detect(states: Path, horizontal_nm: float, vertical_ft: float, lookahead_s: float,
           repeat: int, agreement: Path | None, same_party: bool) -> None:
    """Write one JSON object per conflict among the aircraft in STATES.csv, sorted by (a, b).

    Columns: id,lat,lon,alt_ft,track_deg,gs_kt,vs_fpm (optional party, callsign).
    Without a party column every pair is checked; with one, only pairs of different
    parties (unless --same-party). With --agreement, parties and minima come from it.
    """
    if not (horizontal_nm > 0 and vertical_ft > 0 and lookahead_s >= 0):
        fail("detect", "minima must be positive and the look-ahead >= 0")
    if not states.exists():
        fail("detect", f"{states}: no such file")
    try:
        df = read_states(states)
    except StatesError as exc:
        fail("detect", str(exc))
    ids = df["id"].to_numpy().astype(str)
    if agreement is not None:
        agr = load_agreement_or_fail("detect", agreement)
        parties = tuple(agr.party_ids)
        callsign = df["callsign"].to_numpy().astype(str) if "callsign" in df else np.full(ids.shape, "")
        party = np.asarray(agr.attribute(np.char.lower(ids), callsign), dtype=np.int32)
        if "party" in df:
            given = df["party"].to_numpy().astype(str)
            unknown = sorted(set(given[given != ""]) - set(parties))
            if unknown:
                k = int(np.argmax(np.isin(given, unknown)))
                fail("detect", f"{states} line {k + 2}, field party: unknown party {str(given[k])!r}")
            code = {p: n for n, p in enumerate(parties)}
            explicit = given != ""
            party[explicit] = [code[p] for p in given[explicit]]
        levels = agr.minima_levels()
        if same_party:
            levels = [lv.with_same_party() for lv in levels]
    elif "party" in df:
        parties = tuple(sorted(set(df["party"])))
        party = pd.Categorical(df["party"], categories=parties).codes.astype(np.int32)
        levels = uniform_levels(len(parties), horizontal_nm, vertical_ft, lookahead_s, same_party)
    else:
        parties = ("all",)
        party = np.zeros(ids.shape[0], dtype=np.int32)
        levels = uniform_levels(1, horizontal_nm, vertical_ft, lookahead_s, True)
    n = ids.shape[0]
    snap = Snapshot(
        t_s=0.0, id=ids, party=party, lat_deg=df["lat"].to_numpy(), lon_deg=df["lon"].to_numpy(),
        alt_ft=df["alt_ft"].to_numpy(), track_deg=df["track_deg"].to_numpy(),
        gs_kt=df["gs_kt"].to_numpy(), vs_fpm=df["vs_fpm"].to_numpy(),
        last_report_s=np.zeros(n), parties=parties,
    )
    times_ms = []
    conflicts = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        conflicts = Assessment(levels, distress=None).step(snap).conflicts
        times_ms.append((time.perf_counter() - t0) * 1000.0)
    assert conflicts is not None
    out = sys.stdout  # click.get_text_stream is deprecated (removed in Click 9); JSON is ASCII
    for rec in conflicts.records(snap, levels):
        out.write(json.dumps(rec) + "\n")
    out.flush()
    click.echo(
        f"detect: {n} aircraft, {len(conflicts)} conflicts, "
        f"median {statistics.median(times_ms):.3f} ms over {repeat} passes",
        err=True,
    )
