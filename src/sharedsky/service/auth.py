"""Authentication: `Authorization: Bearer <key>` (or `?key=` for browsers and WebSockets).

A key belongs to one party or is a supervisor key. No valid key: 401. A party key whose
party the agreement does not know: 403.
"""

from __future__ import annotations

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
