"""Mode S decoding against the reference fields of a real flight, and the Beast sample."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharedsky.ingest.feeds import open_feed
from sharedsky.ingest.feeds.beast import BeastParser
from sharedsky.ingest.feeds.decode import (
    FrameDecoder,
    crc_residual,
    decode_ac13,
    decode_id13,
    hex_to_bytes,
)
from sharedsky.ingest.schema import epoch_s
from sharedsky.ingest.snapshot import SEL_ALT_FT
from sharedsky.ingest.tracks import TrackTable

from conftest import run_cli

M_PER_DEG = 111_195.0


def _reference(shared_data: Path) -> pd.DataFrame:
    with gzip.open(shared_data / "adsb" / "full_flight_short.jsonl.gz", "rt") as fh:
        return pd.DataFrame([json.loads(line) for line in fh])


def _match(out: pd.DataFrame, ref: pd.DataFrame, col: str) -> pd.DataFrame:
    """Pair each reference frame carrying `col` with the decoded row at the same time."""
    o = out[out[col].notna()].copy()
    o["t"] = epoch_s(o["timestamp"])
    r = ref[ref[col].notna()].copy()
    r["t"] = r["timestamp"].astype(float)
    return pd.merge_asof(r.sort_values("t"), o.sort_values("t")[["t", col, *(["longitude"] if col == "latitude" else [])]],
                         on="t", tolerance=2e-6, direction="nearest", suffixes=("_ref", ""))


def _error_m(m: pd.DataFrame) -> np.ndarray:
    dlat = (m["latitude"] - m["latitude_ref"]) * M_PER_DEG
    dlon = (m["longitude"] - m["longitude_ref"]) * M_PER_DEG * np.cos(np.radians(m["latitude_ref"]))
    return np.hypot(dlat, dlon).to_numpy()


@pytest.fixture(scope="module")
def decoded(shared_data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """full_flight_short decoded from its frames alone (the reference fields are ignored)."""
    feed = open_feed(str(shared_data / "adsb" / "full_flight_short.jsonl.gz"))
    out = pd.concat(list(feed), ignore_index=True)
    return out, _reference(shared_data)


def test_positions_within_10_m_of_the_reference(decoded: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    out, ref = decoded
    m = _match(out, ref, "latitude")
    n_ref = int(ref["latitude"].notna().sum())
    assert n_ref > 8000
    err = _error_m(m)
    frac = float(np.mean(np.nan_to_num(err, nan=np.inf) <= 10.0))
    print(f"positions within 10 m: {frac:.4%} of {n_ref} position frames")
    assert frac >= 0.99
    # airborne and surface positions both decoded
    assert out.loc[out["onground"] & out["latitude"].notna()].shape[0] > 1000
    assert out.loc[~out["onground"] & out["latitude"].notna()].shape[0] > 5000


def test_altitudes_velocities_callsign_squawk_match(decoded: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    out, ref = decoded
    # Velocities from airborne velocity squitters (BDS 0,9); Comm-B registers (BDS 5,0/6,0)
    # are not used. Surface speeds are compared apart: the reference decoder used 0.25 kt
    # steps where DO-260B has 0.5 kt (movement 13-38), rs1090 follows DO-260B.
    es = ref["df"].eq("17") & ref["bds"].eq("09")
    for col, tol, sel in (("altitude", 0.5, ref["df"].isin(["17", "4", "0", "20", "16"])),
                          ("groundspeed", 0.01, es), ("track", 0.01, es), ("vertical_rate", 0.5, es)):
        m = _match(out, ref[sel], col)
        ok = np.abs(m[col] - m[f"{col}_ref"]) <= tol
        print(f"{col}: {ok.mean():.4%} of {len(m)} frames match")
        assert ok.mean() >= 0.99, col
    surf = ref[ref["bds"].eq("06")]
    mov = surf["frame"].map(lambda f: (int(f[8:22], 16) >> 44) & 0x7F)
    m = _match(out, surf.assign(groundspeed=np.where(mov == 16, 3.5, np.nan)), "groundspeed")
    assert (m["groundspeed"] == 3.5).sum() > 10 and (m["groundspeed"].dropna() == 3.5).all()
    assert set(out["callsign"]) - {""} == {"AFR34ZG"}
    assert "1000" in set(out["squawk"])
    assert set(out["icao24"]) == {"393322"}


def test_small_batches_with_a_receiver_reference_decode_every_position(shared_data: Path) -> None:
    """CPR state is carried across batches; the reference decodes early surface positions."""
    ref = _reference(shared_data)
    dec = FrameDecoder(reference=(49.0, 2.55))
    frames, t = ref["frame"].tolist(), ref["timestamp"].to_numpy(dtype=float)
    out = pd.concat([dec.decode(frames[i : i + 700], t[i : i + 700]) for i in range(0, len(frames), 700)])
    m = _match(out, ref, "latitude")
    assert float(np.mean(np.nan_to_num(_error_m(m), nan=np.inf) <= 10.0)) >= 0.999


def test_convert_cli_writes_the_decoded_gated_reports(shared_data: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "flight.csv"
    res = run_cli("convert", str(shared_data / "adsb" / "full_flight_short.jsonl.gz"), str(out_path))
    assert res.returncode == 0, res.stderr
    print(res.stderr)
    assert "rejected by the quality gate" in res.stderr
    out = pd.read_csv(out_path)
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True, format="ISO8601")
    assert list(out.columns[:10]) == ["timestamp", "icao24", "callsign", "latitude", "longitude", "altitude",
                                      "groundspeed", "track", "vertical_rate", "squawk"]
    ref = _reference(shared_data)
    m = _match(out, ref, "latitude")
    got = m["latitude"].notna()
    # Every written position is right ...
    assert float(np.mean(_error_m(m[got]) <= 10.0)) >= 0.99
    # ... and positions are only missing where the same frame was heard twice (duplicates).
    distinct = ref[ref["latitude"].notna()].assign(t=lambda d: d["timestamp"].round(1)).drop_duplicates(["frame", "t"])
    assert got.sum() >= 0.99 * len(distinct)


def test_convert_json_is_row_oriented_with_ms_timestamps(shared_data: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "noisy.json.gz"
    res = run_cli("convert", str(shared_data / "adsb" / "noisy_spoofing.json.gz"), str(out_path))
    assert res.returncode == 0, res.stderr
    with gzip.open(out_path, "rt") as fh:
        rows = json.load(fh)
    assert isinstance(rows, list) and rows[0]["icao24"] == "4baac6"
    assert isinstance(rows[0]["timestamp"], int) and rows[0]["timestamp"] > 1e12
    # and it reads back as a recording
    back = pd.concat(list(open_feed(str(out_path))))
    assert len(back) == len(rows)


def test_convert_rejects_bad_arguments_clearly(tmp_path: Path, shared_data: Path) -> None:
    res = run_cli("convert", str(tmp_path / "missing.bin"), str(tmp_path / "x.csv"))
    assert res.returncode == 2 and "missing.bin" in res.stderr and "no such file" in res.stderr
    res = run_cli("convert", str(shared_data / "adsb" / "sample_dump1090.bin"), str(tmp_path / "x.xlsx"))
    assert res.returncode == 2 and "x.xlsx" in res.stderr
    res = run_cli("convert", "beast://127.0.0.1:1", str(tmp_path / "x.csv"))
    assert res.returncode == 2 and "--duration-s" in res.stderr


def test_sample_dump1090_has_tracks_of_its_four_aircraft(shared_data: Path) -> None:
    feed = open_feed(str(shared_data / "adsb" / "sample_dump1090.bin"), start_s=1_700_000_000.0)
    out = pd.concat(list(feed))
    assert set(out["icao24"]) == {"3981e4", "44ce69", "48520a", "440062"}
    t = epoch_s(out["timestamp"])
    assert t.min() == pytest.approx(1_700_000_000.0, abs=1.0) and 20 < t.max() - t.min() < 30
    by = out.groupby("icao24")
    assert by["altitude"].median()["3981e4"] == 25000.0  # Gillham-coded altitude
    assert by["altitude"].median()["48520a"] == 38000.0
    assert by["latitude"].count()["48520a"] >= 2
    assert feed.stats.items == 239


def test_target_state_and_status_gives_the_selected_level(shared_data: Path) -> None:
    """The Beast sample's target state and status squitters (TC 29, 4) and its Comm-B
    replies with BDS 4,0 (9) give 48520a's selected level (FL380, where it flies); the
    snapshot carries it (`SEL_ALT_FT`) for resolution, NaN for the aircraft that sent none."""
    out = pd.concat(list(open_feed(str(shared_data / "adsb" / "sample_dump1090.bin"), start_s=1_700_000_000.0)))
    sel = out.dropna(subset=["selected_altitude"])
    assert set(sel["icao24"]) == {"48520a"} and sel["selected_altitude"].tolist() == [38000.0] * 13
    # the Comm-B replies carry the altitude (DF20) or the squawk (DF21) too; TC 29 neither
    assert (sel["altitude"].notna() | sel["squawk"].ne("")).sum() == 9
    table = TrackTable()
    table.update(out)
    snap = table.snapshot(float(epoch_s(out["timestamp"]).max()))
    by_id = dict(zip(snap.id.tolist(), snap.extra[SEL_ALT_FT].tolist(), strict=True))
    assert by_id["48520a"] == 38000.0
    assert all(np.isnan(v) for k, v in by_id.items() if k != "48520a")


def test_target_state_with_no_selected_level_gives_none() -> None:
    """A TC 29 squitter whose selected-altitude field is 0 ("no data", DO-260B) gives no
    level (never 0 ft), and, with nothing else in it, no report: counted, not kept."""
    dec = FrameDecoder()
    out = dec.decode(["8DA05629EA21485CBF3F8CADAEEB", "8DA05629EA00085CBF3F8C3E4DA0"],
                     np.array([1_700_000_000.0, 1_700_000_001.0]))
    assert out["selected_altitude"].tolist() == [17000.0]
    assert dec.stats.rejected["no_content"] == 1


def test_comm_b_selected_vertical_intention_gives_the_selected_level(
        decoded: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The real flight's Comm-B replies that the reference decoder read as BDS 4,0 give
    their MCP selected altitude, frame for frame; no reply it read as another register
    (BDS 1,0, 1,7, 2,0, 5,0, 6,0, or none) gives a level."""
    out, ref = decoded
    cb = ref[ref["df"].isin(["20", "21"])]
    m = _match(out, cb.assign(selected_altitude=cb["selected_mcp"]), "selected_altitude")
    assert len(m) == 6032
    assert (m["selected_altitude"] == m["selected_altitude_ref"]).all()
    assert set(m["selected_altitude_ref"]) >= {3000.0, 12000.0, 35000.0}
    assert out["selected_altitude"].notna().sum() == 6032


def test_a_comm_b_reply_with_another_layout_gives_no_selected_level() -> None:
    """BDS 4,0's status and reserved bits are checked: the same reply with a reserved bit
    set, or with its MCP status cleared while its altitude is set, gives no level; with no
    MCP/FCU altitude but an FMS one (12,000 ft), the FMS level."""
    frame = "a80008009770002ff0000053465f"  # DF21 from 393322: BDS 4,0, MCP 12,000 ft
    mb = int(frame[8:22], 16)

    def with_mb(new: int) -> str:
        """The reply with MB field `new`, its address/parity field made good again."""
        data = frame[:8] + f"{new:014x}"
        crc = int(crc_residual(hex_to_bytes([data + "000000"], 28)[0])[0])
        return data + f"{crc ^ 0x393322:06x}"

    assert with_mb(mb) == frame
    reserved, no_status = with_mb(mb | (1 << (56 - 45))), with_mb(mb & ~(1 << 55))
    # MB bits 1-13 (MCP status and altitude) cleared; bit 14 (FMS status) set, 750 x 16 ft in 15-26
    fms_only = with_mb((mb & ~(((1 << 13) - 1) << 43)) | (1 << 42) | (750 << 30))
    dec = FrameDecoder()
    dec.known.add(0x393322)
    out = dec.decode([frame, reserved, no_status, fms_only], np.array([1.0, 2.0, 3.0, 4.0]))
    got = out["selected_altitude"].tolist()
    assert got[0] == 12000.0 and got[3] == 12000.0
    assert out["selected_altitude"].isna().tolist() == [False, True, True, False]
    assert out["squawk"].tolist() == ["1000"] * 4


def test_fixed_fields() -> None:
    # Gillham 25,000 ft and 25-ft coding 38,000 ft from the Beast sample
    assert decode_ac13(np.array([0b0110010101000, 0b1100000111000], dtype=np.uint32)).tolist() == [25000.0, 38000.0]
    assert np.isnan(decode_ac13(np.array([0], dtype=np.uint32)))[0]
    # squawk 7500: A=7 (A4 A2 A1), B=5 (B4 B1), C=0, D=0
    code = (1 << 7) | (1 << 9) | (1 << 11) | (1 << 1) | (1 << 5)
    assert decode_id13(np.array([code], dtype=np.uint32)).tolist() == ["7500"]
    assert decode_id13(np.zeros(0, dtype=np.uint32)).tolist() == []
    # a surveillance reply from an address not yet confirmed: rejected, not a crash
    dec = FrameDecoder(None)
    assert dec.decode(["00000000000000"], np.zeros(1)).shape[0] == 0
    assert dec.stats.rejected["unknown_address"] == 1
    msg, ok = hex_to_bytes(["8d4840d6202cc371c32ce0576098", "8d4840d6202cc371c32ce057609z"], 28)
    assert ok.tolist() == [True, False]
    assert crc_residual(msg[:1]).tolist() == [0]


def test_beast_parser_unescapes_and_survives_any_split() -> None:
    frame = bytes.fromhex("8d4840d6202cc371c32ce0576098")
    clock = bytes([0, 0, 0x1A, 0, 0, 1])  # an escaped 0x1A in the MLAT clock
    body = clock + b"\x20" + frame
    wire = b"\x1a\x33" + body.replace(b"\x1a", b"\x1a\x1a")
    stream = b"junk" + wire * 3 + b"\x1a\x39zz" + wire
    whole = BeastParser()
    frames, mlat = whole.feed(stream)
    assert frames == [frame.hex()] * 4
    assert mlat[0] == int.from_bytes(clock, "big")
    assert whole.stats.rejected["beast_bad_type"] == 1
    for step in (1, 2, 5, 13):
        p = BeastParser()
        got = [f for i in range(0, len(stream), step) for f in p.feed(stream[i : i + step])[0]]
        assert got == frames
