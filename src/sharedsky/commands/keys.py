"""`sharedsky keys`: issue, revoke and list the API keys of a service's parties."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sharedsky.commands.common import fail, load_agreement_or_fail

DB_OPTION = click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
                         default=Path("sharedsky.db"), show_default=True,
                         help="The service's database (record and keys).")


@click.group()
def keys() -> None:
    """Issue, revoke and list API keys (stored only as hashes)."""


@keys.command("issue")
@click.argument("party")
@click.option("--supervisor", is_flag=True, help="A key that sees every party's events and aircraft.")
@click.option("--agreement", "agreement_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check that PARTY is one of the agreement's parties.")
@click.option("--signing-key-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the party's private signing key to this file (mode 0600).")
@click.option("--json", "as_json", is_flag=True, help="Print the new key as JSON.")
@DB_OPTION
def issue(party: str, supervisor: bool, agreement_path: Path | None, signing_key_out: Path | None,
          as_json: bool, db_path: Path) -> None:
    """Issue a key for PARTY and print it once (it is stored only as a hash)."""
    from sharedsky.record.keys import KeyStore
    from sharedsky.record.log import RecordError

    if agreement_path is not None:
        ag = load_agreement_or_fail("keys issue", agreement_path)
        if not supervisor and party not in ag.party_ids:
            fail("keys issue", f"{party!r} is not a party of {agreement_path} "
                 f"(parties: {', '.join(ag.party_ids)})")
    try:
        k = KeyStore(db_path).issue(party, supervisor)
    except (ValueError, RecordError) as exc:
        fail("keys issue", str(exc))
    if signing_key_out is not None:
        import os
        fd = os.open(signing_key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(k.signing_key + "\n")
    if as_json:
        click.echo(json.dumps({"key_id": k.key_id, "party": k.party, "supervisor": k.supervisor,
                               "api_key": k.api_key, "signing_key": k.signing_key,
                               "public_key": k.public_key}))
        return
    click.echo(f"party:       {k.party}{' (supervisor)' if k.supervisor else ''}")
    click.echo(f"key id:      {k.key_id}")
    click.echo(f"api key:     {k.api_key}")
    click.echo(f"signing key: {k.signing_key}")
    click.echo("Keep both secret; they are shown only now.", err=True)


@keys.command("revoke")
@click.argument("key_id")
@DB_OPTION
def revoke(key_id: str, db_path: Path) -> None:
    """Revoke a key by its id (or the full key)."""
    from sharedsky.record.keys import KeyStore

    if not db_path.exists():
        fail("keys revoke", f"{db_path}: no such database")
    if not KeyStore(db_path).revoke(key_id):
        fail("keys revoke", f"no live key with id {key_id!r} in {db_path}", code=1)
    click.echo(f"revoked {key_id}")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@DB_OPTION
def list_keys(as_json: bool, db_path: Path) -> None:
    """List keys: id, party, supervisor, created, revoked (never the keys themselves)."""
    from datetime import UTC, datetime

    from sharedsky.record.keys import KeyStore

    if not db_path.exists():
        fail("keys list", f"{db_path}: no such database")

    def iso(t: float | None) -> str:
        return "" if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")

    for k in KeyStore(db_path).list():
        if as_json:
            click.echo(json.dumps({"key_id": k.key_id, "party": k.party, "supervisor": k.supervisor,
                                   "created": iso(k.created), "revoked": iso(k.revoked) or None}))
        else:
            click.echo(f"{k.key_id}  {k.party:<16} {'supervisor' if k.supervisor else 'party':<10} "
                       f"created {iso(k.created)}  {'revoked ' + iso(k.revoked) if k.revoked else 'live'}")


@keys.command("log")
@DB_OPTION
def log_key(db_path: Path) -> None:
    """Print the service's log key (the public half of `<db>.key`, made if missing): `[record] log_key`."""
    from sharedsky.record.log import (
        RecordError,
        load_or_create_server_key,
        public_key_b64,
        server_key_path,
    )

    try:
        key = load_or_create_server_key(server_key_path(db_path))
    except (RecordError, OSError) as exc:
        fail("keys log", str(exc))
    click.echo(public_key_b64(key.public_key()))


@keys.command("witness")
@click.argument("party")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the witness's private key (mode 0600; refused if it exists).")
def witness_key(party: str, out: Path) -> None:
    """Make PARTY's witness key pair: the private key into --out, the public key (for the agreement's
    `[record] witnesses`) on stdout."""
    import os

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sharedsky.record.log import private_key_b64, public_key_b64

    key = Ed25519PrivateKey.generate()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        fail("keys witness", f"{out}: {exc.strerror}")
    with os.fdopen(fd, "w") as fh:
        fh.write(private_key_b64(key) + "\n")
    click.echo(f'{party} = "{public_key_b64(key.public_key())}"')
