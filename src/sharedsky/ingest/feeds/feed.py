"""`Feed`: an iterator of report batches with the counters a user of a feed wants to see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd

from sharedsky.ingest.feeds.base import FeedStats

if TYPE_CHECKING:
    from sharedsky.ingest.feeds.decode import FrameDecoder
    from sharedsky.ingest.feeds.derive import TrackBuilder
    from sharedsky.ingest.feeds.net import LinkStats


class Feed:
    """An iterator of report batches with counters: `.stats`, `.link`, `.done_bytes`."""

    def __init__(self, spec: str, fmt: str) -> None:
        self.spec = spec
        self.format = fmt
        self.stats = FeedStats()
        self.link: LinkStats | None = None
        self.decoder: FrameDecoder | None = None
        self.size_bytes: int | None = None
        self.done_bytes = 0
        #: latest merged state per aircraft (and derived motion), when `derive` is on
        self.tracks: TrackBuilder | None = None
        self._gen: Iterator[pd.DataFrame] = iter(())

    def __iter__(self) -> Feed:
        return self

    def __next__(self) -> pd.DataFrame:
        batch = next(self._gen)
        return self.tracks.update(batch) if self.tracks is not None else batch

    def close(self) -> None:
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()

    def rejected(self) -> dict[str, int]:
        """Rejections by reason, the reader's and the decoder's together."""
        out = dict(self.stats.rejected)
        if self.decoder is not None:
            for k, v in self.decoder.stats.rejected.items():
                out[k] = out.get(k, 0) + v
        return out

