"""`sharedsky prove SEQ`: a self-contained proof of one entry, to check offline with `sharedsky verify`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sharedsky.commands.common import fail, load_agreement_or_fail


@click.command()
@click.argument("seq", type=click.IntRange(min=1))
@click.option("--record", "source", required=True, help="The record: a SQLite file, or the service's URL.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Proof file (JSON).")
@click.option("--agreement", "agreement_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The agreement (needed with a SQLite record: its witnesses and quorum).")
@click.option("--api-key", envvar="SHAREDSKY_API_KEY", help="With a URL: the key (or SHAREDSKY_API_KEY); "
              "the payload is in the proof only if this key's party may see it.")
def prove(seq: int, source: str, out: Path, agreement_path: Path | None, api_key: str | None) -> None:
    """Write the proof of entry SEQ: header, payload (if visible), inclusion proof, witnessed checkpoint."""
    if source.startswith(("http://", "https://")):
        import httpx

        if not api_key:
            fail("prove", "--api-key (or SHAREDSKY_API_KEY) is needed to ask the service")
        try:
            r = httpx.get(source.rstrip("/") + "/api/v1/proof/entry", params={"seq": seq},
                          headers={"Authorization": f"Bearer {api_key}"}, timeout=60)
        except httpx.HTTPError as exc:
            fail("prove", f"{source}: {exc}")
        if r.status_code != 200:
            fail("prove", f"{source}: {r.status_code} {r.text[:500]}", code=1 if r.status_code == 404 else 2)
        proof = r.json()
    else:
        from sharedsky.record.log import Record, RecordError
        from sharedsky.record.notary import Notary, trust_of
        from sharedsky.record.proof import ProofUnavailable, make_proof

        if agreement_path is None:
            fail("prove", "--agreement is needed with a SQLite record")
        if not Path(source).is_file():
            fail("prove", f"{source}: no such record")
        ag = load_agreement_or_fail("prove", agreement_path)
        try:
            rec = Record(source)
            proof = make_proof(rec, Notary(rec, trust_of(ag, rec.public_key)), seq)
        except RecordError as exc:
            fail("prove", str(exc))
        except ProofUnavailable as exc:
            fail("prove", str(exc), code=1)
    out.write_text(json.dumps(proof, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    cp = proof["checkpoint"].split("\n")
    click.echo(f"{out}: entry {seq} in the checkpoint of size {cp[1]} ({proof['entry']['kind']})")
