"""`sharedsky replay RECORDING`: run the engine over recorded traffic, print its events."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from sharedsky.commands.common import fail, load_agreement_or_fail, parse_minima, uniform_levels
from sharedsky.replay import ReplaySummary
from sharedsky.replay import replay as run_replay


def _read(spec: str, fmt: str | None) -> pd.DataFrame:
    """Read a whole recording; every feed format the package knows is accepted."""
    try:
        from sharedsky.feeds import open_feed  # feeds package: Beast, SBS, readsb, ...
    except ImportError:
        open_feed = None
    from sharedsky.feeds.recordings import RecordingError, read_recording

    path = Path(spec)
    try:
        if open_feed is not None and ("://" in spec or fmt is not None or not _is_recording(path)):
            batches = list(open_feed(spec, fmt))
            return pd.concat(batches, ignore_index=True) if batches else read_recording(path, fmt)
        return read_recording(path, fmt)
    except RecordingError as exc:
        fail("replay", str(exc))
    except (OSError, ValueError) as exc:
        fail("replay", f"{spec}: {exc}")


def _is_recording(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".json", ".json.gz", ".csv", ".csv.gz", ".parquet"))


def _gate(df: pd.DataFrame, summary: ReplaySummary) -> pd.DataFrame:
    """Quality gate (impossible jumps, duplicates, ...) before anything reaches the engine."""
    try:
        from sharedsky.quality import QualityGate
    except ImportError:
        return df
    gate = QualityGate()
    out = gate.filter(df)
    summary.reports_rejected = dict(gate.rejected)
    summary.suspect_tracks = len(getattr(gate, "suspect", ()))
    return out


@click.command()
@click.argument("recording")
@click.option("--format", "fmt", default=None, help="Input format when the extension does not say it.")
@click.option("--agreement", type=click.Path(path_type=Path), default=None,
              help="Agreement: parties, attribution, minima per pair, airspaces.")
@click.option("--minima", default=None, metavar="H_NM,V_FT,T_S",
              help="Minima and look-ahead for every checked pair [default: 5,1000,300].")
@click.option("--all-pairs", is_flag=True,
              help="Check every pair of aircraft (each its own party), e.g. civil recordings.")
@click.option("--same-party", is_flag=True, help="Also check pairs of the same party.")
@click.option("--step-s", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds of recording time between engine passes.")
@click.option("--max-age-s", type=click.FloatRange(min=0.0), default=20.0, show_default=True,
              help="Reports older than this are left out of a snapshot.")
@click.option("--summary-only", is_flag=True, help="Print only the summary.")
@click.option("--no-gate", is_flag=True, help="Do not run the quality gate.")
def replay(recording: str, fmt: str | None, agreement: Path | None, minima: str | None,
           all_pairs: bool, same_party: bool, step_s: float, max_age_s: float,
           summary_only: bool, no_gate: bool) -> None:
    """Step through RECORDING in its own time; print JSON-lines events and a summary.

    Events: conflict new/updated/ended (predicted), loss_of_separation start/end
    (actual), and with an agreement, airspace events. The last line is the summary.
    """
    if agreement is not None and minima is not None and not all_pairs:
        fail("replay", "--minima and --agreement exclude each other (the agreement has minima)")
    h, v, t = parse_minima(minima) if minima else (5.0, 1000.0, 300.0)
    df = _read(recording, fmt)
    summary = ReplaySummary(reports=len(df))
    if not no_gate:
        df = _gate(df, summary)
    watch: Any = None
    if agreement is not None:
        agr = load_agreement_or_fail("replay", agreement)
        parties = tuple(agr.party_ids)
        source = df["source"].to_numpy().astype(str) if "source" in df else None
        party = np.asarray(
            agr.attribute(df["icao24"].to_numpy().astype(str),
                          df["callsign"].to_numpy().astype(str), source),
            dtype=np.int32,
        )
        levels = agr.minima_levels()
        if all_pairs:
            levels = uniform_levels(1, h, v, t, True)
            parties, party = ("all",), np.zeros(len(df), dtype=np.int32)
        elif getattr(agr, "airspaces", None):
            try:
                from sharedsky.airspace_watch import AirspaceWatch

                watch = AirspaceWatch(agr)
            except ImportError:
                watch = None
    elif all_pairs or not (df["party"] != "").any():
        if not all_pairs:
            click.echo("replay: no agreement and no party column: checking every pair", err=True)
        parties, party = ("all",), np.zeros(len(df), dtype=np.int32)
        levels = uniform_levels(1, h, v, t, True)
    else:
        parties = tuple(sorted(set(df["party"])))
        party = pd.Categorical(df["party"], categories=parties).codes.astype(np.int32)
        levels = uniform_levels(len(parties), h, v, t, same_party)
    if same_party and agreement is not None and not all_pairs:
        levels = [lv.with_same_party() for lv in levels]
    out = sys.stdout
    for ev in run_replay(df, levels, parties, party, step_s=step_s, max_age_s=max_age_s,
                         airspace_watch=watch, summary=summary):
        if not summary_only:
            out.write(json.dumps(ev, default=_json_default) + "\n")
    out.write(json.dumps(summary.as_dict(), default=_json_default) + "\n")
    out.flush()
    _print_summary(summary)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _print_summary(s: ReplaySummary) -> None:
    ev = s.events
    lines = [
        f"replay: {s.aircraft} aircraft, {s.reports} reports ({s.reports_accepted} accepted), {s.steps} steps "
        f"({s.as_dict()['start']} to {s.as_dict()['end']}), at most {s.max_aircraft_at_once} at once",
        f"replay: {ev.get('conflict_new', 0)} predicted conflicts, "
        f"{ev.get('loss_of_separation_start', 0)} losses of separation",
    ]
    air = {k: n for k, n in ev.items() if k.startswith("airspace_")}
    if air:
        lines.append("replay: airspace events " + ", ".join(f"{k[9:]} {n}" for k, n in sorted(air.items())))
    rej = s.reports_rejected
    lines.append(
        "replay: reports rejected: "
        + (", ".join(f"{k} {n}" for k, n in sorted(rej.items())) if rej else "none")
        + (f"; {s.suspect_tracks} suspect tracks" if s.suspect_tracks else "")
    )
    for line in lines:
        click.echo(line, err=True)
