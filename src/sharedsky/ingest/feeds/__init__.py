"""Feeds: everything that brings reports in, as time-ordered batches of the report table.

`open_feed(spec, fmt=None)` (in `open`) takes a file path or a live stream URL; readers
of files are in `files`, of streams in `live`, one module per wire format beside them.
"""

from sharedsky.ingest.feeds.base import FeedError, FeedStats
from sharedsky.ingest.feeds.decode import FrameDecoder
from sharedsky.ingest.feeds.derive import TrackBuilder
from sharedsky.ingest.feeds.feed import Feed
from sharedsky.ingest.feeds.open import FORMATS, detect_format, open_feed

__all__ = ["FORMATS", "Feed", "FeedError", "FeedStats", "FrameDecoder", "TrackBuilder", "detect_format",
           "open_feed"]
