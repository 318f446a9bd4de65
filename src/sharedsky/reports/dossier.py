"""The incident dossier: one self-contained HTML document per incident, which anyone can check offline.

`build_dossier` chooses the incident (a record seq, or aircraft and a time window), cites every
entry that concerns it (the reports of its aircraft, each alert stage, warnings, messages,
acknowledgements, deliveries; what the source withholds, as withheld), draws the figures, states
the facts (`dossier_facts`) and embeds each cited entry's proof (`sharedsky-proof/1`) in a
`<script type="application/json">` block. `verify_dossier` checks every embedded proof with the
agreement's keys only, states the facts again from the proven entries and compares them with the
HTML's text, naming each entry that does not verify or whose facts were changed.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from sharedsky.record.checkpoint import Trust
from sharedsky.record.log import Entry, public_key_b64
from sharedsky.record.proof import verify_proof
from sharedsky.reports.dossier_facts import (
    EVENT_KINDS,
    FOLLOW_UPS,
    Fact,
    aircraft_of,
    all_facts,
    event_of,
)
from sharedsky.reports.dossier_frame import frame_facts
from sharedsky.reports.dossier_source import (
    CopySource,
    DossierError,
    RecordSource,
    ViewSource,
    entry_of,
)

FORMAT = "sharedsky-dossier/3"
#: The format before advisories and well-clear alerts were stated (issue 13): still verified,
#: its facts as it stated them.
FORMAT_V2 = "sharedsky-dossier/2"
#: The format before the frame was stated (title, source, rules, keys, checkpoint): still verified,
#: its entries' facts only.
FORMAT_V1 = "sharedsky-dossier/1"
#: The tables of the frame (`dossier_frame`), stated from the proofs' checkpoint.
FRAME_TABLES = {"doctitle", "title", "source", "rules", "keys", "checkpoint"}
#: Seconds of context before the first alert of an incident chosen by seq, and after its last.
BEFORE_S = 120.0
AFTER_S = 60.0
#: How far after the chosen entry its incident's later stages are looked for.
FOLLOW_S = 3600.0
MESSAGE_KINDS = ("distress", "notice", "request", "response")


@dataclass
class Incident:
    """What the dossier is about: the aircraft, the time window, the entry that names it."""

    ids: list[str]
    t0: float
    t1: float
    anchor: int
    parties: list[str] = field(default_factory=list)


def choose_incident(src: RecordSource | CopySource, seq: int | None, aircraft: Sequence[str],
                    t_from: float | None, t_to: float | None) -> Incident:
    """The incident of entry `seq` (its aircraft, from its first to last stage), or of aircraft in a window."""
    if seq is not None:
        e = src.entry(seq)
        if e is None:
            raise DossierError(f"--seq {seq}: no such entry in the record")
        if e.payload is None:
            raise DossierError(f"--seq {seq}: this copy withholds entry {seq} ({e.kind}): not an incident it may see")
        ev = event_of(e)
        ids = sorted(aircraft_of(ev)) or list(aircraft)
        if not ids:
            raise DossierError(f"--seq {seq}: entry {seq} ({e.kind}) names no aircraft; give --aircraft")
        ident = ev.get("id")
        last = e.t
        if ident:
            for f in src.window(e.t, e.t + FOLLOW_S):
                if f.kind == e.kind and event_of(f).get("id") == ident:
                    last = f.t
        parties = sorted({str(ev[k]) for k in ("party_a", "party_b", "party") if ev.get(k)})
        return Incident(ids, t_from if t_from is not None else e.t - BEFORE_S,
                        t_to if t_to is not None else last + AFTER_S, seq, parties)
    if not aircraft or t_from is None or t_to is None:
        raise DossierError("give --seq, or --aircraft with --from and --to")
    if t_to <= t_from:
        raise DossierError("--to must be after --from")
    return Incident(sorted(aircraft), t_from, t_to, 0)


def cite(src: RecordSource | CopySource, inc: Incident) -> list[Entry]:
    """Every entry in the window that concerns the incident (withheld ones of its parties included)."""
    ids = set(inc.ids)
    cited: list[Entry] = []
    seqs: set[int] = set()
    parties = set(inc.parties)
    for e in src.window(inc.t0, inc.t1):
        if e.seq > src.size:
            break
        take = False
        if e.payload is None:
            take = e.kind != "reports" or e.party in parties
        elif e.kind == "reports":
            cols = json.loads(e.payload).get("columns", {})
            take = bool(ids.intersection(cols.get("icao24", [])))
            if take and e.party:
                parties.add(e.party)
        elif e.kind in EVENT_KINDS:
            ev = event_of(e)
            if aircraft_of(ev) & ids:
                take = True
                parties.update(str(ev[k]) for k in ("party_a", "party_b", "party") if ev.get(k))
            elif e.kind in FOLLOW_UPS and ev.get("of_seq") in seqs:
                take = True
            elif e.kind in MESSAGE_KINDS and (e.party in parties or ev.get("to") in parties):
                take = True
        if take:
            cited.append(e)
            seqs.add(e.seq)
    if inc.anchor and inc.anchor not in seqs:
        a = src.entry(inc.anchor)
        if a is not None:
            cited.append(a)
    inc.parties = sorted(parties)
    return sorted(cited, key=lambda e: e.seq)


CSS = """
body{font-family:DejaVu Sans,Arial,sans-serif;font-size:10.5pt;margin:18px;color:#111}
h1{font-size:17pt;margin:0 0 4px} h2{font-size:13pt;border-bottom:1px solid #999;margin-top:18px}
table{border-collapse:collapse;width:100%;font-size:8.5pt} td,th{border:1px solid #ccc;padding:2px 4px;
vertical-align:top;text-align:left} th{background:#eee} tr.withheld td{color:#777;font-style:italic}
img{max-width:100%} .note{color:#444;font-size:9pt} code{font-size:8.5pt;word-break:break-all}
ul.summary li{margin:2px 0} .fig{page-break-inside:avoid}
table.keys td:last-child{font-family:DejaVu Sans Mono,monospace;font-size:8pt;word-break:break-all}
"""


def _fact_html(f: Fact, tag: str, cell: str) -> str:
    cells = "".join(f"<{cell}>{html.escape(c)}</{cell}>" for c in f.cells)
    return f'<{tag} data-seq="{" ".join(map(str, f.seqs))}" data-table="{f.table}">{cells}</{tag}>'


def _line_html(f: Fact, tag: str, attrs: str = "") -> str:
    """A one-cell fact as one element (its text directly inside)."""
    return f'<{tag}{attrs} data-seq="{" ".join(map(str, f.seqs))}" data-table="{f.table}">{html.escape(f.cells[0])}</{tag}>'


def render_html(inc: Incident, cited: Sequence[Entry], proofs: dict[int, dict[str, Any]], figures: dict[str, str],
                src: RecordSource | CopySource, agreement: Any) -> str:
    """The dossier's HTML: title, summary, rules, figures, timeline, keys, tracks, checkpoint, the proofs as JSON."""
    copy_of = src.copy_of
    facts = all_facts(cited, inc.ids, inc.anchor, copy_of)
    incident = {"ids": inc.ids, "t0": inc.t0, "t1": inc.t1, "anchor": inc.anchor, "parties": inc.parties,
                "copy_of": copy_of, "built_for": src.party if isinstance(src, ViewSource) else ""}
    proof_list = [proofs[e.seq] for e in cited]
    cosigners = sorted(src.trust.cosigners(src.note)) if src.witnessed else []
    others = frame_facts(cited, incident, proof_list, src.trust, src.note.text(), cosigners, agreement)
    frame = {f.table: f for f in others if f.table in ("doctitle", "title", "source", "checkpoint")}
    s = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' + _line_html(frame["doctitle"], "title"),
         f"<style>{CSS}</style></head><body>",
         _line_html(frame["title"], "h1"),
         _line_html(frame["source"], "p", ' class="note"'),
         '<p class="note">Check it offline with <code>sharedsky verify THIS.html --agreement AGREEMENT</code>: every '
         "proof, then every line below that rests on the record, the agreement or the keys.</p>",
         "<h2>Summary</h2><ul class=\"summary\">"]
    s += [_fact_html(f, "li", "span") for f in facts if f.table == "summary"]
    s.append("</ul><p class=\"note\">Rules that applied (from the agreement): </p><ul>")
    s += [_line_html(f, "li") for f in others if f.table == "rules"]
    s.append("</ul>")
    captions = {"map": "Map: both tracks (positions labelled by UTC time), borders and airspaces, predicted paths "
                       "at each warning (dashed)",
                "profile": "Vertical profiles", "separation": "Separation against time, minima and warnings"}
    for name, data in figures.items():
        s.append(f'<div class="fig"><h2>{captions.get(name, name)}</h2>'
                 f'<img alt="{name}" src="data:image/png;base64,{data}"></div>')
    s.append("<h2>Timeline of the record</h2><table><tr><th>seq</th><th>time (UTC)</th><th>by</th><th>kind</th>"
             "<th>what the entry records</th></tr>")
    for f in facts:
        if f.table == "timeline":
            row = _fact_html(f, "tr", "td")
            if "withheld from this copy" in f.cells[-1]:
                row = row.replace("<tr ", '<tr class="withheld" ', 1)
            s.append(row)
    s.append('</table><h2>Keys</h2><table class="keys"><tr><th>key</th><th>SHA-256 fingerprint</th>'
             "<th>public key</th></tr>")
    s += [_fact_html(f, "tr", "td") for f in others if f.table == "keys"]
    s.append("</table><h2>Reported positions</h2><table><tr><th>seq</th><th>report time (UTC)</th><th>callsign</th>"
             "<th>icao24</th><th>lat (deg)</th><th>lon (deg)</th><th>alt (ft)</th><th>gs (kt)</th><th>track (deg)</th>"
             "</tr>")
    s += [_fact_html(f, "tr", "td") for f in facts if f.table == "track"]
    s.append("</table><h2>Checkpoint</h2>" + _line_html(frame["checkpoint"], "pre"))
    doc = {"format": FORMAT, "incident": incident, "log_key": src_log_key(src), "proofs": proof_list}
    blob = json.dumps(doc, ensure_ascii=True, separators=(",", ":")).replace("</", "<\\/")
    s.append(f'<script type="application/json" id="sharedsky-dossier">{blob}</script></body></html>')
    return "\n".join(s) + "\n"


def src_log_key(src: RecordSource | CopySource) -> str:
    return public_key_b64(src.trust.log_key) if src.trust.log_key is not None else ""


def build_dossier(src: RecordSource | CopySource, agreement: Any, inc: Incident, plots: bool = True) -> str:
    """The dossier of an incident from a source: cite, prove, draw, render."""
    cited = cite(src, inc)
    if not cited:
        raise DossierError("no entry of the record concerns this incident in its window")
    proofs = {e.seq: src.proof(e.seq) for e in cited}
    figures: dict[str, str] = {}
    if plots:
        from sharedsky.reports.dossier_plots import figures_png

        figures = figures_png(cited, inc.ids, inc.parties, agreement)
    return render_html(inc, cited, proofs, figures, src, agreement)


# -- verification ---------------------------------------------------------------------------------

class _Facts(HTMLParser):
    """The text of every element carrying `data-seq` (cells in order), and the embedded JSON."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, list[str]]] = []  # (table, seqs, cells)
        self._open: list[str] = []
        self._cur: list[str] | None = None
        self._depth = 0
        self._in_json = False
        self.json_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("id") == "sharedsky-dossier":
            self._in_json = True
            return
        if self._cur is not None:
            self._depth += 1
            return
        if "data-seq" in a:
            self._cur = []
            self._depth = 0
            self.found.append((a.get("data-table") or "", a.get("data-seq") or "", self._cur))

    def handle_endtag(self, tag: str) -> None:
        if self._in_json and tag == "script":
            self._in_json = False
            return
        if self._cur is not None:
            if self._depth == 0:
                self._cur = None
            else:
                self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.json_text.append(data)
        elif self._cur is not None and data.strip():
            self._cur.append(data.strip())


@dataclass
class DossierResult:
    """What `verify_dossier` found: ok, one line per problem (naming the entry), entries checked."""

    ok: bool
    problems: list[str]
    entries: int = 0
    withheld: int = 0
    witnessed_by: list[str] = field(default_factory=list)
    unchecked: str = ""  # what was not compared, if anything (a format-1 dossier's frame)


def read_dossier(text: str) -> tuple[dict[str, Any], list[tuple[str, str, list[str]]]]:
    """The embedded document and the facts shown in the HTML; ValueError if there is none."""
    p = _Facts()
    p.feed(text)
    p.close()
    if not p.json_text:
        raise ValueError("no embedded sharedsky-dossier block (not a dossier?)")
    doc = json.loads("".join(p.json_text))
    if not isinstance(doc, dict) or doc.get("format") not in (FORMAT, FORMAT_V2, FORMAT_V1):
        raise ValueError(f"the embedded block is not a {FORMAT} document")
    return doc, p.found


def verify_dossier(text: str, trust: Trust, agreement: Any | None = None) -> DossierResult:
    """Check every embedded proof, then that the HTML states exactly the facts of the proven entries
    and the frame round them (title, source, keys, checkpoint; with the agreement, its rules too)."""
    try:
        doc, shown = read_dossier(text)
        inc = doc["incident"]
        ids, anchor, copy_of = [str(i) for i in inc["ids"]], int(inc["anchor"]), str(inc.get("copy_of", ""))
        proofs = doc["proofs"]
        if not isinstance(proofs, list):
            raise TypeError("proofs is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        return DossierResult(False, [f"not a readable dossier: {exc}"])
    problems: list[str] = []
    entries: list[Entry] = []
    who: set[str] = set()
    checkpoint = ""
    failed: dict[str, list[str]] = {}  # reason -> entries (one line for a checkpoint they all share)
    for k, pr in enumerate(proofs):
        res = verify_proof(pr, trust)
        seq = pr.get("entry", {}).get("seq", f"#{k}") if isinstance(pr, dict) else f"#{k}"
        if not res.ok:
            failed.setdefault(re.sub(rf"^entry {seq}\b", "the entry", res.reason), []).append(str(seq))
            continue
        who.update(res.cosigners)
        checkpoint = checkpoint or str(pr["checkpoint"])
        try:
            entries.append(entry_of(pr))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"entry {seq}: {exc}")
    for reason, bad in failed.items():
        label = f"entry {bad[0]}" if len(bad) == 1 else f"entries {', '.join(bad)}"
        problems.append(f"{label}: the proof does not verify: {reason}")
    v1 = doc.get("format") == FORMAT_V1
    expected = all_facts(entries, ids, anchor, copy_of, v1, advice=doc.get("format") == FORMAT)
    if checkpoint and not v1:
        try:
            expected += frame_facts(entries, inc, proofs, trust, checkpoint, sorted(who), agreement)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"the dossier's frame cannot be stated again: {exc}")
    skip = ({"source", "rules"} if agreement is None else set()) | (set() if checkpoint and not v1 else FRAME_TABLES)
    want: dict[tuple[str, str], list[str]] = {}
    for f in expected:
        # Cells as shown (the page's parser strips each): a stated fact is not refused for an edge space.
        want.setdefault((f.table, " ".join(map(str, f.seqs))), []).append(" | ".join(c.strip() for c in f.cells))
    got: dict[tuple[str, str], list[str]] = {}
    for table, seqs, cells in shown:
        if table not in skip:
            got.setdefault((table, seqs), []).append(" | ".join(cells))
    proven = {e.seq for e in entries}
    for key in sorted(set(want) | set(got)):
        if want.get(key) == got.get(key):
            continue
        table, seqs = key
        if not seqs:  # the frame: from the proofs, the agreement and its keys, not from one entry
            problems.append(_frame_problem(table, want.get(key), got.get(key)))
            continue
        names = ", ".join(seqs.split())
        label = "entry" if len(seqs.split()) == 1 else "entries"
        if key not in got:
            problems.append(f"{label} {names}: a {table} line of the proven entries is missing from the HTML")
        elif key not in want:
            unproven = [s for s in seqs.split() if not s.isdigit() or int(s) not in proven]
            if unproven and all(any(s in v for v in failed.values()) for s in unproven):
                continue  # its proof's failure is already named
            why = f"rests on entries without a valid proof ({', '.join(unproven)})" if unproven else \
                "is not what the proven entries say"
            problems.append(f"{label} {names}: the {table} shows a line that {why}")
        else:
            w, g = want[key], got[key]
            diff = next(((a, b) for a, b in zip(w, g, strict=False) if a != b), (str(len(w)), str(len(g))))
            shows, says = _where_differ(diff[1], diff[0])
            problems.append(f"{label} {names}: the {_NAMES.get(table, table)} in the HTML differs from the proven "
                            f"entry: shows {shows!r}, the record says {says!r}")
    return DossierResult(not problems, problems, len(entries), sum(1 for e in entries if e.payload is None),
                         sorted(who), "its title, rules, keys and checkpoint text (a format-1 dossier)" if v1 else "")


def _frame_problem(table: str, want: list[str] | None, got: list[str] | None) -> str:
    """A frame line (not resting on one entry) that differs from what the proofs and the agreement say."""
    name = _NAMES.get(table, table)
    if not got:
        return f"the dossier's {name} is missing from the HTML"
    if not want:
        return f"the dossier shows a {name} line that neither the proofs nor the agreement say: {_clip(got[0])!r}"
    diff = next(((a, b) for a, b in zip(want, got, strict=False) if a != b), (str(len(want)), str(len(got))))
    shows, says = _where_differ(diff[1], diff[0])
    return (f"the dossier's {name}: the HTML differs from what the proofs and the agreement say: "
            f"shows {shows!r}, they say {says!r}")


#: How the tables are named in verify's messages.
_NAMES = {"doctitle": "page title", "source": "note of what it was built from", "rules": "rules that applied",
          "keys": "keys table", "checkpoint": "checkpoint text", "track": "reported positions"}


def _where_differ(shown: str, said: str, n: int = 60) -> tuple[str, str]:
    """The two texts round their first difference (the whole of each when short)."""
    if len(shown) <= 2 * n and len(said) <= 2 * n:
        return shown, said
    i = next((k for k, (a, b) in enumerate(zip(shown, said, strict=False)) if a != b), min(len(shown), len(said)))
    lo = max(0, i - n)

    def cut(t: str) -> str:
        return ("..." if lo else "") + t[lo:i + n] + ("..." if i + n < len(t) else "")

    return cut(shown), cut(said)


def _clip(s: str, n: int = 160) -> str:
    return s if len(s) <= n else s[:n] + "..."


def is_dossier(path: Path) -> bool:
    """Whether a file looks like a dossier (HTML with the embedded block)."""
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip().lower()
    if not (head.startswith(b"<!doctype html") or head.startswith(b"<html")):
        return False
    return re.search(rb'id="sharedsky-dossier"', Path(path).read_bytes()) is not None
