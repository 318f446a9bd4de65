"""What every feed reader shares: the error type, rejection counters and report building.

Readers turn what a receiver or an export produces into the report table of
`sharedsky.ingest.schema` (traffic-library columns plus `source` and `party`). Bad input is
never silently dropped: a malformed line or frame is counted under a reason in a
`FeedStats`, and an input that cannot be read at all raises `FeedError` naming it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.ingest.schema import REPORT_COLUMNS, normalise


class FeedError(ValueError):
    """An input that cannot be read: the message names the feed, where, and what is wrong."""


@dataclass
class FeedStats:
    """Counts of what a reader saw: accepted items and rejected ones by reason."""

    items: int = 0
    reports: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    #: a few examples of rejected input per reason, for error messages and logs
    examples: dict[str, str] = field(default_factory=dict)

    def reject(self, reason: str, n: int = 1, example: str | None = None) -> None:
        """Count `n` rejected items under `reason`, keeping the first example."""
        if n <= 0:
            return
        self.rejected[reason] += n
        if example is not None and reason not in self.examples:
            self.examples[reason] = example[:200]

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "reports": self.reports, "rejected": dict(self.rejected)}


def reports_from_columns(cols: dict[str, Any], source: str) -> pd.DataFrame:
    """Build a normalised, time-ordered report table from column arrays.

    `timestamp` may be float epoch seconds; missing report columns are filled by
    `normalise` (NaN, empty strings, False).
    """
    n = len(cols["timestamp"]) if "timestamp" in cols else 0
    data = {k: v for k, v in cols.items() if k in REPORT_COLUMNS and len(v) == n}
    df = pd.DataFrame(data)
    if n and np.issubdtype(np.asarray(cols["timestamp"]).dtype, np.number):
        t = np.asarray(cols["timestamp"], dtype=np.float64)
        df["timestamp"] = pd.to_datetime(np.round(t * 1e6).astype("int64"), unit="us", utc=True)
    elif not n:
        df = pd.DataFrame({c: [] for c in REPORT_COLUMNS})
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    out = normalise(df, source=source)
    out = out[list(REPORT_COLUMNS)]
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def float_or_nan(values: list[Any]) -> np.ndarray:
    """A float array from a list that may hold None, strings or junk (-> NaN)."""
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
