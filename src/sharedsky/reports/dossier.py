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

import hashlib
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
    utc,
)
from sharedsky.reports.dossier_source import (
    CopySource,
    DossierError,
    RecordSource,
    ViewSource,
    entry_of,
)

FORMAT = "sharedsky-dossier/1"
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


def fingerprint(key_b64: str) -> str:
    """SHA-256 of a raw Ed25519 public key, first 16 bytes in hex groups (to read out over a line)."""
    h = hashlib.sha256(base64_raw(key_b64)).hexdigest()[:32]
    return " ".join(h[i:i + 4] for i in range(0, 32, 4))


def base64_raw(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _fact_html(f: Fact, tag: str, cell: str) -> str:
    cells = "".join(f"<{cell}>{html.escape(c)}</{cell}>" for c in f.cells)
    return f'<{tag} data-seq="{" ".join(map(str, f.seqs))}" data-table="{f.table}">{cells}</{tag}>'


CSS = """
body{font-family:DejaVu Sans,Arial,sans-serif;font-size:10.5pt;margin:18px;color:#111}
h1{font-size:17pt;margin:0 0 4px} h2{font-size:13pt;border-bottom:1px solid #999;margin-top:18px}
table{border-collapse:collapse;width:100%;font-size:8.5pt} td,th{border:1px solid #ccc;padding:2px 4px;
vertical-align:top;text-align:left} th{background:#eee} tr.withheld td{color:#777;font-style:italic}
img{max-width:100%} .note{color:#444;font-size:9pt} code{font-size:8.5pt;word-break:break-all}
ul.summary li{margin:2px 0} .fig{page-break-inside:avoid}
"""


def render_html(inc: Incident, cited: Sequence[Entry], proofs: dict[int, dict[str, Any]], figures: dict[str, str],
                src: RecordSource | CopySource, agreement: Any, title: str) -> str:
    """The dossier's HTML: summary, figures, timeline, tracks, keys, the proofs as JSON."""
    copy_of = src.copy_of
    facts = all_facts(cited, inc.ids, inc.anchor, copy_of)
    cp = src.note.checkpoint
    rules = []
    for lv in agreement.minima_levels():
        idx = [agreement.party_index(p) for p in inc.parties if p in agreement.party_ids]
        if len(idx) >= 2:
            i, j = idx[0], idx[1]
            rules.append(f"{lv.name}: {lv.h_nm[i, j]:g} NM / {lv.v_ft[i, j]:g} ft, look-ahead {lv.t_s[i, j]:g} s")
    for a in agreement.airspaces:
        if any(p in inc.parties for p in a.barred):
            stages = ", ".join(f"{s.name} {s.lead_s:g} s before entry" for s in a.schedule.stages)
            rules.append(f"airspace {a.name or a.id} ({a.owner}): barred to {', '.join(a.barred)}; "
                         f"floor {a.floor_ft:g} ft, ceiling {a.ceiling_ft:g} ft; warnings: {stages}")
    ch = agreement.channels
    rules.append(f"channels: distress on {', '.join(f'{f:g}' for f in ch.distress_mhz)} MHz; line "
                 f"'{ch.hotline}'; acknowledge within {ch.ack_within_s:g} s")
    keys = [("log (the service)", agreement.record.log_key or src_log_key(src))]
    keys += [(f"witness of {p}", k) for p, k in sorted(agreement.record.witnesses.items())]
    signers = {}
    for pr in proofs.values():
        ke = pr.get("key_entry")
        if ke:
            d = json.loads(ke["entry"]["payload"])
            signers[d["key_id"]] = (ke["entry"]["party"], d["public_key"])
    keys += [(f"signing key of {p} (entry key_id {k})", pk) for k, (p, pk) in sorted(signers.items())]
    witnessed = ("witnessed: cosigned by " + ", ".join(sorted(src.trust.cosigners(src.note))) if src.witnessed else
                 "NOT witnessed: the agreement names no witnesses (or none has cosigned), so each entry is proven "
                 "against the latest checkpoint the log signed, which only the log's key vouches for")
    withheld = sum(1 for e in cited if e.payload is None)
    if isinstance(src, ViewSource):
        src_line = (f"the service's record as {src.party} may see it, at {src.party}'s request"
                    + (f" (payloads of {copy_of} withheld: {withheld} cited entries shown as withheld)" if withheld
                       else " (nothing cited is withheld)"))
    elif copy_of:
        src_line = (f"a copy of the record held by a party (payloads of {copy_of} withheld: {withheld} cited entries "
                    "shown as withheld)")
    else:
        src_line = "the service's record (nothing withheld)"
    s = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>",
         f"<style>{CSS}</style></head><body>",
         f"<h1>{html.escape(title)}</h1>",
         f'<p class="note">Agreement: {html.escape(agreement.name)} (origin {html.escape(cp.origin)}). Built from '
         f"{html.escape(src_line)}. Window {utc(inc.t0, True)} to {utc(inc.t1, True)}; {len(cited)} entries cited, "
         f"each proven in the checkpoint of {cp.size} entries ({html.escape(witnessed)}). Check it offline with "
         f"<code>sharedsky verify THIS.html --agreement AGREEMENT</code>.</p>",
         "<h2>Summary</h2><ul class=\"summary\">"]
    s += [_fact_html(f, "li", "span") for f in facts if f.table == "summary"]
    s.append("</ul><p class=\"note\">Rules that applied (from the agreement): </p><ul>")
    s += [f"<li>{html.escape(r)}</li>" for r in rules]
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
    s.append("</table><h2>Keys</h2><table><tr><th>key</th><th>SHA-256 fingerprint</th><th>public key</th></tr>")
    s += [f"<tr><td>{html.escape(n)}</td><td>{fingerprint(k)}</td><td><code>{html.escape(k)}</code></td></tr>"
          for n, k in keys if k]
    s.append("</table><h2>Reported positions</h2><table><tr><th>seq</th><th>report time (UTC)</th><th>callsign</th>"
             "<th>icao24</th><th>lat (deg)</th><th>lon (deg)</th><th>alt (ft)</th><th>gs (kt)</th><th>track (deg)</th>"
             "</tr>")
    s += [_fact_html(f, "tr", "td") for f in facts if f.table == "track"]
    s.append("</table><h2>Checkpoint</h2><pre>" + html.escape(src.note.text()) + "</pre>")
    doc = {"format": FORMAT, "incident": {"ids": inc.ids, "t0": inc.t0, "t1": inc.t1, "anchor": inc.anchor,
                                          "parties": inc.parties, "copy_of": copy_of},
           "log_key": src_log_key(src),
           "proofs": [proofs[e.seq] for e in cited]}
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
    ids = ", ".join(inc.ids)
    anchor = next((e for e in cited if e.seq == inc.anchor), None)
    what = anchor.kind.replace("_", " ") if anchor is not None else "aircraft"
    title = f"Incident dossier: {what} ({ids}), {utc(anchor.t if anchor else inc.t0, True)}"
    return render_html(inc, cited, proofs, figures, src, agreement, title)


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


def read_dossier(text: str) -> tuple[dict[str, Any], list[tuple[str, str, list[str]]]]:
    """The embedded document and the facts shown in the HTML; ValueError if there is none."""
    p = _Facts()
    p.feed(text)
    p.close()
    if not p.json_text:
        raise ValueError("no embedded sharedsky-dossier block (not a dossier?)")
    doc = json.loads("".join(p.json_text))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"the embedded block is not a {FORMAT} document")
    return doc, p.found


def verify_dossier(text: str, trust: Trust) -> DossierResult:
    """Check every embedded proof, then that the HTML states exactly the facts of the proven entries."""
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
    failed: dict[str, list[str]] = {}  # reason -> entries (one line for a checkpoint they all share)
    for k, pr in enumerate(proofs):
        res = verify_proof(pr, trust)
        seq = pr.get("entry", {}).get("seq", f"#{k}") if isinstance(pr, dict) else f"#{k}"
        if not res.ok:
            failed.setdefault(re.sub(rf"^entry {seq}\b", "the entry", res.reason), []).append(str(seq))
            continue
        who.update(res.cosigners)
        try:
            entries.append(entry_of(pr))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"entry {seq}: {exc}")
    for reason, bad in failed.items():
        label = f"entry {bad[0]}" if len(bad) == 1 else f"entries {', '.join(bad)}"
        problems.append(f"{label}: the proof does not verify: {reason}")
    expected = all_facts(entries, ids, anchor, copy_of)
    want: dict[tuple[str, str], list[str]] = {}
    for f in expected:
        want.setdefault((f.table, " ".join(map(str, f.seqs))), []).append("".join(f.cells))
    got: dict[tuple[str, str], list[str]] = {}
    for table, seqs, cells in shown:
        got.setdefault((table, seqs), []).append("".join(cells))
    proven = {e.seq for e in entries}
    for key in sorted(set(want) | set(got)):
        if want.get(key) == got.get(key):
            continue
        table, seqs = key
        names = ", ".join(seqs.split()) or "?"
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
            problems.append(f"{label} {names}: the {table} in the HTML differs from the proven entry: "
                            f"shows {_clip(diff[1])!r}, the record says {_clip(diff[0])!r}")
    return DossierResult(not problems, problems, len(entries), sum(1 for e in entries if e.payload is None),
                         sorted(who))


def _clip(s: str, n: int = 160) -> str:
    return s if len(s) <= n else s[:n] + "..."


def is_dossier(path: Path) -> bool:
    """Whether a file looks like a dossier (HTML with the embedded block)."""
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip().lower()
    if not (head.startswith(b"<!doctype html") or head.startswith(b"<html")):
        return False
    return re.search(rb'id="sharedsky-dossier"', Path(path).read_bytes()) is not None
