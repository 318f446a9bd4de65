"""`sharedsky convert INPUT OUTPUT`: decoded, gated reports of any feed, in traffic columns.

So that users can move recordings between tools: INPUT is anything `open_feed`
reads (a stream too, with --duration-s); OUTPUT is CSV, Parquet or JSON by its
extension (JSON: a row-oriented list with `timestamp` in epoch milliseconds, as the
traffic library writes it; `.gz` compresses). Rejections are summarised on stderr.

The reports are gated as decoded, then motion is derived for the accepted ones
(`TrackBuilder`): the gate never judges a derived value as if it had been reported, and
`replay` gates the same reports the same way, so both reject the same ones.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

from sharedsky.commands.common import fail
from sharedsky.ingest.schema import REPORT_COLUMNS, empty_reports

_OUT_KINDS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "jsonl"}
PROGRESS_MIN_BYTES = 2_000_000


def _out_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, kind in _OUT_KINDS.items():
        if name.endswith(ext):
            return kind
    raise click.BadParameter(f"{path}: output must end in .csv, .parquet, .json or .jsonl (optionally .gz)",
                             param_hint="OUTPUT")


def _parse_reference(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter("expected LAT,LON such as 49.0,2.55", param_hint="--reference") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise click.BadParameter("latitude within +-90, longitude within +-180", param_hint="--reference")
    return lat, lon


def write_reports(df: pd.DataFrame, path: Path) -> None:
    """Write reports in the traffic-library columns, format by the extension."""
    kind = _out_kind(path)
    cols = [c for c in REPORT_COLUMNS if c in df]
    out = df[cols]
    if kind == "csv":
        out.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    elif kind == "parquet":
        out.to_parquet(path, index=False)
    else:
        rec = out.copy()
        rec["timestamp"] = rec["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64) // 1_000_000
        text = rec.to_json(orient="records", lines=(kind == "jsonl"), double_precision=10)
        if kind == "json":
            text = text if text.startswith("[") else json.dumps(json.loads(text))
        opener = __import__("gzip").open if path.name.lower().endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
            if kind == "jsonl" and text and not text.endswith("\n"):
                fh.write("\n")


@click.command()
@click.argument("input_spec", metavar="INPUT")
@click.argument("output", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", default=None,
              help="Input format when the extension does not say it (beast, avr, sbs, jsonl, json, csv, "
                   "parquet, aircraft-json, readsb-trace, opensky).")
@click.option("--reference", default=None, metavar="LAT,LON",
              help="Receiver position: decodes surface positions before any airborne one.")
@click.option("--start-s", type=float, default=None,
              help="Epoch time of the first frame of a Beast/AVR file [default: file time].")
@click.option("--no-gate", is_flag=True, help="Write every decoded report, without the quality gate.")
@click.option("--duration-s", type=click.FloatRange(min=0.0), default=None,
              help="For a live stream: stop after this many seconds.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on large files].")
def convert(input_spec: str, output: Path, fmt: str | None, reference: str | None, start_s: float | None,
            no_gate: bool, duration_s: float | None, progress: bool | None) -> None:
    """Decode INPUT (file or stream), gate it, write OUTPUT in traffic-library columns."""
    from sharedsky.ingest.feeds import FeedError, TrackBuilder, open_feed
    from sharedsky.ingest.quality import QualityGate

    _out_kind(output)
    ref = _parse_reference(reference)
    live = "://" in input_spec
    if live and duration_s is None:
        fail("convert", f"{input_spec} is a live stream: give --duration-s")
    try:
        feed = open_feed(input_spec, fmt, reference=ref, start_s=start_s, derive=False)
    except FeedError as exc:
        fail("convert", str(exc))
    gate = None if no_gate else QualityGate()
    tracks = TrackBuilder()

    def admit(batch: pd.DataFrame) -> pd.DataFrame:
        """Gate a batch (reports waiting for a neighbour come out later), then derive motion."""
        return tracks.update(gate.filter(batch) if gate is not None else batch)

    show = progress if progress is not None else (feed.size_bytes or 0) >= PROGRESS_MIN_BYTES
    batches: list[pd.DataFrame] = []
    n_in = 0
    started = time.monotonic()
    try:
        if show:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(TextColumn("convert"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                          TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("convert", total=feed.size_bytes or None)
                for batch in feed:
                    n_in += batch.shape[0]
                    batches.append(admit(batch))
                    bar.update(task, completed=feed.done_bytes)
                    if duration_s is not None and time.monotonic() - started >= duration_s:
                        break
        else:
            for batch in feed:
                n_in += batch.shape[0]
                batches.append(admit(batch))
                if duration_s is not None and time.monotonic() - started >= duration_s:
                    break
    except FeedError as exc:
        fail("convert", str(exc))
    finally:
        feed.close()
    if n_in == 0 and not live and not feed.rejected():
        fail("convert", f"{input_spec}: no reports in the recording")
    if gate is not None:
        batches.append(tracks.update(gate.flush()))
    out = pd.concat(batches, ignore_index=True) if batches else empty_reports()
    out = out.sort_values("timestamp", kind="stable").reset_index(drop=True)
    try:
        write_reports(out, output)
    except OSError as exc:
        fail("convert", f"{output}: cannot write: {exc}")
    rej_in = feed.rejected()
    lines = [f"convert: {feed.stats.items} input items, {n_in} reports decoded, {out.shape[0]} written to {output}"]
    lines.append("convert: rejected while reading: "
                 + (", ".join(f"{k} {v}" for k, v in sorted(rej_in.items())) if rej_in else "none"))
    if gate is not None:
        lines.append("convert: rejected by the quality gate: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(gate.rejected.items())) if gate.rejected else "none")
                     + (f"; suspect tracks: {', '.join(sorted(gate.suspect))}" if gate.suspect else ""))
    for line in lines:
        click.echo(line, err=True)
    sys.stdout.flush()
