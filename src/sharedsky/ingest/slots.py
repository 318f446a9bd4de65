"""Per-aircraft state as columns addressed by aircraft id: one store for the track table,
the quality gate and the feeds' track builder.

Ids are hashed once per distinct id per batch (`pandas.factorize`); a new aircraft gets
a slot whose every column holds that column's empty value; `keep` compacts the store.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray


class SlotStore:
    """Columns of per-aircraft state, one row ("slot") per aircraft id."""

    def __init__(self, columns: dict[str, tuple[Any, Any]]) -> None:
        """`columns`: name -> (dtype, empty value), e.g. {"t_s": (float, -np.inf)}."""
        self._spec = dict(columns)
        self.index = pd.Index([], dtype=object)
        self.cols: dict[str, np.ndarray] = {
            name: np.empty(0, dtype=dtype) for name, (dtype, _) in self._spec.items()
        }

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    @property
    def ids(self) -> np.ndarray:
        return self.index.to_numpy(dtype=object)

    def slots(self, ids: NDArray[Any]) -> NDArray[np.intp]:
        """Slot of each id (rows of a batch), creating empty slots for new aircraft."""
        codes, uniq = pd.factorize(np.asarray(ids, dtype=object))
        uniq = np.asarray(uniq, dtype=object)
        pos = self.index.get_indexer(uniq)
        new = pos < 0
        if new.any():
            fresh = uniq[new]
            self.index = self.index.append(pd.Index(fresh, dtype=object))
            for name, (dtype, empty) in self._spec.items():
                self.cols[name] = np.concatenate(
                    [self.cols[name], np.full(fresh.shape[0], empty, dtype=dtype)]
                )
            pos = self.index.get_indexer(uniq)
        return pos.astype(np.intp)[codes]

    def keep(self, mask: NDArray[np.bool_]) -> int:
        """Keep only the slots where `mask` holds; returns how many were dropped."""
        dropped = int(mask.shape[0] - np.count_nonzero(mask))
        if dropped:
            self.index = pd.Index(self.ids[mask], dtype=object)
            for name in self.cols:
                self.cols[name] = self.cols[name][mask]
        return dropped
