"""`sharedsky check AGREEMENT`: validate an agreement and print a readable summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from sharedsky.commands.common import fail


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _attribution_text(p) -> str:  # noqa: ANN001 - a model.Attribution
    a = p.attribution
    parts = []
    if a.icao:
        parts.append(f"{len(a.icao)} ICAO")
    if a.icao_ranges:
        parts.append("ICAO " + ", ".join(f"{lo}-{hi}" for lo, hi in a.icao_ranges))
    if a.callsign_prefixes:
        parts.append("callsign " + ", ".join(f"{c}*" for c in a.callsign_prefixes))
    if a.callsign_patterns:
        parts.append("pattern " + ", ".join(a.callsign_patterns))
    if a.sources:
        parts.append("source " + ", ".join(a.sources))
    return "; ".join(parts)


def summary(agr) -> dict:  # noqa: ANN001 - an Agreement
    """The summary `check --json` prints: a plain dict."""
    levels = agr.minima_levels()
    ids = agr.party_ids
    return {
        "name": agr.name,
        "version": agr.version,
        "default_party": agr.default_party,
        "parties": [{"id": p.id, "name": p.name, "colour": p.colour} for p in agr.parties],
        "minima": {
            lv.name: [
                {"a": ids[i], "b": ids[j], "h_nm": float(lv.h_nm[i, j]),
                 "v_ft": float(lv.v_ft[i, j]), "t_s": float(lv.t_s[i, j])}
                for i in range(len(ids)) for j in range(i, len(ids)) if lv.checked[i, j]
            ]
            for lv in levels
        },
        "airspaces": [
            {"id": a.id, "name": a.name, "owner": a.owner, "source": a.source,
             "area_km2": round(a.area_km2, 1), "area_nm2": round(a.area_nm2, 1),
             "floor_ft": a.floor_ft, "ceiling_ft": a.ceiling_ft, "barred": a.barred,
             "horizon_s": a.horizon_s,
             "stages": [{"name": s.name, "lead_s": s.lead_s} for s in a.schedule.stages],
             "repeat_inside_s": a.schedule.repeat_inside_s}
            for a in agr.airspaces
        ],
        "channels": agr.channels.model_dump(),
        "alerting": agr.alerting.model_dump(),
        "line": agr.line.model_dump(),
        "suppression": [{"id": r.id, "kind": r.kind, "rule": r.describe} for r in agr.suppression.regions],
        "disclosure": {pid: agr.disclosure_for(pid).model_dump() for pid in ids},
        **({"wellclear": agr.wellclear.describe()} if agr.wellclear else {}),
    }


def _print(agr, console: Console) -> None:  # noqa: ANN001 - an Agreement
    console.print(f"[bold]{agr.name}[/bold]" + (f"  (version {agr.version})" if agr.version else ""))
    if agr.description:
        console.print(agr.description)
    console.print(f"[green]valid[/green]: {agr.path}")

    t = Table(title="Parties", title_justify="left")
    for col in ("#", "id", "name", "colour", "attribution"):
        t.add_column(col)
    for p, doc_p in zip(agr.parties, agr.document.party, strict=True):
        default = " (default)" if p.id == agr.default_party else ""
        t.add_row(str(p.index), p.id + default, p.name, f"[{p.colour}]■[/] {p.colour}",
                  _attribution_text(doc_p) or "-")
    console.print(t)

    ids = agr.party_ids
    for lv in agr.minima_levels():
        m = Table(title=f"Minima, level '{lv.name}': h NM / v ft / look-ahead s ('-' unchecked)",
                  title_justify="left")
        m.add_column("")
        for pid in ids:
            m.add_column(pid, justify="center")
        for i, pid in enumerate(ids):
            cells = []
            for j in range(len(ids)):
                if lv.checked[i, j]:
                    cells.append(f"{lv.h_nm[i, j]:g}/{lv.v_ft[i, j]:g}/{lv.t_s[i, j]:g}")
                else:
                    cells.append("-")
            m.add_row(pid, *cells)
        console.print(m)

    for w in agr.wellclear.describe():
        lv = "; ".join(f"{x['region']} {x['volume']} {_fmt(x['alerting_time_s'])} s "
                       f"({_fmt(x['early_alerting_time_s'])} s early)" for x in w["levels"])
        console.print(f"[bold]Well clear[/bold] {w['a']}/{w['b']}: {w['source']}, alerter {w['alerter']}, "
                      f"lookahead {_fmt(w['lookahead_s'])} s, corrective from {w['corrective_region']}: {lv}")

    if not agr.airspaces:
        console.print("Protected airspaces: none")
    for a in agr.airspaces:
        g = Table.grid(padding=(0, 2))
        g.add_column(style="bold")
        g.add_column()
        stages = ", ".join(f"{s.name} {_fmt(s.lead_s)} s before entry" for s in a.schedule.stages)
        g.add_row("owner", a.owner)
        g.add_row("outline", a.source)
        g.add_row("area", f"{a.area_km2:,.0f} km² = {a.area_nm2:,.0f} NM² (on the WGS84 ellipsoid)")
        g.add_row("vertical", f"{_fmt(a.floor_ft)} ft to {_fmt(a.ceiling_ft)} ft")
        g.add_row("barred", ", ".join(a.barred) or "-")
        g.add_row("warnings", f"predicted {_fmt(a.horizon_s)} s ahead; {stages}; violation on "
                              f"entry, repeated every {_fmt(a.schedule.repeat_inside_s)} s inside")
        console.print(f"[bold]Airspace {a.id}[/bold]: {a.name}")
        console.print(g)

    ch = agr.channels
    console.print(
        "[bold]Channels[/bold]: distress "
        + ", ".join(f"{f:g} MHz" for f in ch.distress_mhz)
        + f"; hotline {ch.hotline or '-'}; language {ch.language}; "
        f"notice {_fmt(ch.notice_lead_s / 3600)} h ahead; acknowledge within {_fmt(ch.ack_within_s)} s"
    )
    al = agr.alerting
    console.print(
        f"[bold]Alerting[/bold]: an alert ends {_fmt(al.clear_after_s)} s after its conflict was last "
        f"predicted and stays open while the pair conflicts with minima x{_fmt(al.keep_factor)}; "
        f"re-announced when the predicted loss moves by more than {_fmt(al.retime_s)} s and "
        f"{_fmt(100 * al.retime_frac)} % of the time left"
    )
    if not agr.suppression:
        console.print("[bold]Suppression[/bold]: none (every conflict and loss of separation is alerted)")
    else:
        console.print("[bold]Suppression[/bold] (conflicts whose predicted loss, and losses of separation "
                      "whose two aircraft, are inside: recorded and counted as suppressed, not alerted):")
        for r in agr.suppression.regions:
            console.print(f"  {r.id}: {r.describe}")
    d = Table(title="Disclosure (own aircraft and conflicts with them always visible)",
              title_justify="left")
    d.add_column("observer")
    d.add_column("sees of the others")
    for pid in ids:
        r = agr.disclosure_for(pid)
        if r.mode == "all":
            text = "all aircraft"
        elif r.mode == "conflict":
            text = "only aircraft in a conflict with its own"
        else:
            text = f"aircraft within {_fmt(r.within_nm or 0)} NM of its own"
            if r.within_s:
                text += f", now or within {_fmt(r.within_s)} s"
        d.add_row(pid, text)
    console.print(d)


@click.command()
@click.argument("agreement", type=click.Path(path_type=Path), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--schema", is_flag=True, help="Print the agreement JSON Schema and exit.")
def check(agreement: Path | None, as_json: bool, schema: bool) -> None:
    """Validate AGREEMENT (TOML) and print its parties, minima, airspaces, channels.

    Exit status 2 with every problem (file:line: key.path: reason) on stderr when invalid.
    """
    from sharedsky.agreement import AgreementError, json_schema, load_agreement

    if schema:
        click.echo(json.dumps(json_schema(), indent=2))
        return
    if agreement is None:
        fail("check", "missing AGREEMENT (a TOML file), or --schema")
    try:
        agr = load_agreement(agreement)
    except AgreementError as exc:
        fail("check", str(exc))
    if as_json:
        click.echo(json.dumps(summary(agr), indent=2))
        return
    # Piped output (no terminal) gets a fixed, wide page instead of rich's 80 columns.
    width = None if sys.stdout.isatty() else 120
    _print(agr, Console(file=sys.stdout, highlight=False, width=width))
