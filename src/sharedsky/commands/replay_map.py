"""`sharedsky replay RECORDING --map`: the replay's events and the recording's traffic on the map.

The recording is replayed once (the same run as `replay` prints); its events go into a fresh
record, addressed to the parties they concern as the live service addresses them; the map
is then served read-only from that record, with pictures of any moment rebuilt from the
recording (`service.history`). One key per party and a supervisor's are printed as URLs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

AGREEMENT_ALL = """
[agreement]
name = "replay of {name}"
default_party = "all"
alert_levels = ["conflict"]

[[party]]
id = "all"
name = "All traffic"
colour = "#4fc3f7"

[minima_default]
same_party = true
[[minima_default.level]]
name = "conflict"
h_nm = {h}
v_ft = {v}
t_s = {t}

[channels]
distress_mhz = [121.5, 243.0]
hotline = "replay"
"""


def agreement_for_all(workdir: Path, name: str, h_nm: float, v_ft: float, t_s: float) -> Path:
    """An agreement of one party, every pair checked with the replay's minima (no --agreement)."""
    path = workdir / "replay-agreement.toml"
    path.write_text(AGREEMENT_ALL.format(name=name.replace('"', "'"), h=h_nm, v=v_ft, t=t_s), encoding="utf-8")
    return path


def start_map(workdir: Path, agreement_path: Path, recording: pd.DataFrame, party: np.ndarray,
              events: Iterable[dict[str, Any]], *, levels: Any, max_age_s: float, step_s: float,
              port: int = 0, host: str = "127.0.0.1") -> Any:
    """Record the events, then serve the history of the recording; the running `DemoService`."""
    from sharedsky.agreement import load_agreement
    from sharedsky.commands.demo import DemoService
    from sharedsky.replay.run import _columns
    from sharedsky.service.engine_loop import EngineLoop
    from sharedsky.service.history import History, RecordingReports
    from sharedsky.service.store import Hub

    def plain(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, (set, tuple, np.ndarray)):
            return list(o)
        return str(o)

    db = workdir / "sharedsky.db"
    hub = Hub(load_agreement(agreement_path), str(db))
    loop = EngineLoop(hub)
    items = []
    for ev in events:
        body = json.loads(json.dumps({k: v for k, v in ev.items() if k != "time"}, default=plain))
        items.append(loop._item(body))
    hub.append_events(items)
    hub.record.close()
    cols, codes = _columns(recording, party)
    source = RecordingReports(cols, codes)
    return DemoService.start(workdir, agreement_path, port=port, host=host,
                             history=lambda h: History(h, source, max_age_s=max_age_s, levels=levels,
                                                       step_s=step_s))
