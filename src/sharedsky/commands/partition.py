"""`sharedsky partition INPUT... --out DIR`: recordings to hour-partitioned Parquet, gated once."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sharedsky.commands.common import fail


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory of hour partitions (hour=YYYY-MM-DDTHH/part-*.parquet).")
@click.option("--format", "fmt", default=None, help="Input format when the extension does not say it.")
@click.option("--no-gate", is_flag=True, help="Write every report, without the quality gate.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
def partition(inputs: tuple[str, ...], out: Path, fmt: str | None, no_gate: bool, progress: bool | None) -> None:
    """Read INPUT... (in time order), gate them once, write one Parquet part per hour.

    Idempotent and resumable: a second run over the same inputs writes nothing; a run
    over the same inputs and more continues where the last one ended.
    """
    from sharedsky.ingest.feeds import FeedError
    from sharedsky.mine.partition import PartitionError
    from sharedsky.mine.partition import partition as run_partition

    show = progress if progress is not None else sys.stderr.isatty()
    try:
        if show:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            with Progress(TextColumn("partition"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                          TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("", total=len(inputs))
                run = run_partition(list(inputs), out, fmt=fmt, gate=not no_gate,
                                    on_input=lambda n, spec: bar.update(task, completed=n + 1,
                                                                        description=Path(spec).name))
        else:
            run = run_partition(list(inputs), out, fmt=fmt, gate=not no_gate)
    except (PartitionError, FeedError) as exc:
        fail("partition", str(exc))
    except OSError as exc:
        fail("partition", f"{exc.filename or out}: {exc.strerror or exc}")
    if run.up_to_date:
        click.echo(f"partition: {out} is up to date ({run.inputs_done_before} inputs, {len(run.hours)} hours, "
                   f"{run.accepted} reports); nothing written", err=True)
        return
    click.echo(f"partition: {run.inputs_read} inputs read"
               + (f" ({run.inputs_done_before} done before)" if run.inputs_done_before else "")
               + f", {run.reports} reports, {run.accepted} accepted in {len(run.hours)} hour partitions "
               f"in {out}", err=True)
    rej = run.rejected
    click.echo("partition: reports rejected: "
               + (", ".join(f"{k} {n}" for k, n in sorted(rej.items())) if rej else "none")
               + (f"; {run.suspect_tracks} suspect tracks" if run.suspect_tracks else ""), err=True)
