"""Scenario files: the shipped examples load; bad ones give errors naming file, key path, line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharedsky.sim.performance import TYPES
from sharedsky.sim.scenario import ScenarioError, load_scenario, loads_scenario

from conftest import run_cli

REPO = Path(__file__).resolve().parents[1]

GOOD = """
[scenario]
name = "t"
start = "2015-10-20T06:00:00Z"

[parties.blue]
icao_blocks = ["ae0000-afffff"]

[[base]]
id = "home"
lat = 37.0
lon = 35.4

[[mission]]
id = "m"
party = "blue"
kind = "strike"
type = "F16"
base = "home"
at_s = [0]
target = [36.0, 37.0]
"""


def test_examples_load() -> None:
    syria = load_scenario(REPO / "examples/syria-2015.scenario.toml")
    assert set(syria.party_ids) == {"coalition", "russia", "turkey", "syria", "civil"}
    assert {"incirlik", "hmeimim", "shayrat", "akrotiri", "al-udeid", "mozdok", "carrier"} <= set(syria.bases)
    inc = syria.bases["incirlik"]
    assert (inc.lat_deg, inc.lon_deg) == (37.002, 35.426)
    kinds = {m.kind for m in syria.missions}
    assert {"strike", "cap", "tanker", "isr", "transit", "airway", "orbit"} <= kinds
    civil = load_scenario(REPO / "examples/civil.scenario.toml")
    assert all(m.kind == "airway" for m in civil.missions)


def test_every_type_has_a_source() -> None:
    for t in TYPES.values():
        assert t.source, t.code
        assert t.cruise_kt <= t.max_kt


def _error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text, "bad.toml")
    return info.value


def test_good_minimal_scenario() -> None:
    s = loads_scenario(GOOD, "good.toml")
    assert s.missions[0].target == (36.0, 37.0)


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        ('party = "blue"', 'party = "red"', "mission[0].party", "unknown party 'red'"),
        ("target = [36.0, 37.0]", "target = [136.0, 37.0]", "mission[0].target", "latitude"),
        ('type = "F16"', 'type = "F99"', "mission[0].type", "unknown aircraft type 'F99'"),
        ('kind = "strike"', 'kind = "bombing"', "mission[0].kind", "unknown kind"),
        ('base = "home"', 'base = "away"', "mission[0].base", "unknown base 'away'"),
        ("target = [36.0, 37.0]", "", "mission[0].target", "needs a target"),
        ('at_s = [0]', 'at_s = [-5]', "mission[0].at_s[0]", ">= 0"),
        ('lat = 37.0', 'lat = "north"', "base[0].lat", "must be float"),
        ('icao_blocks = ["ae0000-afffff"]', 'icao_blocks = ["ae0000"]', "parties.blue.icao_blocks[0]", "hex"),
        ('at_s = [0]', 'at_s = [0]\ntargte = 3', "mission[0].targte", "unknown key"),
    ],
)
def test_errors_name_path_and_line(old: str, new: str, path: str, words: str) -> None:
    text = GOOD.replace(old, new)
    err = _error(text)
    msg = str(err)
    assert "bad.toml" in msg
    assert path in msg, msg
    assert words in msg, msg
    # The line number points at the offending key (or its table).
    hit = [(p, line) for p, line, _ in err.issues if p == path]
    assert hit and hit[0][1] is not None
    line_text = text.splitlines()[hit[0][1] - 1]
    key = path.split(".")[-1].split("[")[0]
    assert key in line_text or line_text.startswith("["), (line_text, path)


def test_invalid_toml_names_line() -> None:
    err = _error(GOOD + "\n[[mission]\n")
    assert "not valid TOML" in str(err)
    assert err.issues[0][1] is not None


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario("/nonexistent/x.toml")


def test_cli_reports_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace('type = "F16"', 'type = "F99"'))
    r = run_cli("simulate", str(bad), "--hours", "0.1", "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "bad.toml" in r.stderr and "mission[0].type" in r.stderr
