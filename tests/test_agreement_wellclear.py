"""`[minima.wellclear]`: a DO-365 alerter per pair of parties, from a DAIDALUS `.conf` or
inline keys (issue 12, Build 5: "the agreement can assign a well-clear alerter (inline keys
or a .conf file) to a pair of parties instead of, or beside, cylinder minima")."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import astuple
from pathlib import Path

import pytest

from sharedsky.agreement import AgreementError, load_agreement, loads_agreement
from sharedsky.agreement.daa_conf import load_conf
from sharedsky.engine.wellclear import WcvTaumod

from conftest import SHARED_DATA as SHARED

CONFS = SHARED / "daidalus" / "configurations"

HEAD = textwrap.dedent("""\
    [agreement]
    name = "wc"
    default_party = "unknown"
    alert_levels = ["advisory", "warning"]

    [[party]]
    id = "blue"
    name = "Blue"
    [party.attribution]
    icao_ranges = [["ae0000", "afffff"]]

    [[party]]
    id = "red"
    name = "Red"
    [party.attribution]
    icao_ranges = [["140000", "15ffff"]]

    [[party]]
    id = "unknown"
    name = "Unknown"

    [minima_default]
    [[minima_default.level]]
    name = "warning"
    h_nm = 5
    v_ft = 1000
    t_s = 120
    """)


def agreement(tail: str, base: Path | None = None) -> str:
    return HEAD + textwrap.dedent(tail)


def test_inline_defaults_are_do365b_phase_i() -> None:
    """A bare `[minima.wellclear]` instead of levels: DO-365B without SUM, Phase I alerter,
    the same levels as DAIDALUS's own DO_365B_no_SUM.conf; the pair's cylinder minima off."""
    agr = loads_agreement(agreement("""
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        """))
    wc = agr.wellclear
    assert bool(wc) and len(wc.configs) == 1
    m = wc.matrix_for(agr.party_ids)
    b, r, u = (agr.party_index(p) for p in ("blue", "red", "unknown"))
    assert m[b, r] == m[r, b] == 1 and m[b, u] == 0 and m[b, b] == 0
    cfg, ref = wc.configs[0], load_conf(CONFS / "DO_365B_no_SUM.conf")
    mine, theirs = cfg.alerters[0].levels, ref.alerters[0].levels
    assert [lv.region for lv in mine] == [lv.region for lv in theirs]
    for x, y in zip(mine, theirs, strict=True):
        assert type(x.volume) is type(y.volume) is WcvTaumod
        assert (x.alerting_time_s, x.early_alerting_time_s) == (y.alerting_time_s, y.early_alerting_time_s)
        assert astuple(x.volume)[:4] == pytest.approx(astuple(y.volume)[:4])
    assert (cfg.lookahead_s, cfg.alerting_m, cfg.alerting_n, cfg.hysteresis_time_s, cfg.persistence_time_s,
            cfg.corrective_region) == (ref.lookahead_s, 2, 4, 5.0, 4.0, "MID")
    assert cfg.corrective_level(1) == 2
    # the pair's separation minima: none (a listed pair replaces the default)
    assert all(float(lv.h_nm[b, r]) == 0.0 for lv in agr.minima_levels())


def test_conf_file_beside_levels_relative_to_the_agreement(tmp_path: Path) -> None:
    """A `.conf` named relative to the agreement file, beside the pair's cylinder minima,
    with one of its alerters chosen by name."""
    (tmp_path / "daa").mkdir()
    (tmp_path / "daa" / "b.conf").write_text((CONFS / "DO_365B_no_SUM.conf").read_text())
    (tmp_path / "a.toml").write_text(agreement("""
        [[minima]]
        parties = ["blue", "red"]
        [[minima.level]]
        name = "warning"
        h_nm = 3
        v_ft = 1000
        t_s = 60
        [minima.wellclear]
        conf = "daa/b.conf"
        alerter = "DWC_Phase_II"
        """))
    agr = load_agreement(tmp_path / "a.toml")
    assert agr.wellclear.alerters == (2,) and agr.wellclear.sources == ("daa/b.conf",)
    lv = agr.wellclear.configs[0].alerters[1].levels[0].volume
    assert isinstance(lv, WcvTaumod) and lv.dthr_nm == pytest.approx(1500 * 0.3048 / 1852)
    b, r = agr.party_index("blue"), agr.party_index("red")
    assert float(agr.minima_levels()[1].h_nm[b, r]) == 3.0
    # `sharedsky check` names it
    from sharedsky.commands.check import summary

    (w,) = summary(agr)["wellclear"]
    assert (w["a"], w["b"], w["source"], w["alerter"]) == ("blue", "red", "daa/b.conf", "DWC_Phase_II")
    assert [x["region"] for x in w["levels"]] == ["NONE", "MID", "NEAR"]


def test_inline_levels_and_own_pairs() -> None:
    agr = loads_agreement(agreement("""
        [[minima]]
        parties = ["blue", "blue"]
        [minima.wellclear]
        lookahead_s = 120
        corrective_region = "NEAR"
        alerting_m = 0
        alerting_n = 0
        [[minima.wellclear.level]]
        region = "FAR"
        dthr_nm = 1.0
        zthr_ft = 800
        tthr_s = 30
        alerting_time_s = 40
        [[minima.wellclear.level]]
        region = "NEAR"
        dthr_nm = 0.5
        zthr_ft = 400
        tthr_s = 20
        alerting_time_s = 20
        early_alerting_time_s = 30
        """))
    cfg = agr.wellclear.configs[0]
    assert [lv.region for lv in cfg.alerters[0].levels] == ["FAR", "NEAR"]
    assert cfg.alerters[0].levels[0].early_alerting_time_s == 40.0
    assert cfg.corrective_level(1) == 2 and cfg.lookahead_s == 120.0
    b = agr.party_index("blue")
    assert agr.wellclear.matrix_for(agr.party_ids)[b, b] == 1
    # a snapshot naming parties in another order, or unknown ones, maps by name
    m = agr.wellclear.matrix_for(("x", "blue"))
    assert m.tolist() == [[0, 0], [0, 1]]


CASES = [
    ("bare pair", """
        [[minima]]
        parties = ["blue", "red"]
        """, "minima[0].level", "no level given"),
    ("conf and inline", """
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        conf = "x.conf"
        lookahead_s = 60
        """, "minima[0].wellclear.lookahead_s", "not both"),
    ("missing conf", """
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        conf = "nowhere.conf"
        """, "minima[0].wellclear.conf", "no such DAIDALUS configuration: nowhere.conf"),
    ("alerter without conf", """
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        alerter = "DWC_Phase_I"
        """, "minima[0].wellclear.alerter", "give conf too"),
    ("early before alerting", """
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        [[minima.wellclear.level]]
        region = "MID"
        dthr_nm = 0.66
        zthr_ft = 450
        tthr_s = 35
        alerting_time_s = 55
        early_alerting_time_s = 40
        """, "minima[0].wellclear.level[0].early_alerting_time_s", "shorter than the alerting time"),
    ("levels out of order", """
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        corrective_region = "FAR"
        [[minima.wellclear.level]]
        region = "NEAR"
        dthr_nm = 0.66
        zthr_ft = 450
        tthr_s = 35
        alerting_time_s = 25
        [[minima.wellclear.level]]
        region = "FAR"
        dthr_nm = 0.66
        zthr_ft = 700
        tthr_s = 35
        alerting_time_s = 55
        """, "minima[0].wellclear.level[1].region", "least severe first"),
    ("never corrective", """
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        corrective_region = "NEAR"
        [[minima.wellclear.level]]
        region = "FAR"
        dthr_nm = 0.66
        zthr_ft = 700
        tthr_s = 35
        alerting_time_s = 55
        """, "minima[0].wellclear.corrective_region", "no alert would ever be corrective"),
    ("bad region", """
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        [[minima.wellclear.level]]
        region = "ORANGE"
        dthr_nm = 0.66
        zthr_ft = 700
        tthr_s = 35
        alerting_time_s = 55
        """, "minima[0].wellclear.level[0].region", "NONE"),
    ("typo", """
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        lookahed_s = 100
        """, "minima[0].wellclear.lookahed_s", "did you mean 'lookahead_s'"),
]


@pytest.mark.parametrize(("name", "tail", "path", "words"), CASES, ids=[c[0] for c in CASES])
def test_errors_name_key_and_pair(name: str, tail: str, path: str, words: str) -> None:
    with pytest.raises(AgreementError) as info:
        loads_agreement(agreement(tail), file="wc.toml")
    msg = str(info.value)
    assert path in msg and words in msg, msg
    assert "wc.toml:" in msg


def test_bad_conf_names_file_and_line_and_exits_2(tmp_path: Path) -> None:
    """A broken `.conf`: the agreement's error names the conf file and its line, and
    `sharedsky check` exits 2."""
    text = (CONFS / "DO_365B_no_SUM.conf").read_text().splitlines()
    at = next(k for k, line in enumerate(text) if line.startswith("DWC_Phase_I_det_2_WCV_ZTHR"))
    text[at] = "DWC_Phase_I_det_2_WCV_ZTHR = 450.0 [fathoms]"
    (tmp_path / "bad.conf").write_text("\n".join(text) + "\n")
    (tmp_path / "a.toml").write_text(agreement("""
        [[minima]]
        parties = ["blue", "red"]
        [minima.wellclear]
        conf = "bad.conf"
        """))
    with pytest.raises(AgreementError) as info:
        load_agreement(tmp_path / "a.toml")
    msg = str(info.value)
    assert "minima[0].wellclear.conf" in msg and f"bad.conf line {at + 1}" in msg and "fathoms" in msg
    out = subprocess.run([sys.executable, "-m", "sharedsky.cli", "check", str(tmp_path / "a.toml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and f"bad.conf line {at + 1}" in out.stderr


def test_schema_documents_wellclear() -> None:
    from sharedsky.agreement import json_schema

    schema = json_schema()
    assert "WellClear" in schema["$defs"] and "wellclear" in schema["$defs"]["PairMinima"]["properties"]
    published = (Path(__file__).resolve().parents[1] / "docs" / "agreement.schema.json").read_text()
    assert '"WellClearLevel"' in published
