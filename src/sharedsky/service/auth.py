"""Authentication: `Authorization: Bearer <key>` (or `?key=` for browsers and WebSockets).

A key belongs to one party or is a supervisor key. No valid key: 401. A party key whose
party the agreement does not know: 403. A key is never written to a log (`RedactKeys`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket

from sharedsky.record.keys import KeyInfo
from sharedsky.service.store import Hub


def key_from(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The API key of a request: its bearer token, else its `key` query parameter."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
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
    hub: Hub = ws.app.state.hub
    try:
        return check_key(hub, key_from(ws.headers, ws.query_params))
    except HTTPException:
        return None


#: Annotated parameter type for route functions: the caller's key.
Who = Annotated[KeyInfo, Depends(require_key)]
