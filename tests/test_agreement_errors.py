"""Broken agreements: each must be refused with a message naming key path, line and reason.

Table-driven: every case edits a small valid agreement and states the key path and
the words the error must contain (requirement: issue 3, "every error names the file,
the key path and line, and what is wrong").
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from sharedsky.agreement import AgreementError, load_agreement, loads_agreement

BASE = textwrap.dedent("""\
    [agreement]
    name = "test"
    default_party = "unknown"
    alert_levels = ["advisory", "warning"]

    [[party]]
    id = "blue"
    name = "Blue"
    colour = "#0000ff"
    [party.attribution]
    icao_ranges = [["ae0000", "afffff"]]
    callsign_prefixes = ["RCH"]
    sources = ["blue-feed"]

    [[party]]
    id = "red"
    name = "Red"
    [party.attribution]
    icao_ranges = [["140000", "15ffff"]]
    callsign_prefixes = ["RFF"]

    [[party]]
    id = "unknown"
    name = "Unknown"

    [minima_default]
    [[minima_default.level]]
    name = "warning"
    h_nm = 5
    v_ft = 1000
    t_s = 120

    [[minima]]
    parties = ["blue", "red"]
    [[minima.level]]
    name = "advisory"
    h_nm = 20
    v_ft = 2000
    t_s = 300
    [[minima.level]]
    name = "warning"
    h_nm = 3
    v_ft = 1000
    t_s = 120

    [[airspace]]
    id = "box"
    owner = "blue"
    polygon = [[30.0, 36.0], [31.0, 36.0], [31.0, 37.0], [30.0, 37.0], [30.0, 36.0]]
    barred = ["red"]
    [airspace.schedule]
    stages = [{ name = "advisory", lead_s = 300 }, { name = "warning", lead_s = 120 }]
    repeat_inside_s = 30

    [channels]
    distress_mhz = [121.5, 243.0]

    [[disclosure]]
    observers = ["blue"]
    mode = "within"
    within_nm = 50
    """)


def line_no(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle` (for expected line numbers)."""
    for k, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return k
    raise AssertionError(f"{needle!r} not in text")


def edit(old: str, new: str, count: int = 1) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, count)


def suppressed(extra: str = "") -> str:
    """BASE with one suppression volume (a 3 NM circle up to 1,500 ft) plus `extra` lines."""
    return (BASE + '\n[[suppression.volume]]\nid = "apron"\ncentre = [30.5, 36.5]\nradius_nm = 3\n'
            'upper_ft = 1500\n' + (extra + "\n" if extra else ""))


# (case id, agreement text, expected key path, regex the reason must match, line marker)
CASES = [
    ("resolution-unknown-level", BASE + '\n[resolution]\nenabled = true\nlevel = "warn"\n',
     "resolution.level", r"unknown alert level 'warn'", 'level = "warn"'),
    ("resolution-unknown-party", BASE + '\n[resolution]\nenabled = true\n[[resolution.rule]]\nparty = "rde"\n',
     "resolution.rule[0].party", r"unknown party 'rde'.*did you mean 'red'", 'party = "rde"'),
    ("resolution-no-manoeuvre", BASE + '\n[resolution]\n[[resolution.rule]]\nparty = "red"\nmanoeuvres = []\n',
     "resolution.rule[0].manoeuvres", r"no manoeuvre accepted.*exempt = true", "manoeuvres = []"),
    ("resolution-bad-manoeuvre", BASE + '\n[resolution]\n[[resolution.rule]]\nparty = "red"\nmanoeuvres = ["barrel roll"]\n',
     "resolution.rule[0].manoeuvres[0]", r"track.*speed.*vertical", 'manoeuvres = ["barrel roll"]'),
    ("resolution-buffer-below-one", BASE + '\n[resolution]\nbuffer = 0.9\n',
     "resolution.buffer", r"greater than or equal to 1|>= 1", "buffer = 0.9"),
    ("unknown-party-in-minima", edit('parties = ["blue", "red"]', 'parties = ["blue", "rde"]'),
     "minima[0].parties[1]", r"unknown party 'rde'.*did you mean 'red'", 'parties = ["blue", "rde"]'),
    ("negative-distance", edit("h_nm = 3\n", "h_nm = -3\n"),
     "minima[0].level[1].h_nm", r"must be > 0 \(got -3", "h_nm = -3"),
    ("zero-vertical", edit("v_ft = 2000", "v_ft = 0"),
     "minima[0].level[0].v_ft", r"must be > 0 \(got 0", "v_ft = 0"),
    ("advisory-tighter-than-warning", edit("h_nm = 20", "h_nm = 2"),
     "minima[0].level[0].h_nm", r"advisory h_nm 2 NM is tighter than warning 3 NM.*nest", "h_nm = 2"),
    ("advisory-lookahead-shorter", edit("t_s = 300\n[[minima.level]]", "t_s = 60\n[[minima.level]]"),
     "minima[0].level[0].t_s", r"advisory t_s 60 s is tighter than warning 120 s", "t_s = 60"),
    ("unknown-level-name", edit('name = "warning"\nh_nm = 3', 'name = "warn"\nh_nm = 3'),
     "minima[0].level[1].name", r"unknown alert level 'warn'", 'name = "warn"'),
    ("duplicate-pair", BASE + '\n[[minima]]\nparties = ["red", "blue"]\n[[minima.level]]\nname = "warning"\nh_nm = 1\nv_ft = 500\nt_s = 60\n',
     "minima[1].parties", r"pair red/blue already given at minima\[0\]", 'parties = ["red", "blue"]'),
    ("airspace-without-geometry", edit("polygon = [[30.0, 36.0], [31.0, 36.0], [31.0, 37.0], [30.0, 37.0], [30.0, 36.0]]\n", ""),
     "airspace[0]", r"no geometry: give one of country, geojson or polygon", "[[airspace]]"),
    ("unknown-country", edit("polygon = [[30.0, 36.0], [31.0, 36.0], [31.0, 37.0], [30.0, 37.0], [30.0, 36.0]]", 'country = "TRK"'),
     "airspace[0].country", r"unknown country code 'TRK'", 'country = "TRK"'),
    ("polygon-not-closed", edit("[30.0, 37.0], [30.0, 36.0]]", "[30.0, 37.0], [30.0, 36.5]]"),
     "airspace[0].polygon", r"ring does not close", "polygon ="),
    ("polygon-self-intersects", edit("[[30.0, 36.0], [31.0, 36.0], [31.0, 37.0], [30.0, 37.0], [30.0, 36.0]]",
                                     "[[30.0, 36.0], [31.0, 37.0], [31.0, 36.0], [30.0, 37.0], [30.0, 36.0]]"),
     "airspace[0].polygon", r"invalid polygon: Self-intersection", "polygon ="),
    ("schedule-not-decreasing", edit('{ name = "warning", lead_s = 120 }', '{ name = "warning", lead_s = 400 }'),
     "airspace[0].schedule.stages[1].lead_s", r"must be shorter than the previous stage 'advisory'.*strictly decrease", "stages ="),
    ("repeat-not-positive", edit("repeat_inside_s = 30", "repeat_inside_s = 0"),
     "airspace[0].schedule.repeat_inside_s", r"must be > 0 \(got 0", "repeat_inside_s = 0"),
    ("overlapping-icao-ranges", edit('icao_ranges = [["140000", "15ffff"]]', 'icao_ranges = [["af0000", "b0ffff"]]'),
     "party[1].attribution.icao_ranges[0]", r"overlaps the block of party 'blue'.*two parties", 'icao_ranges = [["af0000"'),
    ("same-icao-listed-twice", edit('callsign_prefixes = ["RFF"]', 'callsign_prefixes = ["RFF"]\nicao = ["abc123"]')
     .replace('sources = ["blue-feed"]', 'sources = ["blue-feed"]\nicao = ["ABC123"]'),
     "party[1].attribution.icao[0]", r"ICAO abc123 is also listed for party 'blue'", 'icao = ["abc123"]'),
    ("overlapping-callsign-prefixes", edit('callsign_prefixes = ["RFF"]', 'callsign_prefixes = ["RC"]'),
     "party[1].attribution.callsign_prefixes[0]", r"prefix 'RC' overlaps prefix 'RCH' of party 'blue'", 'callsign_prefixes = ["RC"]'),
    ("identical-callsign-prefixes", edit('callsign_prefixes = ["RFF"]', 'callsign_prefixes = ["rch"]'),
     "party[1].attribution.callsign_prefixes[0]", r"prefix 'RCH' is the same as prefix 'RCH'", 'callsign_prefixes = ["rch"]'),
    ("shared-source", edit('callsign_prefixes = ["RFF"]', 'callsign_prefixes = ["RFF"]\nsources = ["blue-feed"]  # red'),
     "party[1].attribution.sources[0]", r"source 'blue-feed' is also given for party 'blue'", "# red"),
    ("duplicate-party-id", edit('id = "red"', 'id = "blue"'),
     "party[1].id", r"duplicate party id 'blue' \(first at party\[0\]\)", 'id = "blue"\nname = "Red"'),
    ("unknown-key-typo", edit('colour = "#0000ff"', 'color = "#0000ff"'),
     "party[0].color", r"unknown key 'color' \(did you mean 'colour'\?\)", 'color = "#0000ff"'),
    ("unknown-top-level-table", BASE + "\n[chanels]\nhotline = 'x'\n",
     "chanels", r"unknown key 'chanels' \(did you mean 'channels'\?\)", "[chanels]"),
    ("default-party-not-declared", edit('default_party = "unknown"', 'default_party = "nobody"'),
     "agreement.default_party", r"unknown party 'nobody'", 'default_party = "nobody"'),
    ("unknown-barred-party", edit('barred = ["red"]', 'barred = ["green"]'),
     "airspace[0].barred[0]", r"unknown party 'green'", 'barred = ["green"]'),
    ("unknown-airspace-owner", edit('owner = "blue"', 'owner = "bleu"'),
     "airspace[0].owner", r"unknown party 'bleu'.*did you mean 'blue'", 'owner = "bleu"'),
    ("unknown-disclosure-observer", edit('observers = ["blue"]', 'observers = ["purple"]'),
     "disclosure[0].observers[0]", r"unknown party 'purple'", 'observers = ["purple"]'),
    ("within-without-distance", edit("within_nm = 50\n", ""),
     "disclosure[0].within_nm", r"mode 'within' needs within_nm", "[[disclosure]]"),
    ("bad-icao-hex", edit('["ae0000", "afffff"]', '["ae0000", "afffgf"]'),
     "party[0].attribution.icao_ranges[0][1]", r"'afffgf' must be a 6-digit hex ICAO address", 'icao_ranges = [["ae0000", "afffgf"]]'),
    ("empty-icao-block", edit('["140000", "15ffff"]', '["15ffff", "140000"]'),
     "party[1].attribution.icao_ranges[0]", r"block \[15ffff, 140000\] is empty", '["15ffff", "140000"]'),
    ("bad-regex", edit('callsign_prefixes = ["RFF"]', 'callsign_patterns = ["RFF[0-9"]'),
     "party[1].attribution.callsign_patterns[0]", r"not a valid regular expression", "callsign_patterns"),
    ("ceiling-below-floor", edit('barred = ["red"]', 'barred = ["red"]\nfloor_ft = 20000\nceiling_ft = 10000'),
     "airspace[0].ceiling_ft", r"ceiling 10000 ft must be above the floor 20000 ft", "ceiling_ft = 10000"),
    ("horizon-shorter-than-first-stage", edit('barred = ["red"]', 'barred = ["red"]\nhorizon_s = 200'),
     "airspace[0].horizon_s", r"horizon 200 s is shorter than the first stage lead 300 s", "horizon_s = 200"),
    ("owner-barred", edit('barred = ["red"]', 'barred = ["red", "blue"]'),
     "airspace[0].barred[1]", r"owner 'blue' cannot be barred", 'barred = ["red", "blue"]'),
    ("missing-required-key", edit('name = "Blue"\n', ""),
     "party[0].name", r"required key is missing", "[[party]]"),
    ("wrong-type", edit("h_nm = 5\n", 'h_nm = "five"\n'),
     "minima_default.level[0].h_nm", r"valid number", 'h_nm = "five"'),
    # [suppression] (issue "Input truth", defect 9)
    ("suppression-unknown-party", suppressed('pairs = [["blue", "rde"]]'),
     "suppression.volume[0].pairs[0][1]", r"unknown party 'rde'.*did you mean 'red'", 'pairs = [["blue", "rde"]]'),
    ("suppression-band-upside-down", suppressed("lower_ft = 3000").replace("upper_ft = 1500", "upper_ft = 1000"),
     "suppression.volume[0].upper_ft", r"upper_ft 1000 ft must be above lower_ft 3000 ft", "upper_ft = 1000"),
    ("suppression-missing-top", suppressed().replace("upper_ft = 1500\n", ""),
     "suppression.volume[0].upper_ft", r"required key is missing", "[[suppression.volume]]"),
    ("suppression-no-shape", suppressed().replace("centre = [30.5, 36.5]\nradius_nm = 3\n", ""),
     "suppression.volume[0]", r"no shape: give polygon, or centre and radius_nm", "[[suppression.volume]]"),
    ("suppression-polygon-and-circle",
     suppressed("polygon = [[30.0, 36.0], [31.0, 36.0], [31.0, 37.0], [30.0, 36.0]]"),
     "suppression.volume[0].centre", r"either polygon or a circle", "centre = [30.5, 36.5]"),
    ("suppression-circle-without-radius", suppressed().replace("radius_nm = 3\n", ""),
     "suppression.volume[0].radius_nm", r"needs both centre and radius_nm \(radius_nm is missing\)",
     "[[suppression.volume]]"),
    ("suppression-centre-off-the-globe", suppressed().replace("[30.5, 36.5]", "[36.5, 130.5]"),
     "suppression.volume[0].centre", r"not \[lon, lat\] in degrees", "centre = [36.5, 130.5]"),
    ("suppression-polygon-not-closed",
     suppressed().replace("centre = [30.5, 36.5]\nradius_nm = 3", "polygon = [[30.0, 36.0], [31.0, 36.0], [31.0, 37.0]]"),
     "suppression.volume[0].polygon", r"at least 3 distinct points", "[31.0, 37.0]]"),
    ("suppression-duplicate-id", suppressed() + '\n[[suppression.volume]]\nid = "apron"  # again\n'
     'centre = [30.0, 36.0]\nradius_nm = 1\nupper_ft = 500\n',
     "suppression.volume[1].id", r"volume id 'apron' is taken \(first at suppression.volume\[0\]\)", "# again"),
    ("aerodrome-radius-zero", BASE + "\n[suppression.aerodromes]\nradius_nm = 0\nheight_ft = 1500\n",
     "suppression.aerodromes.radius_nm", r"must be > 0 \(got 0", "radius_nm = 0"),
    ("aerodrome-unknown-list", BASE + '\n[suppression.aerodromes]\nradius_nm = 5\nheight_ft = 1500\naerodromes = "iata"\n',
     "suppression.aerodromes.aerodromes", r"'icao' or 'all'", 'aerodromes = "iata"'),
    ("aerodrome-unknown-party", BASE + '\n[suppression.aerodromes]\nradius_nm = 5\nheight_ft = 1500\n'
     'pairs = [["blue", "blue"], ["red", "purple"]]\n',
     "suppression.aerodromes.pairs[1][1]", r"unknown party 'purple'", 'pairs = [["blue", "blue"]'),
    ("aerodrome-key-typo", BASE + "\n[suppression.aerodromes]\nradius = 5\nheight_ft = 1500\n",
     "suppression.aerodromes.radius", r"unknown key 'radius' \(did you mean 'radius_nm'\?\)", "radius = 5"),
]


@pytest.mark.parametrize(("text", "path", "reason", "marker"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_agreement_is_refused_with_a_specific_message(tmp_path: Path, text: str, path: str,
                                                            reason: str, marker: str) -> None:
    f = tmp_path / "broken.toml"
    f.write_text(text)
    with pytest.raises(AgreementError) as info:
        load_agreement(f)
    msg = str(info.value)
    expected_line = line_no(text, marker.split("\n")[0]) if "\n" not in marker else None
    lines = [ln for ln in msg.splitlines() if f": {path}: " in ln]
    assert lines, f"no error for {path} in:\n{msg}"
    assert any(re.search(reason, ln) for ln in lines), f"{reason!r} not in:\n{msg}"
    assert all(ln.startswith(str(f)) for ln in lines)
    if expected_line is not None:
        assert any(ln.startswith(f"{f}:{expected_line}: {path}: ") for ln in lines), (
            f"line {expected_line} not named for {path}:\n{msg}")


def test_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15
    assert len({c[0] for c in CASES}) == len(CASES)


def test_base_agreement_is_valid() -> None:
    agr = loads_agreement(BASE)
    assert agr.party_ids == ("blue", "red", "unknown")


def test_syntax_error_names_line() -> None:
    text = BASE.replace('name = "Red"', 'name = "Red')
    with pytest.raises(AgreementError) as info:
        loads_agreement(text, file="x.toml")
    line = line_no(text, 'name = "Red')
    assert str(info.value).startswith(f"x.toml:{line}: (syntax): not valid TOML")


def test_every_problem_is_reported_at_once() -> None:
    text = BASE.replace('owner = "blue"', 'owner = "bleu"').replace("h_nm = 20", "h_nm = -20")
    with pytest.raises(AgreementError) as info:
        loads_agreement(text, file="x.toml")
    # shape errors come first (the meaning of a malformed file is not checked)
    assert "minima[0].level[0].h_nm: must be > 0" in str(info.value)
    text = BASE.replace('owner = "blue"', 'owner = "bleu"').replace('barred = ["red"]', 'barred = ["grey"]')
    with pytest.raises(AgreementError) as info:
        loads_agreement(text, file="x.toml")
    assert len(info.value.issues) == 2
    assert str(info.value).startswith("2 problems in x.toml")


def test_missing_file() -> None:
    with pytest.raises(AgreementError, match=r"nope\.toml: \(file\): no such file"):
        load_agreement("nope.toml")


def test_infinite_minimum_is_refused(tmp_path: Path) -> None:
    """`h_nm = inf` is valid TOML and > 0, but no distance is infinite."""
    civil = Path(__file__).resolve().parents[1] / "examples" / "civil.toml"
    text = civil.read_text().replace("h_nm = 5", "h_nm = inf")
    p = tmp_path / "inf.toml"
    p.write_text(text)
    with pytest.raises(AgreementError, match=r"minima_default\.level\[0\]\.h_nm: .*finite"):
        load_agreement(p)
