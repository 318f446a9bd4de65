"""Authentication: `Authorization: Bearer <key>`; a browser's WebSocket offers the key as a
subprotocol (`Sec-WebSocket-Protocol: sharedsky.v1, sharedsky.key.<key>`), since a
browser cannot set headers on a WebSocket and a key in a URL ends up in access logs,
proxies and histories (issue 14, defect 10). `?key=` still works for API v1 clients
that used it (documented since v1; the map and the Python client no longer do).

A key belongs to one party or is a supervisor key. No valid key: 401. A party key whose
party the agreement does not know: 403. A key is never written to a log (`RedactKeys`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket

from sharedsky.record.keys import KeyInfo
from sharedsky.service.store import Hub

#: The subprotocol the service speaks on its WebSocket, and the prefix of the one that
#: carries a key (never echoed back: the server answers with `WS_PROTOCOL` only).
WS_PROTOCOL = "sharedsky.v1"
WS_KEY_PREFIX = "sharedsky.key."


def key_from(headers: Mapping[str, str], query: Mapping[str, str],
             subprotocols: Sequence[str] = ()) -> str | None:
    """The API key of a request: its bearer token, else a `sharedsky.key.<key>` subprotocol
    (WebSockets), else its `key` query parameter (API v1 compatibility)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    for p in subprotocols:
        if p.startswith(WS_KEY_PREFIX) and len(p) > len(WS_KEY_PREFIX):
            return p[len(WS_KEY_PREFIX):]
    return query.get("key")


_KEY_IN_URL = re.compile(r"(?i)\b(key=)[^&\s\"']+")


class RedactKeys(logging.Filter):
    """Replaces `key=<api key>` in log records by `key=***`: browsers and WebSocket clients
    send their key in the query string, which uvicorn's access log would write out whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _KEY_IN_URL.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_KEY_IN_URL.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_keys_in_logs(names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error", "uvicorn")) -> None:
    """Install `RedactKeys` on the server's loggers (once each)."""
    for name in names:
        lg = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in lg.filters):
            lg.addFilter(RedactKeys())


def check_key(hub: Hub, key: str | None) -> KeyInfo:
    """The key's owner; HTTPException 401/403 otherwise."""
    if not key:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>' or ?key=<key>",
                            headers={"WWW-Authenticate": "Bearer"})
    who = hub.keys.authenticate(key)
    if who is None:
        raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    if not who.supervisor and who.party not in hub.parties:
        raise HTTPException(403, f"this key's party {who.party!r} is not a party of the agreement")
    return who


def require_key(request: Request) -> KeyInfo:
    """FastAPI dependency: the caller's key."""
    hub: Hub = request.app.state.hub
    return check_key(hub, key_from(request.headers, request.query_params))


def websocket_key(ws: WebSocket) -> KeyInfo | None:
    """The key of a WebSocket (header, subprotocol or query), or None when not valid."""
    hub: Hub = ws.app.state.hub
    try:
        return check_key(hub, key_from(ws.headers, ws.query_params, ws.scope.get("subprotocols") or ()))
    except HTTPException:
        return None


def websocket_subprotocol(ws: WebSocket) -> str | None:
    """The subprotocol to accept: `sharedsky.v1` when the client offered it (a browser that
    offers subprotocols fails the handshake unless one is chosen), else none."""
    offered = ws.scope.get("subprotocols") or ()
    return WS_PROTOCOL if WS_PROTOCOL in offered else None


#: Annotated parameter type for route functions: the caller's key.
Who = Annotated[KeyInfo, Depends(require_key)]
