"""Mining: the one assessment step over months of recordings, one hour partition per task.

`partition` turns recordings into hour-partitioned Parquet (gated once), `span` assesses
one partition after a warm-up over the margin before it, `merge` checks each hand-off
between consecutive partitions and stitches their events into the stream one replay
gives, `encounters` turns events into the encounter table, `cluster` runs the spans on
Dask (an optional extra: `pip install sharedsky[cluster]`).
"""
