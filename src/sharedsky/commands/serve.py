"""`sharedsky serve`: run the shared line for an agreement (REST, WebSocket, SSE, map)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from sharedsky.commands.common import fail, load_agreement_or_fail


@click.command()
@click.option("--agreement", "agreement_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The agreement (TOML).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("sharedsky.db"), show_default=True, help="Record and keys (SQLite, WAL).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="TLS certificate (PEM).")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TLS private key (PEM).")
@click.option("--feed", "feeds", multiple=True, metavar="SPEC",
              help="Also read a feed: a file, beast://host:port, sbs://host:port, raw://host:port or an aircraft.json URL.")
@click.option("--require-signatures", is_flag=True, help="Refuse messages without the party's Ed25519 signature.")
@click.option("--engine-interval", default=1.0, show_default=True, type=click.FloatRange(0.05, 60),
              help="Seconds between engine steps.")
@click.option("--history", is_flag=True,
              help="Show the history of the record in --db on the map (time slider): read-only, no engine, no feeds.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(agreement_path: Path, db_path: Path, host: str, port: int, cert: Path | None, key_file: Path | None,
          feeds: tuple[str, ...], require_signatures: bool, engine_interval: float, log_level: str,
          history: bool = False) -> None:
    """Serve the agreement's parties: reports in, alerts and messages out, everything recorded."""
    import uvicorn

    from sharedsky.record.log import RecordError
    from sharedsky.service.app import create_app
    from sharedsky.service.server import service_config

    if (cert is None) != (key_file is None):
        fail("serve", "--cert and --key go together")
    ag = load_agreement_or_fail("serve", agreement_path)
    if db_path.parent and not db_path.parent.exists():
        fail("serve", f"{db_path.parent}: no such directory")
    if history and not db_path.exists():
        fail("serve", f"--history: {db_path}: no such record")
    if history and feeds:
        fail("serve", "--history shows a record as it is: no --feed")
    try:
        app = create_app(ag, db_path, feeds=feeds, engine_interval_s=engine_interval,
                         require_signatures=require_signatures, history=True if history else None)
    except RecordError as exc:
        fail("serve", str(exc))
    scheme = "https" if cert else "http"
    what = "the history of" if history else "serving"
    click.echo(f"sharedsky: {what} {ag.name!r} on {scheme}://{host}:{port} (record {db_path})", err=True)
    # The same guarded configuration as the demo's (sharedsky.service.server, issue 14).
    server = uvicorn.Server(service_config(app, ag.line, host=host, port=port, log_level=log_level,
                                           cert=cert, key_file=key_file))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn.run: it could not start (it said why)
