"""Streams out: WebSocket (events, air picture deltas; acks and reports in) and SSE (events).

Both deliver every event the key may see with seq > `after`, in order, then live ones,
never twice: each stream keeps the last seq it sent and asks the hub for what follows.
The hub only wakes streams up; what to send is always read from the ordered event list.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from sharedsky.service.auth import Who, websocket_key, websocket_subprotocol
from sharedsky.service.connguard import SHARED_UTF8
from sharedsky.service.hotline import MessageError
from sharedsky.service.jsonbody import PARSE_ON_LOOP_BYTES, BodyError, parse_json
from sharedsky.service.picture_feed import Frame, PictureFeed
from sharedsky.service.quotas import Admission, TooMany
from sharedsky.service.reports import ReportError
from sharedsky.service.store import Forbidden, Hub, NotFound, Revoked

log = logging.getLogger("sharedsky.service")
router = APIRouter()
SEQ_RE = re.compile(r"[0-9]{1,18}")
BATCH = 500
KEEPALIVE_S = 15.0


def _event_frame(text: str, seq: int) -> str:
    return f'{{"type":"event","seq":{seq},"event":{text}}}'


PICTURES_ON = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False}


def _stream_query(ws: WebSocket) -> tuple[int, bool] | str:
    """The stream's `after` and `pictures`, or what is wrong with them (named)."""
    q = ws.query_params
    after_s = q.get("after", "0")
    if not SEQ_RE.fullmatch(after_s):
        return f"after: must be the seq of an event (up to 18 ASCII digits), got {after_s[:40]!r}"
    pictures_s = q.get("pictures", "1")
    if pictures_s.lower() not in PICTURES_ON:
        return f"pictures: must be 1 or 0 (true or false), got {pictures_s[:40]!r}"
    return int(after_s), PICTURES_ON[pictures_s.lower()]


async def _refuse(ws: WebSocket, status: int, detail: str) -> None:
    """An error frame naming what is wrong, then the close (code 4000 + status)."""
    await ws.send_text(json.dumps({"type": "error", "status": status, "detail": detail}))
    await ws.close(code=4000 + status, reason=detail[:120])


@router.websocket("/api/v1/stream")
async def websocket_stream(ws: WebSocket) -> None:
    """Events after `after`, and the party's air picture unless `pictures=0` (a client
    that only watches the line: no picture is sent to it, nor built for it). A bad query
    is answered by an error frame naming it (400), not by a refused handshake."""
    hub: Hub = ws.app.state.hub
    await ws.accept(subprotocol=websocket_subprotocol(ws))
    who = websocket_key(ws)
    if who is None:
        await _refuse(ws, 401, "missing, invalid or revoked API key")
        return
    query = _stream_query(ws)
    if isinstance(query, str):
        await _refuse(ws, 400, query)
        return
    after, pictures = query
    sub = hub.subscribe()
    feed: PictureFeed = ws.app.state.pictures
    send_lock = asyncio.Lock()

    async def send(text: str) -> None:
        async with send_lock:
            await ws.send_text(text)

    async def send_picture(fr: Frame) -> None:
        # The view's frame, as the same bytes for every stream of it (connguard writes
        # them in fragments as the client reads; a plain server sends the text).
        async with send_lock:
            await ws.send({"type": "websocket.send", "text": fr.text, SHARED_UTF8: fr.utf8})

    last = after

    async def send_events() -> bool:
        """Sends this key's events after `last`; True when a whole batch went (more may wait)."""
        nonlocal last
        if hub.key_revoked(who.key_id):
            raise Revoked
        evs = hub.events_for(who, last, BATCH)
        for se in evs:
            await send(_event_frame(se.text, se.seq))
            last = se.seq
        return len(evs) == BATCH

    async def sender() -> None:
        have: int | None = None  # the view's last publication this stream was sent
        while True:
            sub.flag.clear()
            if await send_events():
                continue
            if pictures and feed.due_in(who, have) == 0.0:
                ok, fr = feed.ready(who, have)
                if not ok:  # to be built (a publication, or the whole picture): off the event loop
                    fr = await run_in_threadpool(feed.frame, who, have)
                    # Events recorded while it was built go first: an alert never waits
                    # behind a picture being built (under a flood, 100-200 ms).
                    while await send_events():
                        pass
                if fr is not None:
                    await send_picture(fr)
                    have = fr.serial
            due = feed.due_in(who, have) if pictures else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.flag.wait(), KEEPALIVE_S if due is None else max(0.05, due))

    async def receiver() -> None:
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            # Every frame may change state (an ack, reports): its key is read afresh from the
            # database, so a frame sent just after `keys revoke` is refused (issue 14, defect 7).
            if await run_in_threadpool(hub.key_revoked, who.key_id, True):
                raise Revoked
            reply = await _answer(hub, ws.app.state.admission, who, frame.get("text"))
            await send(json.dumps(reply))

    tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        for t in done:
            exc = t.exception()
            if exc is not None and not isinstance(exc, (WebSocketDisconnect, RuntimeError)):
                raise exc
    except WebSocketDisconnect:
        pass
    except Revoked:
        with contextlib.suppress(Exception):
            async with send_lock:
                await ws.send_text(json.dumps({"type": "error", "status": 401, "detail": "API key revoked"}))
                await ws.close(code=4401, reason="API key revoked")
    finally:
        for t in tasks:
            t.cancel()
        hub.unsubscribe(sub)


async def _answer(hub: Hub, admission: Admission, who: Any, text: str | None) -> dict[str, Any]:
    """The reply to one client frame: `ack_ok`, `reports_ok` or `error`, with the frame's own id.

    Nothing a client sends may end the connection or leak into the reply to another
    frame (issue 14, defect 6): each frame is parsed on its own, a binary frame is
    refused as such, and an unexpected failure is logged and answered with 500.
    """
    msg: Any = None
    reply: dict[str, Any]
    try:
        if text is None:
            raise BodyError("frame", "must be a text frame holding JSON (binary frames are not read)")
        msg = (parse_json(text, "frame") if len(text) <= PARSE_ON_LOOP_BYTES
               else await run_in_threadpool(parse_json, text, "frame"))
        typ = msg.get("type") if isinstance(msg, dict) else None
        if typ == "ack":
            seq, dup = await run_in_threadpool(hub.ack, who, {"seq": msg.get("seq")})
            reply = {"type": "ack_ok", "of_seq": msg.get("seq"), "seq": seq, "duplicate": dup}
        elif typ == "reports":
            body = {"reports": msg.get("reports")}
            if who.supervisor:
                n, seq = await run_in_threadpool(hub.submit_reports, who, body)
            else:  # as a POST: one batch of a party in work at a time (issue 14, defect 3)
                async with admission.batch(who.party):
                    hub.admit_reports(who)
                    t0 = time.monotonic()
                    try:
                        n, seq = await run_in_threadpool(hub.submit_reports, who, body)
                    finally:
                        admission.worked(who.party, time.monotonic() - t0)
            reply = {"type": "reports_ok", "accepted": n, "seq": seq}
        else:
            reply = {"type": "error", "status": 422, "detail": "type: must be 'ack' or 'reports'"}
    except BodyError as exc:
        reply = {"type": "error", "status": exc.status, "detail": str(exc)}
    except (ReportError, MessageError) as exc:
        reply = {"type": "error", "status": getattr(exc, "status", 422), "detail": str(exc)}
    except Forbidden as exc:
        reply = {"type": "error", "status": 403, "detail": str(exc)}
    except TooMany as exc:
        reply = {"type": "error", "status": 429, "detail": str(exc), "retry_after_s": exc.retry_after_s}
    except NotFound as exc:
        reply = {"type": "error", "status": 404, "detail": str(exc)}
    except Exception:  # never let one frame end the connection
        log.exception("websocket frame from %s", who.key_id)
        reply = {"type": "error", "status": 500, "detail": "internal error; the frame was not applied"}
    if isinstance(msg, dict) and "id" in msg:
        reply["id"] = msg["id"]
    return reply


@router.get("/api/v1/events/stream", summary="Server-sent events (id: seq, data: Event)",
            response_class=StreamingResponse)
async def sse_stream(request: Request, who: Who,
                     after: Annotated[int, Query(ge=0)] = 0) -> StreamingResponse:
    hub: Hub = request.app.state.hub
    last = after
    leid = (request.headers.get("last-event-id") or "").strip()
    if leid:
        # str.isdigit() also holds for '²' and other digits int() refuses: ASCII only.
        if not SEQ_RE.fullmatch(leid):
            raise HTTPException(400, f"Last-Event-ID: must be the seq of an event (up to 18 ASCII digits), got {leid[:40]!r}")
        last = max(last, int(leid))

    async def gen() -> AsyncIterator[str]:
        nonlocal last
        sub = hub.subscribe()
        try:
            yield ": sharedsky events\n\n"
            while True:
                sub.flag.clear()
                if hub.key_revoked(who.key_id):  # the stream ends with its key (issue 14, defect 7)
                    yield "event: error\ndata: {\"status\":401,\"detail\":\"API key revoked\"}\n\n"
                    break
                evs = hub.events_for(who, last, BATCH)
                for se in evs:
                    yield f"id: {se.seq}\ndata: {se.text}\n\n"
                    last = se.seq
                if len(evs) == BATCH:
                    continue
                if await request.is_disconnected():
                    break
                try:
                    await asyncio.wait_for(sub.flag.wait(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
