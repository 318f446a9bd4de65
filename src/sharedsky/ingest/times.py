"""Times as the line takes them: epoch seconds (ms above 1e11) or ISO 8601 (UTC if no zone)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


def parse_time(v: Any) -> float | None:
    """Epoch seconds (ms if above 1e11) or ISO 8601 (UTC if no zone) -> epoch s; None if bad."""
    if type(v) in (int, float):
        try:
            x = float(v)
        except OverflowError:  # an int beyond float range
            return None
        if not math.isfinite(x):
            return None
        return x / 1000.0 if x > 1e11 else x
    if isinstance(v, str) and 0 < len(v) <= 40:
        try:
            d = datetime.fromisoformat(v)
        except ValueError:
            return None
        if d.tzinfo is None:
            d = d.replace(tzinfo=UTC)
        return d.timestamp()
    return None
