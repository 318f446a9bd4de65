"""`sharedsky simulate SCENARIO`: fly a scenario in fast time (or push it in real time)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sharedsky.commands.common import fail, load_agreement_or_fail


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--agreement", type=click.Path(path_type=Path), default=None,
              help="Agreement: parties, attribution, minima, airspaces [default: 5 NM / 1,000 ft "
                   "between the scenario's parties].")
@click.option("--hours", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True,
              help="Simulated duration.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same day).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("sim-out"),
              show_default=True, help="Directory for the recording, metrics, events and plots.")
@click.option("--format", "fmt", type=click.Choice(["json", "json.gz", "csv", "csv.gz", "parquet"]),
              default="parquet", show_default=True, help="Recording format (all readable by replay).")
@click.option("--record-every-s", type=click.FloatRange(min=0.0, min_open=True), default=1.0,
              show_default=True, help="Seconds between recorded reports of each aircraft.")
@click.option("--step-s", type=click.FloatRange(min=0.1, max=10.0), default=1.0, show_default=True,
              help="Simulation and detection step.")
@click.option("--no-plots", is_flag=True, help="Do not draw the plots.")
@click.option("--realtime", is_flag=True, help="Push the traffic to a running service at wall-clock pace.")
@click.option("--server", default=None, help="Service URL for --realtime, e.g. http://127.0.0.1:8080.")
@click.option("--keys", "keys_file", type=click.Path(path_type=Path), default=None,
              help="Party API keys for --realtime (JSON {party: key} or 'party key' lines).")
@click.option("--speed", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True,
              help="With --realtime: simulated seconds per wall-clock second.")
@click.option("--no-resolution", is_flag=True,
              help="Fly without resolution advisories even where the agreement enables them (the same day "
                   "without them: compare with the same seed).")
def simulate(scenario: Path, agreement: Path | None, hours: float, seed: int, out_dir: Path,
             fmt: str, record_every_s: float, step_s: float, no_plots: bool, realtime: bool,
             server: str | None, keys_file: Path | None, speed: float, no_resolution: bool) -> None:
    """Simulate SCENARIO for --hours under --agreement; write the recording, metrics.json,
    events.jsonl and plots to --out, or with --realtime push it to a running service."""
    from sharedsky.sim.run import Simulation, write_recording
    from sharedsky.sim.scenario import ScenarioError, load_scenario

    try:
        scn = load_scenario(scenario)
    except ScenarioError as exc:
        fail("simulate", str(exc))
    agr = load_agreement_or_fail("simulate", agreement) if agreement is not None else None
    if realtime:
        if not server or keys_file is None:
            fail("simulate", "--realtime needs --server URL and --keys FILE")
        from sharedsky.sim.realtime import KeysError, load_keys, push_realtime

        try:
            keys = load_keys(keys_file)
        except KeysError as exc:
            fail("simulate", str(exc))
        sim = Simulation(scn, agr, hours=hours, seed=seed, step_s=step_s, record_every_s=None)
        stats = push_realtime(sim, server, keys, speed=speed)
        click.echo(json.dumps(stats, default=_json_default))
        bad = sum(len(v) for v in stats["errors"].values())
        if bad:
            click.echo(f"simulate: {bad} pushes refused by the service (see errors)", err=True)
        return
    try:
        sim = Simulation(scn, agr, hours=hours, seed=seed, step_s=step_s,
                         record_every_s=record_every_s, resolution=False if no_resolution else None)
    except ValueError as exc:
        fail("simulate", f"{scenario}: {exc}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with click.progressbar(length=100, label=f"simulate {scn.name}", file=sys.stderr) as bar:
        done = [0]

        def progress(frac: float) -> None:
            pct = int(frac * 100)
            bar.update(pct - done[0])
            done[0] = pct

        result = sim.run(progress)
    rec_path = write_recording(result.traffic, out_dir / f"recording.{fmt}")
    metrics = result.metrics
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=_json_default) + "\n")
    with open(out_dir / "events.jsonl", "w", encoding="utf-8") as fh:
        for ev in result.events:
            fh.write(json.dumps(ev, default=_json_default) + "\n")
    written = [rec_path, out_dir / "metrics.json", out_dir / "events.jsonl"]
    if not no_plots:
        from sharedsky.sim.plots import plot_all

        written += plot_all(result.traffic, metrics, out_dir, parties=result.parties,
                            agreement=agr, scenario=scn)
    pc = metrics["predicted_conflicts"]
    los = metrics["losses_of_separation"]
    air = metrics["airspace"]
    perf = metrics.get("performance", {})
    click.echo(
        f"simulate: {scn.name}, seed {seed}, {hours:g} h: {metrics['flights']} flights "
        f"(at most {metrics['max_aircraft_at_once']} at once), {len(result.traffic)} reports; "
        f"{perf.get('simulated_s_per_wall_s')}x real time", err=True)
    click.echo(
        f"simulate: {pc['total']} predicted conflicts {json.dumps(pc['by_pair'])}; "
        f"{los['total']} losses of separation; {air['incursions']} airspace incursions "
        f"({air['incursions_warned']} warned)", err=True)
    res = metrics.get("resolution")
    if res:
        click.echo(
            f"simulate: {res['advisories']} resolution advisories to {res['aircraft_advised']} aircraft "
            f"({res['advisory_changes']} changes of advice; {res['followed']} followed, "
            f"{res['not_followed']} not followed)", err=True)
    wc = metrics.get("wellclear")
    if wc:
        click.echo(f"simulate: {wc['alerts']} well-clear alerts to {wc['aircraft']} aircraft "
                   f"({wc['corrective_alerts']} corrective, with guidance bands; {wc['updates']} updates)", err=True)
    if metrics.get("attribution_mismatches"):
        click.echo(f"simulate: {metrics['attribution_mismatches']} aircraft attributed by the "
                   "agreement to another party than the scenario's (see metrics.json)", err=True)
    for p in written:
        click.echo(str(p))
