"""`sharedsky verify FILE`: check a record, a party's copy, or a proof of one entry, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sharedsky.commands.common import fail, load_agreement_or_fail


def _as_proof(path: Path) -> Any:
    """The proof in FILE, or None if FILE is a record or a copy."""
    with open(path, "rb") as fh:
        start = fh.read(200)
    if not start.lstrip().startswith(b"{") or b'"format"' not in start:
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return {"format": f"malformed JSON ({exc})"}
    return d if isinstance(d, dict) else None


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(magic)) == magic


def _witnessed_in(db: Path, trust: Any) -> Any:
    """The latest checkpoint in a SQLite record that carries the agreement's quorum, or None."""
    import base64
    import sqlite3

    from sharedsky.record.checkpoint import NoteError, SignedNote

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT size, note FROM checkpoint ORDER BY size DESC LIMIT 200").fetchall()
        for size, text in rows:
            note = SignedNote.parse(text)
            for party, line in conn.execute("SELECT party, line FROM cosignature WHERE size = ?", (size,)):
                note.sigs.append((party, base64.b64decode(line)))
            try:
                trust.check(note)
                return note
            except NoteError:
                continue
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None


def _verify_dossier(path: Path, trust: Any, agreement: Any) -> None:
    """Check every proof a dossier embeds and the facts its HTML states; exit 1 naming each entry that fails."""
    from sharedsky.reports.dossier import verify_dossier

    if trust is None:
        fail("verify", "a dossier is checked against the agreement's keys: give --agreement")
    text = path.read_text(encoding="utf-8", errors="replace")
    if trust.log_key is None:
        # The agreement names no log key: the one the dossier carries is used, and that is said,
        # as it vouches only for itself (pin it in the agreement's [record] log_key).
        from dataclasses import replace

        from sharedsky.record.checkpoint import NoteError, load_key
        from sharedsky.reports.dossier import read_dossier

        try:
            trust = replace(trust, log_key=load_key(str(read_dossier(text)[0].get("log_key", "")), "the dossier's log key"))
        except (ValueError, NoteError) as exc:
            fail("verify", f"{path}: the agreement names no log key and the dossier carries none ({exc})")
        click.echo(f"{path}: WARNING, the agreement names no log key ([record] log_key): checked against the key "
                   "the dossier itself carries, which proves consistency, not who signed", err=True)
    res = verify_dossier(text, trust, agreement)
    if res.ok:
        withheld = f", {res.withheld} of them withheld from the copy it was built from" if res.withheld else ""
        by = f"; witnessed by {', '.join(res.witnessed_by)}" if res.witnessed_by else "; not witnessed"
        click.echo(f"{path}: OK, {res.entries} cited entries proven{withheld}, and every fact shown matches them{by}"
                   + (f"; not compared: {res.unchecked}" if res.unchecked else ""))
        return
    for p in res.problems:
        click.echo(f"{path}: REFUSED, {p}", err=True)
    raise SystemExit(1)


@click.command()
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agreement", "agreement_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check against the agreement's keys (log key, witnesses, quorum): needed for a proof.")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A witnessed checkpoint (signed note) the record must match (default with a SQLite "
                   "record and --agreement: its latest witnessed one).")
@click.option("--server-key", help="Pin the server's public key (base64) instead of trusting the genesis entry.")
def verify(record: Path, agreement_path: Path | None, checkpoint_path: Path | None, server_key: str | None) -> None:
    """Verify RECORD (SQLite record, JSON-lines copy, a `sharedsky prove` file or an incident dossier); exit 1 naming what is wrong."""
    from sharedsky.record.checkpoint import NoteError, SignedNote
    from sharedsky.record.log import SQLITE_MAGIC
    from sharedsky.record.log import verify as verify_record
    from sharedsky.record.notary import trust_of

    trust = ag = None
    if agreement_path is not None:
        ag = load_agreement_or_fail("verify", agreement_path)
        try:
            trust = trust_of(ag)
        except NoteError as exc:
            fail("verify", f"{agreement_path}: {exc}")
    from sharedsky.reports.dossier import is_dossier

    if is_dossier(record):
        _verify_dossier(record, trust, ag)
        return
    proof = _as_proof(record)
    if proof is not None:
        from sharedsky.record.proof import verify_proof

        if trust is None:
            fail("verify", "a proof is checked against the agreement's keys: give --agreement")
        res = verify_proof(proof, trust)
        if res.ok:
            click.echo(f"{record}: OK, {res.reason}")
            return
        click.echo(f"{record}: REFUSED, {res.reason}", err=True)
        raise SystemExit(1)
    note = None
    if checkpoint_path is not None:
        try:
            note = SignedNote.parse(checkpoint_path.read_text(encoding="utf-8"))
        except (NoteError, UnicodeDecodeError) as exc:
            fail("verify", f"{checkpoint_path}: {exc}")
    elif trust is not None and _starts_with(record, SQLITE_MAGIC):
        note = _witnessed_in(record, trust)
    res = verify_record(record, server_public_key=server_key, checkpoint=note, trust=trust)
    if res.ok:
        click.echo(f"{record}: OK, {res.reason}")
        return
    click.echo(f"{record}: BROKEN, {res.reason}", err=True)
    raise SystemExit(1)
