"""Real-time emission: push a simulated day to a running `sharedsky serve`, each party's
aircraft with that party's key, as a real party would (POST /api/v1/reports).

Reports are stamped with the wall-clock time of their emission, so the service sees
fresh reports; with `speed` > 1 the day runs faster than real time (positions then
move `speed` times faster than their reported ground speed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sharedsky.sim.run import Simulation

PUSH_COLUMNS = ("timestamp", "icao24", "callsign", "latitude", "longitude", "altitude",
                "groundspeed", "track", "vertical_rate", "squawk", "onground")


class KeysError(ValueError):
    """A keys file that cannot be read: names the file and what is wrong."""


def load_keys(path: str | Path) -> dict[str, str]:
    """Party -> API key, from JSON ({party: key}, {"keys": {...}} or a list of
    {"party", "key"|"api_key"}) or text lines `party key` / `party=key` / `party: key`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeysError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    out: dict[str, str] = {}
    if isinstance(data, dict):
        data = data.get("keys", data)
    if isinstance(data, dict):
        out = {str(k): str(v.get("key") or v.get("api_key")) if isinstance(v, dict) else str(v)
               for k, v in data.items()}
    elif isinstance(data, list):
        for n, item in enumerate(data):
            if not isinstance(item, dict) or "party" not in item:
                raise KeysError(f"{p}: item {n}: expected {{'party': ..., 'key': ...}}")
            out[str(item["party"])] = str(item.get("key") or item.get("api_key"))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            for sep in ("=", ":", None):
                parts = line.split(sep, 1)
                if len(parts) == 2 and parts[0].strip() and parts[1].strip():
                    out[parts[0].strip()] = parts[1].strip()
                    break
            else:
                raise KeysError(f"{p}:{n}: expected 'party key', got {line!r}")
    if not out:
        raise KeysError(f"{p}: no keys found")
    return out


def _pusher(server: str, key: str) -> Callable[[pd.DataFrame], Any]:
    """A function that posts one party's report table via sharedsky.client."""
    from sharedsky.client import Client

    client = Client(server, key=key)
    return lambda df: client.push_reports(df.to_dict(orient="records"))


def push_realtime(sim: Simulation, server: str, keys: dict[str, str], *, speed: float = 1.0,
                  max_steps: int | None = None,
                  on_step: Callable[[float, int], None] | None = None) -> dict[str, Any]:
    """Fly `sim` at `speed` times wall-clock pace, pushing every step's reports."""
    if not speed > 0:
        raise ValueError(f"speed must be positive, got {speed}")
    pushers = {p: _pusher(server.rstrip("/"), k) for p, k in keys.items()}
    stats: dict[str, Any] = {"steps": 0, "pushed": {}, "skipped_no_key": {}, "errors": {}}
    wall0 = time.time()
    t0 = sim.t0_s
    for step in sim.batches():
        due = wall0 + (step.t_s - t0) / speed
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        df = sim.reports_of(step)
        if len(df):
            df = df.assign(timestamp=time.time())
            for party, g in df.groupby("party", sort=True):
                party = str(party)
                push = pushers.get(party)
                if push is None:
                    stats["skipped_no_key"][party] = stats["skipped_no_key"].get(party, 0) + len(g)
                    continue
                try:
                    push(g.loc[:, list(PUSH_COLUMNS)])
                    stats["pushed"][party] = stats["pushed"].get(party, 0) + len(g)
                except Exception as exc:  # noqa: BLE001 - a refused batch must not stop the day
                    msg = f"{type(exc).__name__}: {exc}"[:300]
                    stats["errors"].setdefault(party, []).append(msg)
                    del stats["errors"][party][:-5]
        stats["steps"] += 1
        if on_step is not None:
            on_step(step.t_s, len(df))
        if max_steps is not None and stats["steps"] >= max_steps:
            break
    return stats
