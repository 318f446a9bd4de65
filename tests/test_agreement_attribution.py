"""Attribution: vectorised, by documented precedence, checked against a per-aircraft
reference written as plainly as possible."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedsky.agreement import load_agreement, loads_agreement
from sharedsky.agreement.attribution import parse_icao
from sharedsky.ingest.feeds.recordings import read_recording

from conftest import REPO

SYRIA = load_agreement(REPO / "examples" / "syria-2015.toml")


def reference(agr, icao: str, callsign: str, source: str) -> int:
    """One aircraft at a time, straight from the document: the spec of `attribute`."""
    doc = agr.document
    ok = bool(re.fullmatch(r"[0-9a-fA-F]{6}", icao))
    v = int(icao, 16) if ok else -1
    cs = callsign.strip().upper()
    rules = [
        lambda a: ok and any(int(h, 16) == v for h in a.icao),
        lambda a: ok and any(int(lo, 16) <= v <= int(hi, 16) for lo, hi in a.icao_ranges),
        lambda a: any(cs.startswith(p.upper()) for p in a.callsign_prefixes),
    ]
    for rule in rules:
        for k, p in enumerate(doc.party):
            if rule(p.attribution):
                return k
    hits = {k for k, p in enumerate(doc.party)
            for pat in p.attribution.callsign_patterns if re.fullmatch(pat, cs)}
    if len(hits) == 1:
        return hits.pop()
    if len(hits) > 1:
        return agr.default_index
    for k, p in enumerate(doc.party):
        if source in p.attribution.sources:
            return k
    return agr.default_index


def test_parse_icao_vectorised() -> None:
    v, ok = parse_icao(np.array(["000000", "ffffff", "AE01C5", "ae01c", "~ae01c5", "", "ae01c5x", "g00000"]))
    assert list(ok) == [True, True, True, False, False, False, False, False]
    assert list(v[:3]) == [0, 0xFFFFFF, 0xAE01C5]
    assert (v[~ok] == -1).all()
    v, ok = parse_icao(np.array(["4b1812", None, float("nan")], dtype=object))
    assert list(ok) == [True, False, False] and v[0] == 0x4B1812


def test_syria_examples_by_rule() -> None:
    icao = ["ae1234", "140001", "4b8001", "778001", "a00001", "a00002", "a00003", "a00004", "a00005", "a00006", "zzzzzz"]
    cs = ["", "RFF777", "", "", "rch12 ", "THY123", "TUAF01", "RFF9", "", "N123AB", "RCH5"]
    src = ["", "", "", "", "", "", "", "", "russia", "", ""]
    got = SYRIA.attribute(np.array(icao), np.array(cs), np.array(src))
    names = [SYRIA.party_ids[k] for k in got]
    assert names == ["coalition", "russia", "turkey", "syria", "coalition", "civil", "turkey", "russia",
                     "russia", "unknown", "coalition"]
    assert got.dtype == np.int32


def test_precedence_explicit_icao_over_range_over_callsign_over_source() -> None:
    text = (REPO / "examples" / "syria-2015.toml").read_text().replace(
        'sources = ["russia"]', 'sources = ["russia"]\nicao = ["ae0001"]')  # a coalition-block address
    agr = loads_agreement(text)
    got = agr.attribute(np.array(["ae0001", "ae0002", "a00000", "a00000"]),
                        np.array(["RCH1", "RFF1", "RFF1", "X"]), np.array(["", "", "coalition", "russia"]))
    assert [agr.party_ids[k] for k in got] == ["russia", "coalition", "russia", "russia"]


def test_two_parties_patterns_matching_goes_to_default_and_is_findable() -> None:
    text = (REPO / "examples" / "syria-2015.toml").read_text().replace(
        'sources = ["syria"]', 'sources = ["syria"]\ncallsign_patterns = ["SY[0-9]+"]')
    text = text.replace('callsign_patterns = ["[A-Z]{3}[0-9][0-9A-Z]{0,3}"]',
                        'callsign_patterns = ["[A-Z]{3}[0-9][0-9A-Z]{0,3}", "SY[0-9]{2}"]')
    agr = loads_agreement(text)
    got = agr.attribute(np.array(["a00000"] * 3), np.array(["SY123", "SY12", "SWR12"]))
    assert [agr.party_ids[k] for k in got] == ["syria", "unknown", "civil"]
    assert list(agr.attributor.ambiguous_patterns(np.array(["SY123", "SY12", "SWR12"]))) == [False, True, False]


HEX = st.text(alphabet="0123456789abcdefABCDEF", min_size=6, max_size=6)
ICAO = st.one_of(HEX, st.sampled_from(["ae0000", "afffff", "140000", "15ffff", "160000", "4b7fff", "4b8000",
                                       "77bfff", "77c000", "~abcdef", "", "12345"]))
CALLSIGN = st.one_of(st.sampled_from(["", "RCH", "RCH123", "rff1", "TUAF", "TRKAF9", "THY123", "SWR1A",
                                      "RR", "  CNV7 ", "ABC1234", "ABCD12"]),
                     st.text(alphabet="ABCFHKRTUY0123456789 ", max_size=8))
SOURCE = st.sampled_from(["", "coalition", "russia", "turkey", "syria", "opensky"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ICAO, CALLSIGN, SOURCE), min_size=1, max_size=40))
def test_vectorised_equals_per_aircraft_reference(rows) -> None:
    icao, cs, src = (np.array(c, dtype=str) for c in zip(*rows, strict=True))
    got = SYRIA.attribute(icao, cs, src)
    want = [reference(SYRIA, i, c, s) for i, c, s in rows]
    assert list(got) == want


def test_whole_recording_at_once(shared_data) -> None:
    df = read_recording(shared_data / "adsb" / "switzerland.json.gz")
    got = SYRIA.attribute(df["icao24"].to_numpy(), df["callsign"].to_numpy())
    assert got.shape == (len(df),)
    sample = df.drop_duplicates("icao24").head(300)
    want = [reference(SYRIA, i, c, "") for i, c in zip(sample["icao24"], sample["callsign"].fillna(""), strict=True)]
    assert list(SYRIA.attribute(sample["icao24"].to_numpy(), sample["callsign"].to_numpy())) == want
    counts = pd.Series(np.array(SYRIA.party_ids)[got]).value_counts()
    assert counts.get("civil", 0) > len(df) / 2   # airliners over Switzerland
    assert counts.get("turkey", 0) > 0            # Turkish-registered aircraft in the block


def test_callsign_none_and_lengths_checked() -> None:
    got = SYRIA.attribute(np.array(["ae0001", "a00000"]), None)
    assert list(got) == [0, SYRIA.default_index]
    try:
        SYRIA.attribute(np.array(["a00000", "a00001"]), np.array(["RCH1"]))
    except ValueError as exc:
        assert "callsign has 1 rows" in str(exc)
    else:
        raise AssertionError("length mismatch not refused")
