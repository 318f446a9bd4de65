"""Fuzzing every parser with hypothesis: no input crashes a reader; every bad input is a
counted rejection or a `FeedError` naming what and where."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharedsky.ingest.feeds import FeedError, FeedStats, open_feed
from sharedsky.ingest.feeds.avr import parse_avr_lines
from sharedsky.ingest.feeds.beast import BeastParser
from sharedsky.ingest.feeds.decode import FrameDecoder, crc_residual, hex_to_bytes
from sharedsky.ingest.feeds.opensky import from_rest
from sharedsky.ingest.feeds.readsb import from_aircraft_json, from_trace
from sharedsky.ingest.feeds.sbs import parse_sbs_lines
from sharedsky.ingest.quality import QualityGate
from sharedsky.ingest.schema import REPORT_COLUMNS

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hexchars = st.text(alphabet="0123456789abcdefABCDEF", min_size=0, max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


def _valid_es(payload: bytes) -> str:
    """A DF17 frame with a correct CRC around 10 arbitrary bytes (address + ME)."""
    msg = np.frombuffer(bytes([0x8D]) + payload[:10] + b"\x00\x00\x00", dtype=np.uint8)[None, :]
    parity = int(crc_residual(msg)[0])
    return (bytes([0x8D]) + payload[:10] + parity.to_bytes(3, "big")).hex()


def _accounted(dec: FrameDecoder, out: pd.DataFrame, n_in: int) -> None:
    """Every frame became a report or a counted rejection (CPR failures keep their row)."""
    rej = {k: v for k, v in dec.stats.rejected.items() if k != "cpr_undecided"}
    assert out.shape[0] + sum(rej.values()) == n_in
    assert list(out.columns) == list(REPORT_COLUMNS)


@FUZZ
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_beast_parser_never_crashes(data: bytes, step: int) -> None:
    p = BeastParser()
    frames: list[str] = []
    for i in range(0, len(data), step):
        frames += p.feed(data[i : i + step])[0]
    assert all(len(f) in (4, 14, 28) for f in frames)
    dec = FrameDecoder()
    good = [f for f in frames if len(f) in (14, 28)]
    out = dec.decode(good, np.full(len(good), 1.7e9))
    _accounted(dec, out, len(good))


@FUZZ
@given(st.lists(st.one_of(hexchars, st.text(max_size=30)), max_size=30),
       st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=30, max_size=30))
def test_decoder_never_crashes_on_junk(frames: list[str], times: list[float]) -> None:
    dec = FrameDecoder()
    out = dec.decode(frames, np.asarray(times[: len(frames)]))
    _accounted(dec, out, len(frames))


@FUZZ
@given(st.lists(st.binary(min_size=10, max_size=10), min_size=1, max_size=40),
       st.floats(min_value=0, max_value=2e9))
def test_decoder_on_random_squitters_with_valid_crc(payloads: list[bytes], t0: float) -> None:
    """Random extended squitters (CRC correct, content arbitrary) go through rs1090."""
    frames = [_valid_es(p) for p in payloads]
    dec = FrameDecoder()
    out = dec.decode(frames, t0 + np.arange(len(frames), dtype=float))
    _accounted(dec, out, len(frames))
    ok = out["latitude"].dropna()
    assert ((ok >= -90) & (ok <= 90)).all()
    assert ((out["longitude"].dropna().abs()) <= 180).all()


@FUZZ
@given(st.lists(st.text(max_size=60), max_size=20))
def test_avr_and_sbs_parsers_never_crash(lines: list[str]) -> None:
    st_avr = FeedStats()
    frames, mlat = parse_avr_lines(lines, st_avr)
    assert len(frames) + sum(st_avr.rejected.values()) == st_avr.items
    assert all(len(f) in (14, 28) for f in frames) and len(mlat) == len(frames)
    st_sbs = FeedStats()
    sbs_lines = [",".join(["MSG", *line.split(" ")]) if i % 2 else line for i, line in enumerate(lines)]
    out = parse_sbs_lines(sbs_lines, st_sbs)
    assert out.shape[0] + sum(st_sbs.rejected.values()) == st_sbs.items


@FUZZ
@given(json_values)
def test_json_documents_give_reports_or_a_feed_error(doc: object) -> None:
    for parse in (from_aircraft_json, from_trace, from_rest):
        try:
            out = parse(doc)
        except FeedError as exc:
            assert str(exc)
        else:
            assert list(out.columns) == list(REPORT_COLUMNS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from(["x.bin", "x.avr", "x.sbs", "x.jsonl", "x.json", "x.csv",
                                                 "x.parquet", "x.json.gz"]))
def test_any_file_reads_or_fails_with_a_named_error(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        try:
            batches = list(open_feed(str(p)))
        except FeedError as exc:
            assert name in str(exc)
        else:
            for b in batches:
                assert list(b.columns)[: len(REPORT_COLUMNS)] == list(REPORT_COLUMNS)


@FUZZ
@given(st.lists(st.one_of(json_values.map(json.dumps), st.text(max_size=40)), max_size=15))
def test_jsonl_lines_of_anything(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.jsonl"
        p.write_text("\n".join(line.replace("\n", " ") for line in lines))
        try:
            feed = open_feed(str(p))
            list(feed)
        except FeedError as exc:
            assert "x.jsonl" in str(exc)


reports = st.fixed_dictionaries({
    "icao24": st.sampled_from(["abc123", "def456", ""]),
    "t": st.floats(min_value=1.6e9, max_value=1.6e9 + 100),
    "latitude": st.floats(min_value=-200, max_value=200) | st.sampled_from([np.nan, np.inf]),
    "longitude": st.floats(min_value=-400, max_value=400) | st.sampled_from([np.nan, -np.inf]),
    "altitude": st.floats(allow_nan=True, allow_infinity=True),
    "groundspeed": st.floats(allow_nan=True, allow_infinity=True),
    "track": st.floats(min_value=-720, max_value=720) | st.just(np.nan),
})


@FUZZ
@given(st.lists(reports, max_size=25), st.integers(min_value=1, max_value=25))
def test_gate_never_crashes_and_counts_everything(rows: list[dict], chunk: int) -> None:
    df = pd.DataFrame(rows, columns=["icao24", "t", "latitude", "longitude", "altitude", "groundspeed", "track"])
    df["timestamp"] = pd.to_datetime(df["t"], unit="s", utc=True)
    gate = QualityGate()
    kept = sum(gate.filter(df.iloc[i : i + chunk]).shape[0] for i in range(0, len(df), chunk))
    kept += gate.flush().shape[0]  # the reports still waiting for a neighbour
    assert kept + sum(gate.rejected.values()) == len(df)
    assert kept == gate.accepted


def test_hex_helper_rejects_non_hex() -> None:
    _, ok = hex_to_bytes(["8d4840d6202cc3", "8d4840d6202cZ3", "\u00e9" * 14], 14)
    assert ok.tolist() == [True, False, False]
