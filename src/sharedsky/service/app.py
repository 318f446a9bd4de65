"""The sharedsky service: FastAPI app factory (contract: docs/service-api.md).

`create_app(agreement, db_path)` opens (or starts) the record in `db_path`, rebuilds the
state from it, and on start-up runs the engine loop and any feeds the operator named.
Everything a party sends is validated whole, recorded (fsync) and only then
acknowledged. The map's static files are served at `/` when the package has them.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from shapely.geometry import mapping
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Mount

from sharedsky.service import streams
from sharedsky.service.auth import Who, redact_keys_in_logs
from sharedsky.service.dossiers import DOSSIER_CSP, STYLE_HASH
from sharedsky.service.hotline import MessageError, iso
from sharedsky.service.jsonbody import PARSE_ON_LOOP_BYTES, BodyError, parse_json
from sharedsky.service.quotas import Admission, TooMany
from sharedsky.service.reports import MAX_BATCH, NUMBERS, ReportError
from sharedsky.service.store import Forbidden, Hub, NotFound

log = logging.getLogger("sharedsky.service")

#: Body limits (issue 14, defect 9): reports follow the agreement (`[line] max_body_bytes`,
#: 16 MB unless it says otherwise); a message or an ack never needs more than these.
MAX_BODY_BYTES = 16 * 1024 * 1024
MESSAGE_BODY_BYTES = 256 * 1024
#: The largest sequence number or tree size a query may name (SQLite integers are 64-bit).
MAX_SEQ = 999_999_999_999_999_999
ACK_BODY_BYTES = 4 * 1024
WEB_DIR = Path(__file__).resolve().parents[1] / "web"

_ID_PATTERN = "^[0-9A-Za-z][0-9A-Za-z_.:-]{0,31}$"
_TIME_SCHEMA: dict[str, Any] = {"oneOf": [
    {"type": "number", "description": "epoch s (ms if > 1e11)"},
    {"type": "string", "format": "date-time", "maxLength": 40}]}
_REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["timestamp", "icao24", "latitude", "longitude", "altitude"],
    "additionalProperties": False,
    "description": "One track report. The server also refuses (422, naming the field) a timestamp more "
                   "than the agreement's clock_skew_s ahead of its clock or more than 1 h behind it, and "
                   "non-printable characters in callsign and emergency",
    "properties": {
        "timestamp": _TIME_SCHEMA,
        "icao24": {"type": "string", "pattern": _ID_PATTERN,
                   "description": "6 hex digits (ICAO address, global) or a party-local track id"},
        **{c: {"type": "number", "minimum": lo, "maximum": hi} for c, (lo, hi) in NUMBERS.items()
           if c in ("latitude", "longitude", "altitude")},
        **{c: {"type": ["number", "null"], "minimum": lo, "maximum": hi} for c, (lo, hi) in NUMBERS.items()
           if c not in ("latitude", "longitude", "altitude")},
        "callsign": {"type": ["string", "null"], "maxLength": 32},
        "squawk": {"type": ["string", "null"], "pattern": "^([0-7]{4})?$"},
        "onground": {"type": ["boolean", "null"]},
        "emergency": {"type": ["string", "null"], "maxLength": 32},
    },
}
_SIGNATURE: dict[str, Any] = {
    "type": ["string", "null"], "maxLength": 128,
    "description": "base64 Ed25519 signature of the canonical JSON (sorted keys, no spaces) of the message "
                   "without this field"}
_POLYGON: dict[str, Any] = {
    "type": "object", "required": ["type", "coordinates"], "additionalProperties": False,
    "description": "GeoJSON Polygon, [longitude, latitude] positions; at most 10 rings and 1,000 positions "
                   "in all; the server also refuses (422) an empty or self-intersecting polygon",
    "properties": {
        "type": {"const": "Polygon"},
        "coordinates": {"type": "array", "minItems": 1, "maxItems": 10, "items": {
            "type": "array", "minItems": 4, "maxItems": 1000, "items": {
                "type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}}},
    },
}


_BAND_WINDOW: dict[str, Any] = {
    "floor_ft": {"type": "number", "minimum": -2000, "maximum": 150000},
    "ceiling_ft": {"type": "number", "minimum": -2000, "maximum": 150000, "description": "above floor_ft (else 422)"},
    "start": _TIME_SCHEMA, "end": {**_TIME_SCHEMA, "description": "after start (else 422)"},
}
_CIRCLE: dict[str, Any] = {
    "centre": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"},
               "description": "[longitude, latitude], degrees (latitude within 85, else 422)"},
    "radius_nm": {"type": "number", "exclusiveMinimum": 0, "maximum": 500},
}
_OPERATION: dict[str, Any] = {
    "operation": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
                  "description": "the party's own id of the operation: a later version replaces its volumes"},
    "version": {"type": "integer", "minimum": 1, "maximum": 1000000,
                "description": "newer than the notified one (else 422); default the next"},
    "purpose": {"type": "string", "maxLength": 40,
                "description": "one of the agreement's [notices] purposes (else 422); none: the lowest priority"},
}


def _message(typ: str, required: list[str], props: dict[str, Any], what: str) -> dict[str, Any]:
    return {"title": typ, "type": "object", "required": ["type", *required], "additionalProperties": False,
            "description": what,
            "properties": {"type": {"const": typ}, **props, "signature": _SIGNATURE}}


_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 2000,
                         "description": "free text: line breaks and tabs, no other control character"}
_MESSAGE_SCHEMA: dict[str, Any] = {"oneOf": [
    _message("DISTRESS", ["icao24", "latitude", "longitude", "nature"], {
        "icao24": {"type": "string", "minLength": 1, "maxLength": 72,
                   "description": "the aircraft's id, or another party's track as pictures name it (red:trk-9)"},
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
        "altitude": {"type": ["number", "null"], "minimum": -2000, "maximum": 150000},
        "nature": {**_TEXT, "maxLength": 500},
        "callsign": {"type": ["string", "null"], "maxLength": 32},
    }, "A distress call, to every party with the agreed frequencies"),
    {**_message("NOTICE", [], {
        "area": _POLYGON, **_CIRCLE, **_BAND_WINDOW, **_OPERATION,
        "volumes": {"type": "array", "minItems": 1, "maxItems": 100, "items": {
            "type": "object", "additionalProperties": False, "required": ["floor_ft", "ceiling_ft", "start", "end"],
            "properties": {"area": _POLYGON, **_CIRCLE, **_BAND_WINDOW},
            "description": "area (a polygon), or centre and radius_nm (a circle): one of the two (else 422)"},
            "description": "4D volumes (at most the agreement's [notices] max_volumes, else 422)"},
        "withdraw": {"type": "boolean", "description": "true: withdraw the operation (no volumes)"},
        "text": {"type": ["string", "null"], "maxLength": 2000},
    }, "Notice of a planned operation, to every party: one polygon volume (area), one circle (centre, "
       "radius_nm), several (volumes), or a withdrawal; times between 1970 and 9999"),
     "anyOf": [{"required": ["area", "floor_ft", "ceiling_ft", "start", "end"]},
               {"required": ["centre", "radius_nm", "floor_ft", "ceiling_ft", "start", "end"]},
               {"required": ["volumes"]}, {"required": ["operation", "withdraw"]}]},
    _message("REQUEST", ["to", "text", "deadline"], {
        "to": {"type": "string", "maxLength": 64, "description": "another party of the agreement"},
        "text": _TEXT,
        "deadline": {**_TIME_SCHEMA, "description": "in the future, within 30 days (else 422)"},
    }, "A request to one party, to be answered by the deadline"),
    _message("RESPONSE", ["request_seq", "text"], {
        "request_seq": {"type": "integer", "minimum": 1,
                        "description": "seq of a request addressed to this key's party (else 404)"},
        "text": _TEXT,
    }, "The answer to a request"),
]}
_ERROR: dict[str, Any] = {
    "type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}},
    "description": "What was refused and why, naming the field: `reports[3].latitude: must be between -90 and 90`"}
#: Error answers per operation (beyond 401 and 403, which every operation may give).
_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("/api/v1/reports", "post"): (400, 413, 422, 429),
    ("/api/v1/messages", "post"): (400, 404, 413, 422, 429),
    ("/api/v1/ack", "post"): (400, 404, 413, 422),
    ("/api/v1/events", "get"): (422,),
    ("/api/v1/events/stream", "get"): (400, 422),
    ("/api/v1/record", "get"): (422,),
    ("/api/v1/checkpoint/witnessed", "get"): (404,),
    ("/api/v1/proof/inclusion", "get"): (422,),
    ("/api/v1/proof/consistency", "get"): (422,),
    ("/api/v1/proof/entry", "get"): (404, 422),
    ("/api/v1/cosign", "post"): (400, 413, 422),
    ("/api/v1/alarm", "post"): (400, 413, 422, 429),
    ("/api/v1/history", "get"): (404,),
    ("/api/v1/places", "get"): (422,),
    ("/api/v1/history/picture", "get"): (404, 422),
    ("/api/v1/dossier", "get"): (404, 422, 429),
}
_WHY = {400: "Body or header not acceptable (not JSON, nested too deep, a bad Content-Length or Last-Event-ID)",
        401: "Missing, invalid or revoked API key", 403: "Not this key's to do (another party's aircraft, a key "
        "of no party of the agreement)", 404: "No such event, request, entry or checkpoint for this key (or no witnessed checkpoint covers "
        "the entry yet)",
        413: "Body larger than the limit (read no further)", 422: "A field is invalid; the detail names it",
        429: "Over the party's quota of the agreement ([line]); try again after Retry-After seconds"}
_CONTENT: dict[tuple[str, str], tuple[str | tuple[str, ...], str]] = {
    ("/api/v1/record", "get"): ("application/x-ndjson", "one record entry as JSON per line"),
    ("/api/v1/events/stream", "get"): ("text/event-stream", "id: seq, data: Event"),
    ("/api/v1/checkpoint", "get"): ("text/plain", "C2SP signed note: origin, size, root; signatures"),
    ("/api/v1/checkpoint/witnessed", "get"): ("text/plain", "C2SP signed note with the cosignatures"),
    ("/api/v1/dossier", "get"): (("text/html", "application/pdf"),
                                 "the incident dossier (HTML, or PDF with format=pdf)")}


def _complete_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The generated OpenAPI document, completed with what the service does (issue 14, defect 12):
    its security schemes, every error answer with its body, and the streams' media types."""
    comps = doc.setdefault("components", {})
    comps["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
        "key": {"type": "apiKey", "in": "query", "name": "key",
                "description": "?key=<API key>: API v1 compatibility only; a key in a URL ends up in logs"},
    }
    schemas = comps.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Error"] = _ERROR
    doc["security"] = [{"bearer": []}, {"key": []}]
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            for code in (401, 403, *_ERRORS.get((path, method), ())):
                responses[str(code)] = {"description": _WHY[code], "content": err}
                if code == 429:
                    responses["429"]["headers"] = {"Retry-After": {
                        "description": "seconds", "schema": {"type": "integer", "minimum": 1}}}
            if (path, method) in _CONTENT:
                media, what = _CONTENT[(path, method)]
                types = media if isinstance(media, tuple) else (media,)
                responses["200"] = {"description": what, "content": {m: {"schema": {"type": "string"}} for m in types}}
    if not schemas:
        comps.pop("schemas", None)
    return doc


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with 413 as soon as it is known to pass `limit` bytes.

    A `Content-Length` over the limit is refused on the headers, before one byte of the
    body is read; a chunked body is read only up to the limit. A 32 MB report body used
    to raise the server's peak memory by 630 MB (issue 14, defect 9).
    """
    too_big = HTTPException(413, f"body: larger than {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isascii() or not declared.strip().isdigit():
            raise HTTPException(400, "Content-Length: must be a number of bytes")
        if int(declared) > limit:
            raise too_big
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            parts.append(chunk)
    except ClientDisconnect:
        # gone, or cut off by the body timeout (connguard): nobody reads this answer, and it is
        # no error of the service's (300 of these were logged as tracebacks; issue 14, defect 8)
        raise HTTPException(408, "body: the client went away or sent nothing for too long") from None
    return b"".join(parts)


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        raise HTTPException(422, "body: empty; expected JSON")
    try:
        return parse_json(raw)
    except BodyError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


def _submit_reports(hub: Hub, who: Any, raw: bytes) -> tuple[int, int]:
    """Parses and submits a party's batch (on a worker thread); a large one waits for a
    running engine step to end first."""
    if len(raw) > PARSE_ON_LOOP_BYTES:
        hub.yield_to_engine()
    return hub.submit_reports(who, _parse(raw))


async def _json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    raw = await read_body(request, limit)
    return _parse(raw) if len(raw) <= PARSE_ON_LOOP_BYTES else await run_in_threadpool(_parse, raw)


async def _discard(request: Request, limit: int) -> None:
    """Read a refused request's body to its end, keeping nothing: the client, still sending
    it, then reads its answer instead of a reset connection."""
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return
    except ClientDisconnect:
        return


#: Sent with every HTTP answer (issue 14, defect 10): the map loads nothing but the server's
#: own files (its favicon is a data: URL), runs no inline script or style, and no page of the
#: service may be framed, sniffed into another type or named in a Referer (the demo's
#: sign-in URLs hold a key until the map takes it out of the address bar).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    # style-src: the map's own files, and the incident dossier's one style block (by its hash): the
    # map opens a dossier as a blob: page, which keeps this policy
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                 b"style-src 'self' '" + STYLE_HASH.encode("ascii") + b"'; "
                                 b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every HTTP response (streams too)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in SECURITY_HEADERS if k not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _WebMount(Mount):
    """The map's files at `/`, except under the API's own paths: there the mount would match
    every path in full and answer a wrong method with the static files' `405, Allow: GET,
    HEAD` instead of the route's own methods (found by schemathesis, issue 14, defect 12)."""

    API_PREFIXES = ("/api/", "/metrics", "/openapi.json", "/docs", "/redoc")

    def matches(self, scope: Any) -> tuple[Match, Any]:
        if scope.get("type") == "http" and str(scope.get("path", "")).startswith(self.API_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


def _hub(request: Request) -> Hub:
    return request.app.state.hub


def _history(request: Request) -> Any:
    h = getattr(request.app.state, "history", None)
    if h is None:
        raise HTTPException(404, "no history in this service")
    return h


def build_app(lifespan: Any = None) -> FastAPI:
    """The routes, without state (also used to write docs/openapi.json)."""
    app = FastAPI(title="sharedsky", version="1",
                  description="The shared line: parties report, receive alerts, call distress and talk. "
                              "See docs/service-api.md.", lifespan=lifespan)
    app.add_middleware(SecurityHeaders)
    app.state.admission = Admission()
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        doc = generate()
        return _complete_document(doc) if first else doc

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def _invalid_query(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A bad query parameter, in the service's own error form (`after: ...`), not FastAPI's list."""
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(x) for x in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"detail": f"{loc}: {first.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(ReportError)
    async def _report_error(request: Request, exc: ReportError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(MessageError)
    async def _message_error(request: Request, exc: MessageError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(TooMany)
    async def _too_many(request: Request, exc: TooMany) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.get("/api/v1/me", summary="Who this key belongs to")
    def me(request: Request, who: Who) -> dict[str, Any]:
        ag = _hub(request).agreement
        info = next((p for p in ag.parties if p.id == who.party), None)
        return {"party": who.party, "name": info.name if info else who.party,
                "colour": info.colour if info else "#ffffff", "supervisor": who.supervisor,
                "key_id": who.key_id}

    @app.get("/api/v1/agreement", summary="Parties, channels and airspaces of the agreement")
    def agreement(request: Request, who: Who) -> dict[str, Any]:
        ag = _hub(request).agreement
        ch = ag.channels
        feats = [{"type": "Feature", "geometry": mapping(a.geometry),
                  "properties": {"id": a.id, "name": a.name, "owner": a.owner, "floor_ft": a.floor_ft,
                                 "ceiling_ft": a.ceiling_ft, "barred": list(a.barred)}}
                 for a in ag.airspaces]
        return {"name": ag.name,
                "parties": [{"id": p.id, "name": p.name, "colour": p.colour} for p in ag.parties],
                "default_party": ag.default_party,
                "alert_levels": list(_hub(request).level_names),
                # per level, the minima of each pair of parties (in the order of "parties"): the
                # map's range rings round a selected aircraft
                "minima": [{"level": m.name, "h_nm": m.h_nm.tolist(), "v_ft": m.v_ft.tolist(), "t_s": m.t_s.tolist()}
                           for m in ag.minima_levels()],
                "channels": {"distress_mhz": list(ch.distress_mhz), "hotline": ch.hotline,
                             "language": ch.language, "notice_lead_s": ch.notice_lead_s,
                             "ack_within_s": ch.ack_within_s},
                "airspaces": {"type": "FeatureCollection", "features": feats}}

    @app.get("/api/v1/basemap", summary="Simplified country borders (GeoJSON)")
    def basemap(who: Who) -> dict[str, Any]:
        try:
            from sharedsky.agreement.borders import basemap_geojson
        except ImportError as exc:  # pragma: no cover
            raise HTTPException(404, "no bundled borders in this installation") from exc
        return basemap_geojson()

    @app.post("/api/v1/reports", status_code=202, summary="Push a batch of track reports",
              openapi_extra=_body({"type": "object", "required": ["reports"], "additionalProperties": False,
                                   "properties": {"reports": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                                                              "items": _REPORT_SCHEMA}}}))
    async def reports(request: Request, who: Who) -> dict[str, Any]:
        hub = _hub(request)
        if who.supervisor:
            body = await _json(request, hub.max_body_bytes)
            n, seq = await run_in_threadpool(hub.submit_reports, who, body)
            return {"accepted": n, "seq": seq}
        # One batch of a party in work at a time; one too many, or one while the party's
        # bucket is empty, is refused before its body is parsed (issue 14, defect 3).
        read = False
        try:
            async with request.app.state.admission.batch(who.party):
                hub.admit_reports(who)
                raw = await read_body(request, hub.max_body_bytes)
                read = True
                t0 = time.monotonic()
                try:
                    n, seq = await run_in_threadpool(_submit_reports, hub, who, raw)
                finally:
                    request.app.state.admission.worked(who.party, time.monotonic() - t0)
        except TooMany:
            if not read:
                await _discard(request, hub.max_body_bytes)
            raise
        return {"accepted": n, "seq": seq}

    @app.get("/api/v1/aircraft", summary="The air picture this key may see")
    def aircraft(request: Request, who: Who) -> dict[str, Any]:
        hub = _hub(request)
        pic = hub.picture
        if pic is None:
            return {"t": hub.clock(), "aircraft": []}
        return {"t": pic.t, "aircraft": pic.aircraft_for(who)}

    @app.get("/api/v1/events", summary="Events for this key with seq > after")
    def events(request: Request, who: Who, after: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> Response:
        evs = _hub(request).events_for(who, after, limit)
        text = '{"events":[' + ",".join(se.text for se in evs) + "]}"
        return _raw_json(text)

    @app.post("/api/v1/messages", status_code=201, summary="DISTRESS, NOTICE, REQUEST or RESPONSE",
              openapi_extra=_body(_MESSAGE_SCHEMA))
    async def messages(request: Request, who: Who) -> dict[str, Any]:
        body = await _json(request, min(MESSAGE_BODY_BYTES, _hub(request).max_body_bytes))
        seq = await run_in_threadpool(_hub(request).post_message, who, body)
        return {"seq": seq}

    @app.post("/api/v1/ack", summary="Acknowledge the event with this seq",
              openapi_extra=_body({"type": "object", "required": ["seq"], "additionalProperties": False,
                                   "properties": {"seq": {"type": "integer", "minimum": 1,
                                                          "maximum": 999_999_999_999_999_999}}}))
    async def ack(request: Request, who: Who) -> dict[str, Any]:
        body = await _json(request, ACK_BODY_BYTES)
        seq, dup = await run_in_threadpool(_hub(request).ack, who, body)
        return {"seq": seq, "duplicate": dup}

    @app.get("/api/v1/record", summary="The record as JSON lines (payloads not disclosed are withheld)",
             response_class=StreamingResponse)
    def record(request: Request, who: Who, after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
               limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> StreamingResponse:
        return StreamingResponse(_hub(request).record_lines(who, after, limit), media_type="application/x-ndjson")

    @app.get("/api/v1/checkpoint", summary="The latest signed checkpoint (C2SP tlog-checkpoint signed note)",
             response_class=PlainTextResponse)
    def checkpoint(request: Request, who: Who) -> PlainTextResponse:
        return PlainTextResponse(_hub(request).checkpoint_text(who))

    @app.get("/api/v1/checkpoint/witnessed", summary="The latest checkpoint cosigned by the agreement's quorum",
             response_class=PlainTextResponse)
    def witnessed(request: Request, who: Who) -> PlainTextResponse:
        note = _hub(request).notary.witnessed()
        if note is None:
            raise HTTPException(404, "checkpoint: none has been witnessed yet")
        return PlainTextResponse(note.text())

    @app.get("/api/v1/proof/inclusion", summary="RFC 9162 inclusion proof of entry seq in the tree of size")
    def inclusion(request: Request, who: Who, seq: Annotated[int, Query(ge=1, le=MAX_SEQ)],
                  size: Annotated[int, Query(ge=1, le=MAX_SEQ)]) -> dict[str, Any]:
        hashes = _hub(request).inclusion(who, seq, size)
        return {"seq": seq, "index": seq - 1, "size": size, "hashes": [_b64(h) for h in hashes]}

    @app.get("/api/v1/proof/consistency", summary="RFC 9162 consistency proof between two tree sizes")
    def consistency(request: Request, who: Who, size1: Annotated[int, Query(alias="from", ge=1, le=MAX_SEQ)],
                    size2: Annotated[int, Query(alias="to", ge=1, le=MAX_SEQ)]) -> dict[str, Any]:
        hashes = _hub(request).consistency(who, size1, size2)
        return {"from": size1, "to": size2, "hashes": [_b64(h) for h in hashes]}

    @app.get("/api/v1/proof/entry", summary="A self-contained proof of one entry (sharedsky prove)")
    def entry_proof(request: Request, who: Who, seq: Annotated[int, Query(ge=1, le=MAX_SEQ)]) -> dict[str, Any]:
        from sharedsky.record.proof import ProofUnavailable, make_proof

        hub = _hub(request)
        e = hub.record.entry(seq)
        if e is None:
            raise HTTPException(404, f"seq: no entry {seq}")
        try:
            return make_proof(hub.record, hub.notary, seq, reveal=hub.may_read_payload(who, e))
        except ProofUnavailable as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.post("/api/v1/cosign", summary="A witness's cosignature of a checkpoint (the note with its line)",
              openapi_extra=_body({"type": "object", "required": ["checkpoint"], "additionalProperties": False,
                                   "properties": {"checkpoint": {"type": "string", "maxLength": 65536}}}))
    async def cosign(request: Request, who: Who) -> dict[str, Any]:
        body = await _json(request, MESSAGE_BODY_BYTES)
        if not isinstance(body, dict) or set(body) != {"checkpoint"}:
            raise HTTPException(422, 'body: must be {"checkpoint": "<signed note>"}')
        return await run_in_threadpool(_hub(request).cosign, who, body["checkpoint"])

    @app.get("/api/v1/witnesses", summary="The latest checkpoint each party's witness cosigned (its view)")
    def witnesses(request: Request, who: Who) -> dict[str, Any]:
        hub = _hub(request)
        return {"notes": dict(hub.witness_notes), "witnessed_size": hub.notary.witnessed_size(),
                "quorum": hub.trust.quorum, "witnesses": sorted(hub.trust.witnesses)}

    @app.post("/api/v1/alarm", status_code=201, summary="A witness's alarm: rollback, fork, entries not matching",
              openapi_extra=_body({"type": "object", "required": ["kind", "detail"], "additionalProperties": False,
                                   "properties": {
                                       "kind": {"type": "string", "maxLength": 40},
                                       "detail": {"type": "string", "maxLength": 2000},
                                       "evidence": {"type": "array", "maxItems": 4,
                                                    "items": {"type": "string", "maxLength": 8192}}}}))
    async def alarm(request: Request, who: Who) -> dict[str, Any]:
        body = await _json(request, MESSAGE_BODY_BYTES)
        return {"seq": await run_in_threadpool(_hub(request).alarm, who, body)}

    @app.get("/api/v1/history", summary="The span of time the past can be shown for (the map's history mode)")
    def history(request: Request, who: Who) -> dict[str, Any]:
        return {**_history(request).span(), "live": not _hub(request).read_only}

    @app.get("/api/v1/history/picture", summary="The air picture this key would have seen at time t")
    def history_picture(request: Request, who: Who, t: Annotated[float, Query(ge=0, le=253402300799)],
                        seq: Annotated[int | None, Query(ge=0)] = None) -> dict[str, Any]:
        pic = _history(request).picture(t, seq)
        return {"type": "picture", "t": pic.t, "seq": pic.seq, "full": True, "aircraft": pic.aircraft_for(who),
                "removed": []}

    @app.get("/api/v1/places", summary="Aerodromes (airportsdata) and airbases (the scenario's) in a box")
    def places(request: Request, who: Who, bbox: Annotated[str, Query(max_length=200)]) -> dict[str, Any]:
        from sharedsky.service.places import parse_bbox, places_in

        try:
            box = parse_bbox(bbox)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return places_in(box, list(getattr(request.app.state, "bases", [])))

    @app.get("/api/v1/dossier", summary="The incident dossier of entry seq, built for this key's party (HTML or PDF)",
             response_class=Response)
    def dossier(request: Request, who: Who, seq: Annotated[int, Query(ge=1, le=MAX_SEQ)],
                fmt: Annotated[Literal["html", "pdf"], Query(alias="format")] = "html") -> Response:
        """Built on a worker thread from what this party may see (the others' undisclosed payloads
        withheld), proven against the latest witnessed checkpoint: `sharedsky verify` checks it offline."""
        from sharedsky.service.dossiers import dossier_for

        body, media = dossier_for(_hub(request), who, seq, fmt)
        ext = "pdf" if fmt == "pdf" else "html"
        return Response(body, media_type=media, headers={
            "content-security-policy": DOSSIER_CSP, "cache-control": "no-store",
            "content-disposition": f'inline; filename="dossier-{seq}.{ext}"'})

    @app.get("/metrics", summary="Counters")
    def metrics(request: Request, who: Who) -> dict[str, Any]:
        hub = _hub(request)
        c = hub.counters
        ms = np.asarray(c.engine_step_ms) if c.engine_step_ms else np.zeros(1)
        return {"reports_accepted": c.reports_accepted, "report_batches": c.report_batches,
                "reports_rejected": dict(c.reports_rejected),
                "messages_rejected": dict(c.messages_rejected),
                "events": dict(c.events), "clients": c.clients, "engine_steps": c.engine_steps,
                "engine_step_ms_median": round(float(np.median(ms)), 2),
                "engine_step_ms_max": round(float(ms.max()), 2),
                "engine_resumed_from": None if c.engine_resumed_from is None else iso(c.engine_resumed_from),
                "aircraft": len(hub.table), "last_seq": hub.last_seq,
                "witnessed_size": hub.notary.witnessed_size()}

    app.include_router(streams.router)
    return app


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def _raw_json(text: str) -> Response:
    """Events are serialised once when recorded; send that text as it is."""
    return Response(text, media_type="application/json")


def create_app(agreement: Any, db_path: str | Path, *, feeds: Sequence[str] = (),
               engine_interval_s: float = 1.0, require_signatures: bool = False,
               max_age_s: float = 20.0, run_engine: bool = True, history: Any = None) -> FastAPI:
    """The service for an agreement (path or loaded `Agreement`) and a record file.

    `history`: None for the live line (whose own record also answers for the past), True
    for the history of the record alone (read-only, no engine), or a callable making the
    `History` from the hub (`replay RECORDING --map`)."""
    from sharedsky.service.engine_loop import EngineLoop
    from sharedsky.service.history import History, RecordReports
    from sharedsky.service.picture_feed import PictureFeed

    if isinstance(agreement, (str, Path)):
        from sharedsky.agreement import load_agreement

        agreement = load_agreement(agreement)
    hub = Hub(agreement, str(db_path), max_age_s=max_age_s, require_signatures=require_signatures)
    from sharedsky.service.misbehave import misbehave_from_env

    misbehave_from_env(hub)
    if history is not None:
        hub.read_only = True
        run_engine = False
        feeds = ()
    loop = EngineLoop(hub, interval_s=engine_interval_s)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_keys_in_logs()  # after the server has configured its logging
        if run_engine:
            loop.start()
        threads = [threading.Thread(target=_run_feed, args=(hub, spec, stop), daemon=True,
                                    name=f"feed {spec}") for spec in feeds]
        threads.append(threading.Thread(target=hub.watch_revocations, args=(stop,), daemon=True,
                                        name="sharedsky-revocations"))
        threads.append(threading.Thread(target=_checkpoints, args=(hub, stop), daemon=True,
                                        name="sharedsky-checkpoints"))
        for t in threads:
            t.start()
        try:
            yield
        finally:
            stop.set()
            loop.stop()

    app = build_app(lifespan)
    app.state.hub = hub
    app.state.pictures = PictureFeed(hub)
    app.state.engine = loop
    app.state.history = (history(hub) if callable(history)
                         else History(hub, RecordReports(hub), max_age_s=max_age_s))
    if WEB_DIR.is_dir() and (WEB_DIR / "index.html").exists():
        from fastapi.staticfiles import StaticFiles

        # The map's ES modules need a JavaScript type; some hosts' tables say text/plain.
        mimetypes.add_type("text/javascript", ".js")
        app.router.routes.append(_WebMount("/", app=StaticFiles(directory=WEB_DIR, html=True), name="web"))
    return app


def _checkpoints(hub: Hub, stop: threading.Event) -> None:
    """Sign a checkpoint whenever the record grew (at least once a second), and raise
    `not_delivered` for messages no witness of their addressee has held in time."""
    every_s = float(hub.agreement.record.checkpoint_every_s)
    while not stop.wait(every_s):
        try:
            hub.sign_checkpoint()
            hub.overdue_deliveries(hub.clock())
        except Exception:
            log.exception("checkpoint")


def _run_feed(hub: Hub, spec: str, stop: threading.Event) -> None:
    """Read a feed the operator named into the service (quality-gated, recorded)."""
    try:
        from sharedsky.ingest.feeds import open_feed
    except ImportError:
        log.error("feed %s: feeds are not available in this installation", spec)
        return
    try:
        from sharedsky.ingest.quality import QualityGate

        gate: Any = QualityGate()
    except ImportError:
        gate = None
    from sharedsky.ingest.schema import epoch_s
    from sharedsky.service.reports import STRINGS

    try:
        for batch in open_feed(spec):
            if stop.is_set():
                return
            if gate is not None:
                batch = gate.filter(batch)
            if batch.shape[0] == 0:
                continue
            cols: dict[str, np.ndarray] = {"t_s": epoch_s(batch["timestamp"])}
            for c in NUMBERS:
                cols[c] = batch[c].to_numpy(dtype=np.float64) if c in batch else np.full(batch.shape[0], np.nan)
            for c in STRINGS:
                cols[c] = (batch[c].fillna("").astype(str).to_numpy(dtype=object) if c in batch
                           else np.full(batch.shape[0], "", dtype=object))
            cols["onground"] = (batch["onground"].fillna(False).to_numpy(dtype=bool) if "onground" in batch
                                else np.zeros(batch.shape[0], dtype=bool))
            hub.ingest_feed(cols, spec)
    except Exception:
        log.exception("feed %s stopped", spec)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the service (docs/openapi.json)."""
    return build_app().openapi()


if __name__ == "__main__":  # python -m sharedsky.service.app --openapi > docs/openapi.json
    import sys

    if sys.argv[1:] != ["--openapi"]:
        sys.exit("usage: python -m sharedsky.service.app --openapi")
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
