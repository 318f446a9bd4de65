"""The incident dossier on demand (`GET /api/v1/dossier?seq=`): built by the service for the asking
party from what that party may see, the other parties' undisclosed payloads shown as withheld.

The build runs on a worker thread (the route is synchronous) and one at a time: drawing holds the
GIL for a second or two, and the engine's step comes first. The dossier is the one `sharedsky
report` writes (`reports/dossier.py`), proven against the latest witnessed checkpoint (the latest
signed one where the agreement names no witnesses), so `sharedsky verify` accepts it offline.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import threading
from pathlib import Path
from typing import Any

from sharedsky.record.keys import KeyInfo
from sharedsky.reports.dossier import CSS, build_dossier, choose_incident
from sharedsky.reports.dossier_source import DossierError, ViewSource
from sharedsky.service.hotline import MessageError
from sharedsky.service.quotas import TooMany
from sharedsky.service.store import Forbidden, NotFound

#: The entries a dossier is built for: the alert list's incidents and an overdue request.
INCIDENT_KINDS = ("conflict", "loss_of_separation", "airspace", "distress", "overdue", "notice_volume",
                  "notice_conflict")
#: How long a request waits for the dossier being built before it is told to come back (429).
WAIT_S = 20.0
_BUILDING = threading.Lock()

#: The dossier's own Content-Security-Policy: nothing loaded, no script run; its one style block
#: (by hash) and its figures (data: URLs). The map's policy allows the same style by hash, so the
#: dossier opened from the map (a blob: page, which keeps the map's policy) is styled too.
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
DOSSIER_CSP = f"default-src 'none'; style-src '{STYLE_HASH}'; img-src data:; base-uri 'none'; form-action 'none'"


def incident_entry(hub: Any, who: KeyInfo, seq: int) -> Any:
    """The entry `seq` if it is an incident this key may see; NotFound, MessageError (422) or Forbidden."""
    e = hub.record.entry(seq)
    if e is None:
        raise NotFound(f"seq: no entry {seq} in the record")
    if e.kind not in INCIDENT_KINDS:
        raise MessageError("seq", f"entry {seq} is a {e.kind} entry, not an incident (one of {', '.join(INCIDENT_KINDS)})")
    if not hub.may_read_payload(who, e):
        raise Forbidden(f"seq: incident {seq} ({e.kind}) does not concern {who.party} and is not disclosed to it")
    return e


def dossier_html(hub: Any, who: KeyInfo, seq: int) -> str:
    """The dossier of incident `seq` as this key's party may see it."""
    incident_entry(hub, who, seq)
    try:
        src = ViewSource(hub.record, hub.notary, hub.trust, lambda e: bool(hub.may_read_payload(who, e)), who.party)
    except DossierError as exc:
        raise NotFound(f"seq: {exc}; the dossier can be built once one covers entry {seq}") from exc
    if seq > src.size:
        what = "witnessed checkpoint" if src.witnessed else "signed checkpoint"
        raise NotFound(f"seq: entry {seq} is not yet covered by a {what} (the latest covers {src.size} entries); "
                       "try again once it is")
    try:
        inc = choose_incident(src, seq, [], None, None)
        return build_dossier(src, hub.agreement, inc)
    except DossierError as exc:
        raise MessageError("seq", str(exc).removeprefix(f"--seq {seq}: ")) from exc


def dossier_for(hub: Any, who: KeyInfo, seq: int, fmt: str) -> tuple[bytes, str]:
    """(body, media type) of the dossier in `fmt` ("html" or "pdf"); one build at a time."""
    incident_entry(hub, who, seq)  # a refusal is immediate, never queued behind a build
    if not _BUILDING.acquire(timeout=WAIT_S):
        raise TooMany("dossier: another dossier is being built; try again shortly", WAIT_S / 4)
    try:
        text = dossier_html(hub, who, seq)
        if fmt == "html":
            return text.encode("utf-8"), "text/html; charset=utf-8"
        from sharedsky.commands.report import print_pdf

        with tempfile.TemporaryDirectory(prefix="sharedsky-dossier-") as d:
            html_path, pdf_path = Path(d) / "dossier.html", Path(d) / "dossier.pdf"
            html_path.write_text(text, encoding="utf-8")
            try:
                print_pdf(html_path, pdf_path)
            except RuntimeError as exc:
                raise NotFound(f"format: {exc} (format=html gives the same dossier)") from exc
            return pdf_path.read_bytes(), "application/pdf"
    finally:
        _BUILDING.release()
