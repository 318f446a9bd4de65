"""Disclosure: which aircraft of a snapshot one observer party may see.

Pure and vectorised. Own aircraft are always visible, and so is every aircraft in a
conflict with one of them (a party always learns of a threat to its own). Others are
visible per the agreement's rule for the observer:

- `all`: every aircraft;
- `within`: aircraft closer than `within_nm` to one of its own now, or predicted
  (straight flight) to come closer than `within_nm` within `within_s` seconds.
  Horizontal distance only, whatever the altitudes. Computed by the separation
  engine itself (its grid broad phase, then the exact narrow phase) with two parties,
  "own" and "other", and a vertical minimum too large to matter;
- `conflict`: only aircraft in a conflict with its own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.separation import Conflicts, Minima, detect
from sharedsky.snapshot import Snapshot

if TYPE_CHECKING:
    from sharedsky.agreement.core import Agreement

#: Vertical "minimum" used for horizontal-only proximity: larger than any altitude gap.
_ANY_ALTITUDE_FT = 1.0e7


def near_own(snapshot: Snapshot, own: NDArray[np.bool_], within_nm: float, within_s: float) -> NDArray[np.bool_]:
    """Aircraft (not own) within `within_nm` of an own aircraft now or within `within_s`."""
    mask = np.zeros(len(snapshot), dtype=bool)
    if not own.any() or own.all():
        return mask
    two = replace(snapshot, party=own.astype(np.int32), parties=("other", "own"))
    off = np.array([[0.0, 1.0], [1.0, 0.0]])
    lv = Minima("near", off * within_nm, off * _ANY_ALTITUDE_FT,
                np.where(off > 0, within_s, -1.0))
    c = detect(two, lv)
    mask[c.a] = True
    mask[c.b] = True
    return mask & ~own


def in_conflict_with_own(own: NDArray[np.bool_], conflicts: Conflicts) -> NDArray[np.bool_]:
    """Aircraft (not own) in any of `conflicts` with an own aircraft."""
    mask = np.zeros(own.shape[0], dtype=bool)
    a, b = conflicts.a, conflicts.b
    mask[b[own[a]]] = True
    mask[a[own[b]]] = True
    return mask & ~own


def visible_mask(
    agreement: Agreement,
    observer_party_idx: int,
    snapshot: Snapshot,
    conflicts: Conflicts | None = None,
) -> NDArray[np.bool_]:
    """Which aircraft of `snapshot` the observer party may see (boolean per aircraft).

    `snapshot.party` must index `agreement.party_ids`. `conflicts` are the conflicts
    already detected on this snapshot with `agreement.minima_levels()`; when None they
    are detected here.
    """
    n_parties = len(agreement.party_ids)
    if not 0 <= observer_party_idx < n_parties:
        raise ValueError(f"observer party index {observer_party_idx} not in 0..{n_parties - 1}")
    own = snapshot.party == observer_party_idx
    rule = agreement.disclosure_for(agreement.party_ids[observer_party_idx])
    if rule.mode == "all":
        return np.ones(len(snapshot), dtype=bool)
    if conflicts is None:
        conflicts = detect(snapshot, agreement.minima_levels()) if len(snapshot) > 1 else Conflicts.empty()
    visible = own | in_conflict_with_own(own, conflicts)
    if rule.mode == "within":
        visible |= near_own(snapshot, own, float(rule.within_nm or 0.0), float(rule.within_s or 0.0))
    return visible
