"""`sharedsky verify RECORD`: check a record's hash chain and signatures."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--server-key", help="Pin the server's public key (base64) instead of trusting the genesis entry.")
def verify(record: Path, server_key: str | None) -> None:
    """Verify RECORD (the SQLite file or a JSON-lines export); exit 1 naming the first broken entry."""
    from sharedsky.record.log import verify as verify_record

    res = verify_record(record, server_public_key=server_key)
    if res.ok:
        click.echo(f"{record}: OK, {res.reason}")
        return
    click.echo(f"{record}: BROKEN, {res.reason}", err=True)
    raise SystemExit(1)
