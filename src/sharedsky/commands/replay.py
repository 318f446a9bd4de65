"""`sharedsky replay RECORDING`: run the engine over recorded traffic, print its events."""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from sharedsky.alerting.step import Assessment
from sharedsky.commands.common import fail, load_agreement_or_fail, parse_minima, uniform_levels
from sharedsky.ingest.schema import epoch_s
from sharedsky.replay.run import ReplaySummary, replay_batches


def _read(spec: str, fmt: str | None) -> pd.DataFrame:
    """Read a whole recording by the routine every command uses (format by content)."""
    from sharedsky.ingest.feeds.recordings import read_recording

    try:
        return read_recording(spec, fmt)
    except (OSError, ValueError) as exc:  # FeedError is a ValueError naming the file
        fail("replay", str(exc) if spec in str(exc) else f"{spec}: {exc}")


def _live(spec: str, fmt: str | None, duration_s: float | None) -> Iterator[pd.DataFrame]:
    """Batches from a live feed (beast://, sbs://, raw://, http(s)://...aircraft.json).

    The feed is read in a thread so that `duration_s` is honoured even while the feed
    is silent; a feed that fails ends the replay with its own error message.
    """
    from sharedsky.ingest.feeds import FeedError, open_feed

    feed = open_feed(spec, fmt, batch_interval_s=1.0, derive=False)
    q: queue.Queue[pd.DataFrame | Exception | None] = queue.Queue(maxsize=64)

    def pump() -> None:
        try:
            for batch in feed:
                q.put(batch)
        except Exception as exc:  # noqa: BLE001 - handed to the reader, which reports it
            q.put(exc)
        q.put(None)

    threading.Thread(target=pump, daemon=True, name="feed").start()
    # The reading thread is a daemon: it ends with the process (a generator cannot be
    # closed from another thread while it blocks on its socket).
    t_end = None if duration_s is None else time.monotonic() + duration_s
    reported = 0
    try:
        while t_end is None or time.monotonic() < t_end:
            reported = _report_link(spec, feed, reported)
            try:
                item = q.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None:
                return
            if isinstance(item, FeedError):
                fail("replay", str(item))
            if isinstance(item, Exception):
                fail("replay", f"{spec}: {item}")
            yield item
    finally:
        link = getattr(feed, "link", None)
        if link is not None:
            click.echo(f"replay: feed {spec}: {link.connects} connections, {link.drops} dropped, "
                       f"{link.failures} failed attempts, {link.bytes} bytes", err=True)


def _report_link(spec: str, feed: Any, reported: int) -> int:
    """Say on stderr when the feed fails to connect (it keeps retrying with back-off)."""
    link = getattr(feed, "link", None)
    if link is None or link.failures <= reported:
        return reported
    last = link.errors[-1] if link.errors else "connection failed"
    click.echo(f"replay: feed {spec}: {last} (failed attempts: {link.failures}; retrying)", err=True)
    return link.failures


def _sorted_parquet(spec: str, fmt: str | None, needs_party: bool) -> np.ndarray | None:
    """The report times of a traffic Parquet recording that is in time order (it can be
    read in chunks and replayed as it is read), else None (read whole). With `needs_party`
    (no agreement), a recording with a party column is read whole: its parties come first."""
    from sharedsky.ingest.feeds import FeedError
    from sharedsky.ingest.feeds.files import parquet_times
    from sharedsky.ingest.feeds.open import detect_format, normalise_format

    path = Path(spec)
    try:
        if not path.is_file() or (normalise_format(fmt) if fmt else detect_format(path)) != "parquet":
            return None
        import pyarrow.parquet as pq

        if needs_party and "party" in pq.ParquetFile(path).schema_arrow.names:
            return None
        t = parquet_times(path)
    except (FeedError, OSError, ValueError):
        return None  # the whole read says what is wrong
    if t is None or (t.shape[0] > 1 and not bool(np.all(np.diff(t[np.isfinite(t)]) >= 0))):
        return None
    return t


def _released(spec: str, fmt: str | None, gate: _Gate, step_s: float, rows: int) -> Iterator[pd.DataFrame]:
    """A time-ordered recording read `rows` reports at a time and gated, handed on only up
    to the last step instant that no later report can precede: a report still waiting in
    the gate, or in the next chunk, is never merged after its step, so the events are the
    ones of the whole recording read at once."""
    from sharedsky.ingest.feeds import open_feed
    from sharedsky.ingest.schema import empty_reports

    feed = open_feed(spec, fmt, derive=False, batch_rows=rows)
    carry: pd.DataFrame | None = None
    said: dict[str, int] = {}
    counted: dict[str, int] = {}
    chunks = iter(feed)
    while True:
        chunk = next(chunks, None)
        final = chunk is None
        if chunk is None:
            chunk = empty_reports()
            t_next = float("inf")
        else:
            t_next = float(np.max(epoch_s(chunk["timestamp"])))  # later chunks begin no earlier
            # the gate adds what each batch says: counts so far -> counts new in this chunk
            nn = chunk.attrs.get("not_numbers", {})
            chunk.attrs["not_numbers"] = {c: n - counted.get(c, 0) for c, n in nn.items() if n > counted.get(c, 0)}
            counted = dict(nn)
        rej = feed.rejected()
        chunk.attrs["rejected"] = {k: n - said.get(k, 0) for k, n in rej.items() if n > said.get(k, 0)}
        said = rej
        out = gate(chunk, final=final)
        if carry is not None and carry.shape[0]:
            out = pd.concat([carry, out]).sort_values("timestamp", kind="stable")
        if final:
            if out.shape[0]:
                yield out
            return
        hold = min(t_next, gate.gate.pending_since_s if gate.gate is not None else float("inf"))
        last_step = (np.ceil(hold / step_s) - 1.0) * step_s  # the last instant before `hold`
        t = epoch_s(out["timestamp"])
        go = t <= last_step
        carry = out.iloc[np.flatnonzero(~go)]
        if go.any():
            yield out.iloc[np.flatnonzero(go)]


class _Gate:
    """The quality gate, kept across batches, its counts copied into the summary; then
    motion derived for the accepted reports, as `convert` does (the reports are read
    without derivation, so the gate judges only reported values)."""

    def __init__(self, summary: ReplaySummary, enabled: bool) -> None:
        from sharedsky.ingest.feeds import TrackBuilder
        from sharedsky.ingest.quality import QualityGate

        self.gate = QualityGate() if enabled else None
        self.tracks = TrackBuilder()
        self.summary = summary
        self.read_rejected: dict[str, int] = {}

    def __call__(self, df: pd.DataFrame, final: bool = False) -> pd.DataFrame:
        """The accepted reports (with derived motion); `final`: the input ends here, so the
        reports waiting for a neighbour are decided too."""
        self.summary.reports += len(df)
        for col, n in df.attrs.get("not_numbers", {}).items():
            self.summary.values_not_numbers[col] = self.summary.values_not_numbers.get(col, 0) + n
        for reason, n in df.attrs.get("rejected", {}).items():  # refused while reading
            self.read_rejected[reason] = self.read_rejected.get(reason, 0) + n
        self.summary.reports_rejected = dict(self.read_rejected)
        if self.gate is None:
            return self.tracks.update(df)
        out = self.gate.filter(df)
        if final:
            out = pd.concat([out, self.gate.flush()])
        for reason, n in self.gate.rejected.items():
            self.summary.reports_rejected[reason] = self.read_rejected.get(reason, 0) + n
        self.summary.suspect_tracks = len(self.gate.suspect)
        return self.tracks.update(out)


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
@click.option("--notices", "notices_path", type=click.Path(path_type=Path), default=None,
              help="Planned-operations file (JSON, GeoJSON, CSV; each notice naming its party): its "
                   "volumes are watched as notified (needs --agreement).")
@click.option("--summary-only", is_flag=True, help="Print only the summary.")
@click.option("--map", "show_map", is_flag=True,
              help="Then serve the map of the recording with its events (time slider, play at any speed); "
                   "prints a URL per party and the supervisor's, runs until Ctrl-C.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="With --map: the port (0: any free one).")
@click.option("--map-duration-s", type=click.FloatRange(min=0.0), default=None, hidden=True,
              help="With --map: stop serving after this long (tests).")
@click.option("--no-gate", is_flag=True, help="Do not run the quality gate.")
@click.option("--read-rows", type=click.IntRange(min=0), default=200_000, show_default=True,
              help="A Parquet recording in time order is read and replayed this many reports at a time "
                   "(the same events as read whole, in bounded memory); 0: read it whole.")
@click.option("--duration-s", type=click.FloatRange(min=0.0), default=None,
              help="Live feeds: stop after this many seconds (default: until interrupted).")
def replay(recording: str, fmt: str | None, agreement: Path | None, minima: str | None,
           all_pairs: bool, same_party: bool, step_s: float, max_age_s: float,
           notices_path: Path | None, summary_only: bool, no_gate: bool, duration_s: float | None,
           read_rows: int = 200_000, show_map: bool = False, port: int = 8080, map_duration_s: float | None = None) -> None:
    """Step through RECORDING in its own time; print JSON-lines events and a summary.

    Events: conflict new/updated/ended (predicted), loss_of_separation start/end
    (actual; updated when its suppression is lifted), distress start/end (squawk
    7500/7600/7700, ADS-B emergency), and with an agreement, airspace events; encounters in the agreement's [suppression] volumes carry
    suppressed: true and are counted apart. The last line is the summary.
    """
    if agreement is not None and minima is not None and not all_pairs:
        fail("replay", "--minima and --agreement exclude each other (the agreement has minima)")
    if agreement is not None and all_pairs:
        click.echo("replay: --all-pairs: every pair checked with --minima; the agreement's "
                   "airspaces and attribution are not used", err=True)
    h, v, t = parse_minima(minima) if minima else (5.0, 1000.0, 300.0)
    live = "://" in recording
    if show_map and live:
        fail("replay", "--map: needs a recording file, not a live feed")
    summary = ReplaySummary()
    gate = _Gate(summary, enabled=not no_gate)
    # A large Parquet recording in time order is read in chunks (never whole): issue 11
    streamed = None if live or show_map or read_rows <= 0 else _sorted_parquet(
        recording, fmt, needs_party=agreement is None and not all_pairs)
    whole = None if live or streamed is not None else gate(_read(recording, fmt), final=True)
    if (whole is not None and summary.reports == 0) or (streamed is not None and streamed.shape[0] == 0):
        fail("replay", f"{recording}: no reports in the recording")
    t_first = (float(np.min(epoch_s(whole["timestamp"]))) if whole is not None and len(whole)
               else float(np.nanmin(streamed)) if streamed is not None else 0.0)
    agr: Any = None
    airspace = False
    attribute: Callable[[pd.DataFrame], np.ndarray]
    if agreement is not None:
        agr = load_agreement_or_fail("replay", agreement)
        parties = tuple(agr.party_ids)
        levels = agr.minima_levels()

        def attribute(df: pd.DataFrame) -> np.ndarray:
            source = df["source"].to_numpy().astype(str) if "source" in df else None
            return np.asarray(agr.attribute(df["icao24"].to_numpy().astype(str),
                                            df["callsign"].to_numpy().astype(str), source),
                              dtype=np.int32)

        if all_pairs:
            levels = uniform_levels(1, h, v, t, True)
            parties = ("all",)
        else:
            airspace = True
        if same_party and not all_pairs:
            levels = [lv.with_same_party() for lv in levels]
    elif all_pairs or whole is None or not (whole["party"] != "").any():
        if not all_pairs:
            click.echo("replay: no agreement and no party column: checking every pair", err=True)
        parties = ("all",)
        levels = uniform_levels(1, h, v, t, True)
    else:
        parties = tuple(sorted(set(whole["party"])))

        def attribute(df: pd.DataFrame) -> np.ndarray:
            return pd.Categorical(df["party"], categories=parties).codes.astype(np.int32)

        levels = uniform_levels(len(parties), h, v, t, same_party)
    if parties == ("all",):

        def attribute(df: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(df), dtype=np.int32)

    if whole is not None:
        batches: Iterator[tuple[pd.DataFrame, np.ndarray]] = iter([(whole, attribute(whole))])
    elif streamed is not None:
        batches = ((b, attribute(b)) for b in _released(recording, fmt, gate, step_s, read_rows))
    else:
        batches = ((b, attribute(b)) for b in map(gate, _live(recording, fmt, duration_s)))
    # With --all-pairs the agreement's parties are not the snapshots': its airspaces and
    # suppression rules (per pair of its parties) do not apply.
    book, notice_events = _notice_book(notices_path, agr, all_pairs, t_first)
    assessment = Assessment.for_agreement(agr, levels=levels, airspace=airspace, suppression=not all_pairs,
                                          notice_book=book, wellclear=not all_pairs)
    out = sys.stdout
    if show_map and whole is not None:
        _replay_on_map(recording, whole, attribute(whole), assessment, parties, agreement, levels, (h, v, t),
                       step_s, max_age_s, summary, port, map_duration_s)
        return
    if not summary_only:
        for ev in notice_events:  # the plan's own strategic conflicts, before the flights
            out.write(json.dumps(ev, default=_json_default) + "\n")
    try:
        for ev in replay_batches(batches, assessment, parties, step_s=step_s, max_age_s=max_age_s,
                                 summary=summary):
            if not summary_only:
                out.write(json.dumps(ev, default=_json_default) + "\n")
                if live:
                    out.flush()
    except KeyboardInterrupt:
        click.echo("replay: interrupted", err=True)
    out.write(json.dumps(summary.as_dict(), default=_json_default) + "\n")
    out.flush()
    _print_summary(summary)


def _notice_book(path: Path | None, agr: Any, all_pairs: bool, t0: float) -> tuple[Any, list]:
    """The book of `--notices` (notified at the recording's start, `t0`), or (None, [])."""
    if path is None:
        return None, []
    if agr is None or all_pairs:
        fail("replay", "--notices needs --agreement (and not --all-pairs): volumes belong to its parties")
    from sharedsky.alerting.notice_book import book_from_plan
    from sharedsky.ingest.notices import NoticeError, read_plan

    try:
        return book_from_plan(agr, read_plan(path, agr.notices), t0)
    except NoticeError as exc:
        fail("replay", f"{path}: {exc}" if not str(exc).startswith(str(path)) else str(exc))


def _replay_on_map(recording: str, whole: pd.DataFrame, party: np.ndarray, assessment: Assessment,
                   parties: tuple[str, ...], agreement: Path | None, levels: Any, minima: tuple[float, float, float],
                   step_s: float, max_age_s: float, summary: ReplaySummary, port: int,
                   map_duration_s: float | None) -> None:
    """Replay the whole recording, then serve it on the map until Ctrl-C (or `map_duration_s`)."""
    import tempfile

    from sharedsky.commands.replay_map import agreement_for_all, start_map

    events = list(replay_batches(iter([(whole, party)]), assessment, parties, step_s=step_s,
                                 max_age_s=max_age_s, summary=summary))
    sys.stdout.write(json.dumps(summary.as_dict(), default=_json_default) + "\n")
    _print_summary(summary)
    with tempfile.TemporaryDirectory(prefix="sharedsky-replay-") as tmp:
        work = Path(tmp)
        ag_path = agreement if agreement is not None and parties != ("all",) else agreement_for_all(
            work, Path(recording).name, *minima)
        try:
            svc = start_map(work, ag_path, whole, party, events, levels=levels, max_age_s=max_age_s,
                            step_s=step_s, port=port)
        except click.ClickException as exc:
            fail("replay", exc.message)
        click.echo(f"replay on the map: {len(events)} events, {summary.aircraft} aircraft; open a screen:")
        for p in svc.keys:
            click.echo(f"  {p:12s} {svc.url_for(p)}")
        click.echo(f"  {'supervisor':12s} {svc.url_for(None)}")
        sys.stdout.flush()
        try:
            deadline = None if map_duration_s is None else time.monotonic() + map_duration_s
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            svc.stop()


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
    sup = s.as_dict()["suppressed"]
    if ev.get("conflict_new_suppressed") or sup["losses_of_separation"]:
        lines.append(f"replay: suppressed by the agreement's [suppression] rules (recorded, not alerted): "
                     f"{sup['conflicts']} predicted conflicts, {sup['losses_of_separation']} losses of separation")
    if s.altitude_unknown:
        lines.append(f"replay: {len(s.altitude_unknown)} aircraft at times without a known altitude "
                     "(checked as the agreement's [alerting] altitude_unknown says)")
    if s.wellclear:
        w = s.wellclear
        lines.append(f"replay: {w['alerts']} well-clear alerts to {w['aircraft']} aircraft "
                     f"({w['corrective_alerts']} corrective, with guidance bands; {w['updates']} updates)")
    air = {k: n for k, n in ev.items() if k.startswith("airspace_")}
    if air:
        lines.append("replay: airspace events " + ", ".join(f"{k[9:]} {n}" for k, n in sorted(air.items())))
    if s.values_not_numbers:
        lines.append("replay: values that are not numbers (left out of their reports): "
                     + ", ".join(f"{k} {n}" for k, n in sorted(s.values_not_numbers.items())))
    rej = s.reports_rejected
    lines.append(
        "replay: reports rejected: "
        + (", ".join(f"{k} {n}" for k, n in sorted(rej.items())) if rej else "none")
        + (f"; {s.suspect_tracks} suspect tracks" if s.suspect_tracks else "")
    )
    for line in lines:
        click.echo(line, err=True)
