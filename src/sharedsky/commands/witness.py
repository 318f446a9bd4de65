"""`sharedsky witness`: a party's own node that follows the record and cosigns its checkpoints."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import click

from sharedsky.commands.common import fail, load_agreement_or_fail


@click.command()
@click.option("--party", required=True, help="The party this witness speaks for.")
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The witness's private key (`sharedsky keys witness PARTY --out FILE`).")
@click.option("--server", required=True, help="The service's URL, e.g. http://127.0.0.1:8080")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for its copy of the record, what it cosigned and the evidence of alarms.")
@click.option("--agreement", "agreement_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The agreement: origin, the log's and the witnesses' keys, the quorum.")
@click.option("--api-key", envvar="SHAREDSKY_API_KEY", required=True,
              help="The party's API key to read the record (or SHAREDSKY_API_KEY).")
@click.option("--poll-s", type=click.FloatRange(0.05, 60), default=0.5, show_default=True)
@click.option("--once", is_flag=True, help="One step, then exit (1 if it raised an alarm).")
def witness(party: str, key_path: Path, server: str, store: Path, agreement_path: Path, api_key: str,
            poll_s: float, once: bool) -> None:
    """Follow the record for PARTY, keep a copy, cosign each consistent checkpoint; alarm on rollback or fork."""
    from sharedsky.record.checkpoint import NoteError, load_key
    from sharedsky.record.log import load_private_key, public_key_b64
    from sharedsky.record.notary import trust_of
    from sharedsky.record.witness import Witness

    ag = load_agreement_or_fail("witness", agreement_path)
    try:
        trust = trust_of(ag)
        key = load_private_key(key_path.read_text())
    except (NoteError, ValueError) as exc:
        fail("witness", f"{key_path}: {exc}")
    named = ag.record.witnesses.get(party)
    if named is None:
        fail("witness", f"{agreement_path}: [record] witnesses names no key for {party!r}")
    if load_key(named, "witness").public_bytes_raw() != key.public_key().public_bytes_raw():
        fail("witness", f"{key_path}: not the key {agreement_path} names for {party!r} "
             f"(this one's public half is {public_key_b64(key.public_key())})")
    w = Witness(party, key, trust, server, api_key, store)
    if once:
        click.echo(w.step())
        raise SystemExit(1 if w.alarms else 0)
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"{party}'s witness following {server} (pid {os.getpid()}), store {store}", err=True)
    try:
        w.run(stop, poll_s)
    except KeyboardInterrupt:
        pass
    finally:
        w.close()
