"""How the service is run: one uvicorn configuration for `sharedsky serve`, the demo and `replay --map`.

Every way of starting the line gets the same guards (issue 14): the protocols of
`connguard` (connections per address, header and body timeouts, stalled streams
dropped, frames written in fragments as the client reads them), WebSocket frames held
to the agreement's `max_body_bytes`, a thread switch interval short enough that the
engine, whose numpy steps each give the interpreter lock up, is not held behind a thread
parsing one party's flood for 5 ms at every step (defect 3), and two malloc arenas for
all its threads (defect 8).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

#: Seconds a thread may hold the interpreter lock while another waits (Python's default is
#: 0.005). Under one party's flood, the engine step took a median 200-300 ms at 0.005 and
#: about 70 ms at 0.001 on the shared 2-core machine (tests/test_service_flood.py).
SWITCH_INTERVAL_S = 0.001
#: glibc's malloc arenas: by default up to eight per core, one per thread that allocates; the
#: service's worker threads (up to 40) each keep what they freed in their own arena. With two,
#: 60 non-reading subscribers cost the server +28-36 MB instead of +45-62 MB (its peak over
#: 5 s, tests/test_service_slowclients.py).
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Ask glibc for at most `arenas` malloc arenas (threads started later share them); False
    where there is no glibc (the setting is an economy, not a need)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def service_config(app: Any, line: Any, *, host: str = "127.0.0.1", port: int = 8080, log_level: str = "warning",
                   cert: Path | None = None, key_file: Path | None = None) -> Any:
    """The uvicorn configuration of the service `app` under the agreement's `[line]`."""
    import uvicorn

    from sharedsky.service.connguard import guarded_protocols

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    limit_malloc_arenas()
    http_protocol, ws_protocol = guarded_protocols(line)
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                          ws_max_size=int(line.max_body_bytes), http=http_protocol, ws=ws_protocol,
                          ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(key_file) if key_file else None)
