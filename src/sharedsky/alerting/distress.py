"""Distress from the picture itself: squawks 7500/7600/7700 and ADS-B emergency status.

One `distress` event (state `start`) when an aircraft's episode begins, carrying the
agreed distress frequencies, and one (state `end`) when the aircraft is seen without
the condition or is gone from the picture. Calls a party makes on the line are the
service's business; this watch only reads the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from sharedsky.alerting.carry import Carried
from sharedsky.ingest.snapshot import Snapshot

DISTRESS_SQUAWKS = {"7500": "unlawful interference (squawk 7500)",
                    "7600": "radio failure (squawk 7600)",
                    "7700": "general emergency (squawk 7700)"}
#: ADS-B emergency status values that mean "no emergency" (readsb, jet1090, OpenSky).
NO_EMERGENCY = {"", "none", "no emergency", "0", "false"}


def distress_flags(n: int, squawk: Any, emergency: Any) -> np.ndarray:
    """Which of `n` aircraft squawk distress or declare an emergency (columns may be None)."""
    flags = np.zeros(n, dtype=bool)
    if squawk is not None:
        sq = np.asarray(squawk, dtype=str)
        for code in DISTRESS_SQUAWKS:
            flags |= sq == code
    if emergency is not None:
        em = np.asarray(emergency, dtype=str)
        given = np.flatnonzero(em != "")  # most aircraft: none, and no string work
        if given.size:
            words = np.char.lower(np.char.strip(em[given]))
            flags[given[~np.isin(words, list(NO_EMERGENCY))]] = True
    return flags


class DistressWatch(Carried):
    """Episodes of distress per aircraft; `active` holds the aircraft in one now."""

    CARRIED: ClassVar[tuple[str, ...]] = ("active",)

    def __init__(self, frequencies_mhz: Iterable[float] = (), active: Iterable[str] = ()) -> None:
        self.frequencies_mhz = [float(f) for f in frequencies_mhz]
        self.active: set[str] = set(active)

    def flagged(self, snap: Snapshot) -> np.ndarray:
        """Indices of the snapshot's aircraft squawking distress or declaring an emergency."""
        n = len(snap)
        if n == 0:
            return np.zeros(0, dtype=np.intp)
        return np.flatnonzero(distress_flags(n, snap.squawk, snap.emergency))

    def step(self, snap: Snapshot) -> list[dict[str, Any]]:
        """Events of this instant: episodes that start, then episodes that end."""
        now = snap.t_s
        idx = self.flagged(snap)
        now_ids = {str(snap.id[i]): int(i) for i in idx.tolist()}
        events: list[dict[str, Any]] = []
        for icao, i in now_ids.items():
            if icao in self.active:
                continue
            squawk = "" if snap.squawk is None else str(snap.squawk[i])
            emergency = "" if snap.emergency is None else str(snap.emergency[i])
            nature = DISTRESS_SQUAWKS.get(squawk) or f"ADS-B emergency status: {emergency}"
            ev: dict[str, Any] = {
                "kind": "distress", "state": "start", "t": now, "icao24": icao,
                "latitude": round(float(snap.lat_deg[i]), 5),
                "longitude": round(float(snap.lon_deg[i]), 5),
                "altitude": round(float(snap.alt_ft[i]), 0), "nature": nature, "from": "",
                "auto": True, "squawk": squawk, "party": snap.parties[int(snap.party[i])],
                "frequencies_mhz": list(self.frequencies_mhz),
            }
            if snap.callsign is not None:
                ev["callsign"] = str(snap.callsign[i])
            events.append(ev)
        for icao in sorted(self.active - set(now_ids)):
            events.append({"kind": "distress", "state": "end", "t": now, "icao24": icao})
        self.active = set(now_ids)
        return events
