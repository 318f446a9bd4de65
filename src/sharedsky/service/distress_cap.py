"""A cap on automatic distress per party, so that one batch cannot drown the line.

`DistressWatch` raises one distress call per aircraft whose episode starts; a party
pushing 2,000 reports with emergency squawks made 2,000 broadcasts and, a minute later,
one `unacknowledged` event per call and party (issue 14, defect 4). On the line, each
party's aircraft may raise at most `per_min` automatic calls in any minute; the calls
over that are collapsed into one `distress` event with `storm: true` that names the
`count`, the first `STORM_IDS` aircraft and the party. A storm event goes out at most
once a minute per party: calls over the cap after it are held and named by the next one.
Calls a party makes on the line (DISTRESS messages) are not automatic and not capped here.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from sharedsky.alerting.carry import Carried

#: How many aircraft a storm event names (its `count` is always whole).
STORM_IDS = 20


class DistressCap(Carried):
    """Per-party sliding-minute cap on automatic distress calls, with collapsed storms."""

    #: Carried with the engine's state: a call held for the next storm is not lost in a restart.
    CARRIED: ClassVar[tuple[str, ...]] = ("_sent", "_held", "_storm_at", "collapsed")

    def __init__(self, per_min: int, frequencies_mhz: list[float], window_s: float = 60.0) -> None:
        self.per_min = per_min
        self.window_s = window_s
        self.frequencies_mhz = list(frequencies_mhz)
        self._sent: dict[str, deque[float]] = {}
        self._held: dict[str, list[str]] = {}
        self._storm_at: dict[str, float] = {}
        #: Aircraft whose call was collapsed: their episode's end is not recorded either.
        self.collapsed: set[str] = set()

    def carry(self) -> dict[str, Any]:
        return {**super().carry(), "_sent": {p: list(d) for p, d in self._sent.items()}}

    def resume(self, state: dict[str, Any]) -> None:
        super().resume(state)
        self._sent = {p: deque(float(t) for t in ts) for p, ts in state["_sent"].items()}

    def filter(self, events: list[dict[str, Any]], now_s: float) -> list[dict[str, Any]]:
        """The step's events with automatic calls over the cap held, and any storm due now."""
        out: list[dict[str, Any]] = []
        for ev in events:
            if ev.get("kind") != "distress" or not ev.get("auto"):
                out.append(ev)
                continue
            if ev.get("state") == "end":
                icao = str(ev.get("icao24"))
                if icao in self.collapsed:
                    self.collapsed.discard(icao)
                else:
                    out.append(ev)
                continue
            party = str(ev.get("party", ""))
            sent = self._sent.setdefault(party, deque())
            while sent and sent[0] <= now_s - self.window_s:
                sent.popleft()
            if len(sent) < self.per_min:
                sent.append(now_s)
                out.append(ev)
            else:
                self._held.setdefault(party, []).append(str(ev.get("icao24")))
                self.collapsed.add(str(ev.get("icao24")))
        for party in sorted(self._held):
            if now_s - self._storm_at.get(party, -float("inf")) >= self.window_s:
                out.append(self._storm(party, self._held.pop(party), now_s))
        return out

    def _storm(self, party: str, icao24s: list[str], now_s: float) -> dict[str, Any]:
        self._storm_at[party] = now_s
        n = len(icao24s)
        return {
            "kind": "distress", "state": "start", "t": now_s, "icao24": "", "auto": True, "storm": True,
            "from": "", "party": party, "count": n, "icao24s": icao24s[:STORM_IDS],
            "nature": f"{n} more automatic distress calls from {party}'s aircraft within a minute "
                      f"(the agreement lets each party's aircraft raise {self.per_min} a minute); "
                      "collapsed into this one",
            "frequencies_mhz": list(self.frequencies_mhz),
        }
