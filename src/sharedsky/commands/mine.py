"""`sharedsky mine DIR --out RESULTS`: the assessment step over every hour partition on Dask."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from sharedsky.commands.common import fail, load_agreement_or_fail, parse_minima


def _party_column(store: Any) -> tuple[str, ...]:
    """Parties named in the partitions' `party` column (replay's choice without an agreement)."""
    import pyarrow.parquet as pq

    names: set[str] = set()
    for h in store.hours():
        for p in store.parts(h):
            if "party" in pq.ParquetFile(p).schema_arrow.names:
                col = pq.read_table(p, columns=["party"]).column("party").to_pylist()
                names.update(x for x in col if x)
    return tuple(sorted(names))


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Results: encounters.parquet, events.jsonl, summary.json, report.html, plots/.")
@click.option("--agreement", type=click.Path(path_type=Path), default=None,
              help="Agreement: parties, attribution, minima per pair, suppression.")
@click.option("--minima", default=None, metavar="H_NM,V_FT,T_S",
              help="Minima and look-ahead for every checked pair [default: 5,1000,300].")
@click.option("--all-pairs", is_flag=True, help="Check every pair of aircraft (each its own party).")
@click.option("--same-party", is_flag=True, help="Also check pairs of the same party.")
@click.option("--step-s", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds of recording time between engine passes.")
@click.option("--max-age-s", type=click.FloatRange(min=0.0), default=20.0, show_default=True,
              help="Reports older than this are left out of a snapshot.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="A running Dask scheduler, e.g. tcp://host:8786 [default: a local cluster].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local cluster [default: one per core].")
@click.option("--dashboard", is_flag=True, help="Print the Dask dashboard's link (needs bokeh).")
@click.option("--grid-deg", type=click.FloatRange(min=0.01), default=0.5, show_default=True,
              help="Cell size of the report's regions, degrees.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
@click.option("--no-report", is_flag=True, help="Write the tables only, no HTML report or plots.")
def mine(directory: Path, out: Path, agreement: Path | None, minima: str | None, all_pairs: bool,
         same_party: bool, step_s: float, max_age_s: float, scheduler: str | None, workers: int | None,
         dashboard: bool, grid_deg: float, progress: bool | None, no_report: bool) -> None:
    """Mine the hour partitions in DIRECTORY (from `sharedsky partition`) for encounters.

    Every hour is assessed in parallel by the step `replay` runs, after a warm-up over
    the margin before it (max age + look-ahead); the hand-offs between hours are checked
    and an hour is re-run from its predecessor's state where the margin was too short,
    so the events are those of one replay over the whole recording.
    """
    from sharedsky.mine.cluster import ClusterUnavailable, client_for, rerun, run_spans
    from sharedsky.mine.encounters import encounters
    from sharedsky.mine.merge import stitch
    from sharedsky.mine.span import Judgement, SpanResult, SpanTask
    from sharedsky.mine.store import HOUR_S, Store

    if agreement is not None and minima is not None and not all_pairs:
        fail("mine", "--minima and --agreement exclude each other (the agreement has minima)")
    store = Store(directory)
    man = store.manifest()
    hours = store.hours()
    if man is None or not man.get("finished") or not hours:
        fail("mine", f"{directory}: not a finished partition directory (run `sharedsky partition ... --out "
                     f"{directory}` first)")
    h, v, t = parse_minima(minima) if minima else (5.0, 1000.0, 300.0)
    agr = load_agreement_or_fail("mine", agreement) if agreement is not None else None
    party_column: tuple[str, ...] = ()
    if agr is None and not all_pairs:
        party_column = _party_column(store)
        if not party_column:
            click.echo("mine: no agreement and no party column: checking every pair", err=True)
    judgement = Judgement(agreement=str(agreement.resolve()) if agreement is not None else None,
                          all_pairs=all_pairs, minima=(h, v, t), same_party=same_party, party_column=party_column)
    parties, levels, _, _ = judgement.build()
    margin_s = max_age_s + judgement.lookahead_s
    tasks = []
    for n, h0 in enumerate(hours):
        before = tuple(x for x in hours[:n] if x + HOUR_S > h0 - margin_s)
        stop = float(hours[n + 1]) if n + 1 < len(hours) else None
        tasks.append(SpanTask(str(store.root.resolve()), h0, before, stop, margin_s, judgement,
                              step_s=step_s, max_age_s=max_age_s))
    show = progress if progress is not None else sys.stderr.isatty()
    if dashboard and scheduler is None and importlib.util.find_spec("bokeh") is None:
        click.echo("mine: Dask's dashboard needs bokeh (pip install 'bokeh>=3.1'); progress shown here instead",
                   err=True)
        dashboard, show = False, True
    started = time.perf_counter()
    try:
        with client_for(scheduler, workers, dashboard) as client:
            n_workers = len(client.scheduler_info().get("workers", {}))
            if dashboard:
                click.echo(f"mine: Dask dashboard: {client.dashboard_link}", err=True)
            results = _run(client, tasks, run_spans, show)

            def again(p: int, seed: dict[str, Any], converge: dict[float, bytes]) -> SpanResult:
                return rerun(client, tasks[p], seed, converge)

            events, where, results = stitch(results, again)
    except ClusterUnavailable as exc:
        fail("mine", str(exc))
    wall_s = time.perf_counter() - started

    def pair_minima(pa: str, pb: str) -> tuple[float, float]:
        i = parties.index(pa) if pa in parties else 0
        j = parties.index(pb) if pb in parties else 0
        return float(levels[-1].h_nm[i, j]), float(levels[-1].v_ft[i, j])

    table = encounters(events, minima=pair_minima, level_order=tuple(m.name for m in levels), where=where,
                       grid_deg=grid_deg)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "events.jsonl", "w") as fh:
        for ev in events:
            fh.write(json.dumps(ev, default=_json_default) + "\n")
    table.to_parquet(out / "encounters.parquet", index=False)
    rows = sum(r.rows for r in results)
    summary = {
        "hours": len(hours), "reports": rows, "steps": sum(r.steps for r in results),
        "workers": n_workers, "scheduler": scheduler or "local", "margin_s": margin_s,
        "hours_rerun": sum(r.rerun for r in results), "wall_s": round(wall_s, 2),
        "encounters": int(table.shape[0]), "losses_of_separation": int(table["lost"].sum()),
        "events": len(events),
        "per_hour": [{"hour": int(r.hour_s), "reports": r.rows, "steps": r.steps, "wall_s": round(r.wall_s, 3),
                      "cpu_s": round(r.cpu_s, 3),
                      "peak_rss_mb": round(r.peak_rss_mb, 1), "rerun": r.rerun} for r in results],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if not no_report:
        from sharedsky.reports.mining import write_report

        write_report(table, out, title=f"Encounters in {directory.name}", grid_deg=grid_deg,
                     source=str(directory), summary=summary)
    click.echo(f"mine: {len(hours)} hours, {rows} reports, {summary['steps']} steps on {n_workers} workers "
               f"in {wall_s:.1f} s (margin {margin_s:g} s, {summary['hours_rerun']} hours re-run from their "
               f"predecessor's state)", err=True)
    click.echo(f"mine: {table.shape[0]} encounters, {summary['losses_of_separation']} with a loss of separation; "
               f"results in {out}", err=True)


def _run(client: Any, tasks: list[Any], run_spans: Any, show: bool) -> list[Any]:
    if not show:
        return run_spans(client, tasks)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("mine"), BarColumn(), MofNCompleteColumn(), TextColumn("hours"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=len(tasks))
        return run_spans(client, tasks, on_done=lambda _r: bar.advance(task))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")

