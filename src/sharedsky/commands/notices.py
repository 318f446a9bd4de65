"""`sharedsky notices check PLAN --against URL|RECORD`: a planned set of notified
operations checked against what is already notified, without sending anything.

PLAN is a JSON, GeoJSON or CSV file (`sharedsky.ingest.notices.read_plan`); what is
notified comes from a record (the service's SQLite file, or a JSON-lines copy from
`GET /api/v1/record`) or from a running service (its events, with a party's key). The
check is the service's own (`alerting.notice_book`): every conflict the plan would
raise, with its overlap, the party to give way and whether it would be short notice.
Exit status: 0 no conflict, 1 conflicts, 2 bad input.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from sharedsky.commands.common import fail, load_agreement_or_fail

CMD = "notices check"


def _from_record(path: Path) -> list[dict[str, Any]]:
    """Notice events as the service derives them from its record entries."""
    from sharedsky.record.audit import read_entries
    from sharedsky.record.log import RecordError

    out: list[dict[str, Any]] = []
    try:
        for e in read_entries(path):
            if e.kind != "notice" or e.payload is None:
                continue
            body = dict(e.data.get("event", {}))
            out.append({"seq": e.seq, "t": float(body.pop("t", e.t)), "kind": "notice", **body})
    except (RecordError, OSError, ValueError) as exc:
        fail(CMD, f"{path}: not a readable record ({exc})")
    return out


def _from_service(url: str, key: str | None) -> tuple[list[dict[str, Any]], str]:
    """Notice events a party's key sees on a running service, and that party."""
    from sharedsky.client import Client, ServiceError

    if not key:
        fail(CMD, "--against a URL needs a party's API key (--key or SHAREDSKY_KEY)")
    out: list[dict[str, Any]] = []
    try:
        with Client(url, key) as c:
            party = str(c.me().get("party", ""))
            after = 0
            while True:
                evs = c.events(after=after, limit=1000)
                if not evs:
                    break
                out.extend(e for e in evs if e.get("kind") == "notice")
                after = int(evs[-1]["seq"])
    except ServiceError as exc:
        fail(CMD, f"{url}: {exc}")
    except Exception as exc:  # network errors of every kind
        fail(CMD, f"{url}: cannot read events ({exc})")
    return out, party


@click.group()
def notices() -> None:
    """Notified operations: check a plan before sending it."""


@notices.command("check")
@click.argument("plan", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--against", "against", required=True, help="A record (SQLite or JSON lines) or a service URL.")
@click.option("--agreement", "agreement_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The agreement (TOML).")
@click.option("--party", default=None, help="Whose plan it is (default: the key's party, or the plan's).")
@click.option("--key", envvar="SHAREDSKY_KEY", default=None, help="API key, for --against a URL.")
@click.option("--at", "at", default=None, help="Check as of this time (ISO 8601 or epoch s; default now).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per conflict.")
def check(plan: Path, against: str, agreement_path: Path, party: str | None, key: str | None, at: str | None,
          as_json: bool) -> None:
    """Report the conflicts PLAN would have with what is notified; send nothing."""
    from sharedsky.alerting.notice_book import book_from_events
    from sharedsky.ingest.notices import NoticeError, read_plan
    from sharedsky.ingest.times import parse_time as _parse_time

    agr = load_agreement_or_fail(CMD, agreement_path)
    try:
        specs = read_plan(plan, agr.notices)
    except NoticeError as exc:
        fail(CMD, str(exc))
    if against.startswith(("http://", "https://")):
        events, key_party = _from_service(against, key)
        party = party or key_party
    else:
        path = Path(against)
        if not path.is_file():
            fail(CMD, f"--against {against}: neither a service URL nor a record file")
        events = _from_record(path)
    t_s = time.time() if at is None else _parse_time(at)
    if t_s is None:
        fail(CMD, f"--at {at!r}: must be an ISO 8601 time or epoch seconds")
    parties = {s.party for s in specs if s.party}
    if party is None:
        if len(parties) != 1:
            fail(CMD, "say whose plan it is (--party), or give each notice of the plan the same 'party'")
        party = parties.pop()
    if party not in agr.party_ids:
        fail(CMD, f"--party {party!r}: not a party of the agreement ({', '.join(agr.party_ids)})")
    book = book_from_events(agr, events)
    found = book.check_plan(party, specs, float(t_s))
    n_vol = sum(len(s.volumes) for s in specs)
    if as_json:
        for ev in found:
            click.echo(json.dumps(ev, separators=(",", ":")))
    else:
        click.echo(f"{plan}: {len(specs)} operation(s), {n_vol} volume(s) of {party} against "
                   f"{len(book.volumes())} notified volume(s) of {len(book.operations)} operation(s)")
        for ev in found:
            mine, other = ev["volumes"] if ev["volumes"][0]["party"] == party else ev["volumes"][::-1]
            click.echo(f"  CONFLICT {mine['operation']}#{mine['volume']} with {other['operation']}#{other['volume']} "
                       f"v{other['version']} ({other['purpose'] or '-'}): {ev['start']} to {ev['end']}, "
                       f"{ev['floor_ft']:,.0f}-{ev['ceiling_ft']:,.0f} ft, {ev['overlap_area_nm2']:,.1f} NM2"
                       f"{', SHORT NOTICE' if ev['short_notice'] else ''}; gives way: {ev['gives_way']}")
        click.echo(f"{len(found)} conflict(s)")
    raise SystemExit(1 if found else 0)
