"""Who an aircraft on the line belongs to, and whose name a track id is in.

The track table is keyed by aircraft id, so whoever may write an id may move, hide or
take over that aircraft. Two rules keep each party to its own aircraft (issue 14):

* Ids are global only when they are ICAO 24-bit addresses (exactly six hex digits).
  Any other id is a party-local track id (`trk-17`, a radar track number) and is
  namespaced by the reporting party: `trk-17` from red is `red:trk-17`. Party ids have
  no ':' so the namespace is unambiguous; a party may also write its own prefix
  (`red:trk-17`), but another party's prefix only nests (`blue:red:trk-17`).
* An aircraft belongs to the party the agreement attributes it to (checked by the hub
  against the report's attribution) or else to the first party that reported it while
  it is live. `Owners` remembers that first party per id, with the time it was last
  heard from, and forgets it once the aircraft has not been reported for the coast time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sharedsky.agreement.attribution import parse_icao

#: How many refused ids an attempt entry in the record names (the count is always whole).
ATTEMPT_IDS = 20


def qualify_ids(ids: np.ndarray, party: str) -> np.ndarray:
    """Ids as the table keys them when `party` reports them: ICAO as is, others `party:id`."""
    ids = np.asarray(ids, dtype=object)
    _, icao = parse_icao(ids)
    if icao.all():
        return ids
    own = f"{party}:"
    out = ids.copy()
    for i in np.flatnonzero(~icao).tolist():
        v = str(ids[i])
        if not v.startswith(own):
            out[i] = own + v
    return out


def qualify_id(icao24: str, party: str) -> str:
    """One id as `qualify_ids` would key it."""
    return str(qualify_ids(np.array([icao24], dtype=object), party)[0])


class Owners:
    """The party that first reported each live aircraft, and when it was last heard from."""

    def __init__(self) -> None:
        self._by_id: dict[str, tuple[str, float]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def of(self, ids: np.ndarray, live_since_s: float) -> np.ndarray:
        """Owner party of each id ("" when none is live), one Python lookup per distinct id."""
        codes, uniq = pd.factorize(np.asarray(ids, dtype=object))
        get = self._by_id.get
        owner = []
        for u in uniq.tolist():
            hit = get(u)
            owner.append(hit[0] if hit is not None and hit[1] >= live_since_s else "")
        return np.asarray(owner, dtype=object)[codes] if len(owner) else np.zeros(0, dtype=object)

    def claim(self, ids: np.ndarray, party: str, t_s: float) -> dict[str, tuple[str, float] | None]:
        """`party` reported these ids at `t_s` (the caller has checked nobody else owns them);
        returns what they were before, for `restore`."""
        item = (party, t_s)
        keys = pd.unique(np.asarray(ids, dtype=object)).tolist()
        get = self._by_id.get
        before = {k: get(k) for k in keys}
        self._by_id.update(dict.fromkeys(keys, item))
        return before

    def restore(self, before: dict[str, tuple[str, float] | None]) -> None:
        """Undo a `claim` (its batch was not recorded after all)."""
        for k, v in before.items():
            if v is None:
                self._by_id.pop(k, None)
            else:
                self._by_id[k] = v

    def live_with(self, party: str, ids: np.ndarray, live_since_s: float) -> int:
        """How many aircraft `party` would have live once it reports `ids` too (quota check)."""
        mine = {k for k, (p, t) in self._by_id.items() if p == party and t >= live_since_s}
        mine.update(pd.unique(np.asarray(ids, dtype=object)).tolist())
        return len(mine)

    def expire(self, live_since_s: float) -> int:
        """Forget aircraft not heard from since `live_since_s`; returns how many."""
        old = [k for k, (_, t) in self._by_id.items() if t < live_since_s]
        for k in old:
            del self._by_id[k]
        return len(old)
