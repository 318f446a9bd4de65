"""`sharedsky daa SCENARIO --conf CONF`: DO-365 well-clear alert levels over a DAIDALUS
encounter file, written in DAIDALUS's `DaidalusAlerting` CSV layout.

`--bands OUT.csv` also writes the guidance bands of every step (hdir, hs, vs, alt
intervals and their regions) in the layout of DAIDALUS's reference `.bands.csv`, and
`--guidance OUT.csv` the guidance of every step and dimension (region of the current
value, resolutions, preferred direction, recovery time and distances, peripheral
aircraft) in the layout of its `.guidance.csv`; `--alerts OUT.csv` the alert level, the
corrective volume's interval and the last time to manoeuvre in each dimension per time
and intruder, in the layout of its `.alerts.csv`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from sharedsky.commands.common import fail


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--conf", "conf", type=click.Path(path_type=Path), required=True,
              help="DAIDALUS configuration (.conf), read as it is.")
@click.option("--ownship", default=None, help="Aircraft to use as ownship (default: first of each step).")
@click.option("--alerting", "alerting_out", type=click.Path(path_type=Path), default=None,
              help="Write the DaidalusAlerting CSV here (default: standard output).")
@click.option("--alerts", "alerts_out", type=click.Path(path_type=Path), default=None,
              help="Write alert level, corrective interval and last time to manoeuvre per intruder here.")
@click.option("--geometry", type=click.Choice(["daidalus", "wgs84"]), default="daidalus",
              show_default=True,
              help="Frame for lat/lon files: DAIDALUS's ownship plane (conformance) or sharedsky's "
                   "WGS84 mid-point frame.")
@click.option("--bands", "bands_out", type=click.Path(path_type=Path), default=None,
              help="Write the guidance bands (time, dimension, interval, region) here.")
@click.option("--guidance", "guidance_out", type=click.Path(path_type=Path), default=None,
              help="Write the guidance (resolutions, preferred direction, recovery) here.")
def daa(scenario: Path, conf: Path, ownship: str | None, alerting_out: Path | None, geometry: str,
        bands_out: Path | None, guidance_out: Path | None, alerts_out: Path | None) -> None:
    """Well-clear alert levels for every (time, ownship, traffic) of SCENARIO (.daa/.xyz)."""
    from sharedsky.agreement.daa_conf import DaaConfError, load_conf
    from sharedsky.alerting.daa_run import alert_scenario, alerting_csv_lines
    from sharedsky.ingest.daa import DaaScenarioError, read_daa

    if not scenario.exists():
        fail("daa", f"{scenario}: no such file")
    if not conf.exists():
        fail("daa", f"{conf}: no such file")
    try:
        cfg = load_conf(conf)
        scn = read_daa(scenario)
    except (DaaConfError, DaaScenarioError) as exc:
        fail("daa", str(exc))
    if ownship is not None and ownship not in set(scn.name.tolist()):
        fail("daa", f"{scenario}: no aircraft named {ownship!r}")
    t0 = time.perf_counter()
    table = alert_scenario(scn, cfg, ownship=ownship, geometry=geometry)
    elapsed = time.perf_counter() - t0
    text = "\n".join(alerting_csv_lines(table, cfg.max_levels)) + "\n"
    if alerting_out is None:
        sys.stdout.write(text)
    else:
        try:
            alerting_out.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail("daa", f"{alerting_out}: cannot write: {exc}")
    click.echo(f"daa: {len(table)} rows, {len(scn.steps)} steps, {elapsed * 1000:.1f} ms", err=True)
    if bands_out is not None or guidance_out is not None:
        from sharedsky.alerting.daa_bands import bands_csv_lines, bands_scenario, guidance_csv_lines

        t0 = time.perf_counter()
        steps = bands_scenario(scn, cfg, ownship=ownship)
        elapsed = time.perf_counter() - t0
        for out, lines in ((bands_out, bands_csv_lines), (guidance_out, guidance_csv_lines)):
            if out is None:
                continue
            try:
                out.write_text("\n".join(lines(steps)) + "\n", encoding="utf-8")
            except OSError as exc:
                fail("daa", f"{out}: cannot write: {exc}")
        click.echo(f"daa: bands at {len(steps)} steps, {elapsed * 1000:.1f} ms", err=True)
    if alerts_out is not None:
        from sharedsky.alerting.daa_bands import alerts_csv_lines

        t0 = time.perf_counter()
        alert_lines = alerts_csv_lines(scn, cfg, ownship=ownship)
        elapsed = time.perf_counter() - t0
        try:
            alerts_out.write_text("\n".join(alert_lines) + "\n", encoding="utf-8")
        except OSError as exc:
            fail("daa", f"{alerts_out}: cannot write: {exc}")
        click.echo(f"daa: last times to manoeuvre for {len(alert_lines) - 1} rows, "
                   f"{elapsed * 1000:.1f} ms", err=True)
