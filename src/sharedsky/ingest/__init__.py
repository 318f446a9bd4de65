"""Ingest: reports in, the engine's snapshot out.

feeds (readers of every format) -> schema (the report table) -> quality (the gate) ->
tracks (one row per aircraft, latest state) -> snapshot (columns at one instant).
"""
