"""The hour-partitioned store: `DIR/hour=YYYY-MM-DDTHH/part-IIIII-SSSSS.parquet`.

Each hour's reports (gated, with derived motion: what `replay` steps through) live in
parts named by the input that produced them (`IIIII`) and their order (`SSSSS`), so that
reading an hour is concatenating its parts in name order and sorting by time (stable):
the order replay sees. A part is written to a temporary name and renamed, so a part that
exists is whole. The layout is Hive-style, readable by pyarrow and dask.dataframe too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HOUR_S = 3600
MANIFEST = "_manifest.json"
HOUR_PREFIX = "hour="


def hour_name(hour_s: int) -> str:
    """`hour=2018-08-01T05` for the hour starting at epoch second `hour_s`."""
    return HOUR_PREFIX + pd.Timestamp(hour_s, unit="s", tz="UTC").strftime("%Y-%m-%dT%H")


def hour_of_name(name: str) -> int:
    """Epoch second of the start of the hour a `hour=...` directory holds."""
    return int(pd.Timestamp(name[len(HOUR_PREFIX):] + ":00", tz="UTC").timestamp())


def part_name(input_no: int, seq: int) -> str:
    return f"part-{input_no:05d}-{seq:05d}.parquet"


def write_part(path: Path, df: pd.DataFrame) -> None:
    """Write one part atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


@dataclass(frozen=True)
class Store:
    """A partition directory: its hours and their parts."""

    root: Path

    def hours(self) -> list[int]:
        """Start (epoch s) of every hour that holds at least one part, in order."""
        if not self.root.is_dir():
            return []
        out = [hour_of_name(p.name) for p in self.root.iterdir()
               if p.is_dir() and p.name.startswith(HOUR_PREFIX) and any(p.glob("part-*.parquet"))]
        return sorted(out)

    def parts(self, hour_s: int) -> list[Path]:
        return sorted((self.root / hour_name(hour_s)).glob("part-*.parquet"))

    def manifest(self) -> dict[str, Any] | None:
        p = self.root / MANIFEST
        return json.loads(p.read_text()) if p.exists() else None

    def read(self, hours: list[int], from_s: float | None = None) -> pd.DataFrame:
        """The reports of `hours` (at or after `from_s`), in replay's order."""
        import pyarrow.parquet as pq

        frames = []
        for h in hours:
            for p in self.parts(h):
                filters = None
                if from_s is not None and from_s > h:
                    filters = [("timestamp", ">=", pd.Timestamp(from_s, unit="s", tz="UTC"))]
                frames.append(pq.read_table(p, filters=filters).to_pandas())
        if not frames:
            from sharedsky.ingest.schema import empty_reports

            return empty_reports()
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        t = df["timestamp"].to_numpy(dtype="datetime64[ns]")
        if not (t[1:] >= t[:-1]).all():
            df = df.iloc[np.argsort(t, kind="stable")].reset_index(drop=True)
        return df
