"""Per-aircraft state as columns addressed by aircraft id: one store for the track table,
the quality gate and the feeds' track builder.

Ids are hashed once per distinct id per batch (`pandas.factorize`); a new aircraft gets
a slot whose every column holds that column's empty value; `keep` compacts the store.
Small batches (a replay step, a live push of a few aircraft) look their ids up in a
dict kept beside the index: building a pandas Index per call would cost more than
the whole rest of a step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

#: Batches up to this many rows look their ids up in the dict (no pandas Index built).
SMALL_BATCH = 64


class SlotStore:
    """Columns of per-aircraft state, one row ("slot") per aircraft id."""

    def __init__(self, columns: dict[str, tuple[Any, Any]]) -> None:
        """`columns`: name -> (dtype, empty value), e.g. {"t_s": (float, -np.inf)}."""
        self._spec = dict(columns)
        self.index = pd.Index([], dtype=object)
        self._pos: dict[Any, int] = {}
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

    def slot(self, id_: Any) -> int | None:
        """The slot of one id, or None if the store does not hold it."""
        return self._pos.get(id_)

    def slots(self, ids: NDArray[Any]) -> NDArray[np.intp]:
        """Slot of each id (rows of a batch), creating empty slots for new aircraft."""
        ids = np.asarray(ids, dtype=object)
        if ids.shape[0] <= SMALL_BATCH:
            get = self._pos.get
            pos = np.fromiter((get(i, -1) for i in ids.tolist()), dtype=np.intp, count=ids.shape[0])
            if (pos >= 0).all():
                return pos
        codes, uniq = pd.factorize(ids)
        uniq = np.asarray(uniq, dtype=object)
        pos = self.index.get_indexer(uniq)
        new = pos < 0
        if new.any():
            fresh = uniq[new]
            start = len(self.index)
            self.index = self.index.append(pd.Index(fresh, dtype=object))
            self._pos.update(zip(fresh.tolist(), range(start, start + fresh.shape[0]), strict=True))
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
            self._pos = dict(zip(self.index.tolist(), range(len(self.index)), strict=True))
            for name in self.cols:
                self.cols[name] = self.cols[name][mask]
        return dropped
