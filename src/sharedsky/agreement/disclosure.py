"""Disclosure: which aircraft of a snapshot one observer party may see.

Pure and vectorised. Own aircraft are always visible, and so is every aircraft in a
conflict with one of them (a party always learns of a threat to its own). Others are
visible per the agreement's rule for the observer:

- `all`: every aircraft;
- `within`: aircraft closer than `within_nm` to one of its own now, or predicted
  (straight flight) to come closer than `within_nm` within `within_s` seconds.
  Horizontal distance only, whatever the altitudes (`engine.separation.near_group`:
  the separation engine's own broad and narrow phases);
- `conflict`: only aircraft in a conflict with its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.separation import Conflicts, near_group
from sharedsky.ingest.snapshot import Snapshot

if TYPE_CHECKING:
    from sharedsky.agreement.core import Agreement


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
    conflicts: Conflicts,
) -> NDArray[np.bool_]:
    """Which aircraft of `snapshot` the observer party may see (boolean per aircraft).

    `snapshot.party` must index `agreement.party_ids`. `conflicts` are those the
    assessment step found on this snapshot with the agreement's minima.
    """
    n_parties = len(agreement.party_ids)
    if not 0 <= observer_party_idx < n_parties:
        raise ValueError(f"observer party index {observer_party_idx} not in 0..{n_parties - 1}")
    own = snapshot.party == observer_party_idx
    rule = agreement.disclosure_for(agreement.party_ids[observer_party_idx])
    if rule.mode == "all":
        return np.ones(len(snapshot), dtype=bool)
    visible = own | in_conflict_with_own(own, conflicts)
    if rule.mode == "within":
        visible |= near_group(snapshot, own, float(rule.within_nm or 0.0), float(rule.within_s or 0.0))
    return visible
