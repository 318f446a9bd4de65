"""The example agreements load, resolve and are printed by `sharedsky check`; the JSON
Schema under docs/ matches the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import Point, shape

from sharedsky.agreement import json_schema, load_agreement, loads_agreement
from sharedsky.agreement.borders import basemap_geojson, country_geometry
from sharedsky.engine.separation import Minima

from conftest import REPO, run_cli

SYRIA = REPO / "examples" / "syria-2015.toml"
CIVIL = REPO / "examples" / "civil.toml"


@pytest.fixture(scope="module")
def syria():
    return load_agreement(SYRIA)


def test_syria_parties_and_default(syria) -> None:
    assert syria.party_ids == ("coalition", "russia", "turkey", "syria", "civil", "unknown")
    assert syria.default_party == "unknown"
    assert [p.colour for p in syria.parties][0] == "#1f77b4"
    assert syria.parties[1].name == "Russian Aerospace Forces"


def test_syria_minima_levels_nest_and_match_the_file(syria) -> None:
    levels = syria.minima_levels()
    assert [lv.name for lv in levels] == ["advisory", "warning"]
    assert all(isinstance(lv, Minima) for lv in levels)
    c, r, t = (syria.party_index(p) for p in ("coalition", "russia", "turkey"))
    adv, warn = levels
    assert (adv.h_nm[c, r], adv.v_ft[c, r], adv.t_s[c, r]) == (20, 2000, 300)
    assert (warn.h_nm[c, r], warn.v_ft[c, r], warn.t_s[c, r]) == (3, 1000, 120)
    assert (warn.h_nm[c, t], warn.v_ft[c, t]) == (5, 1000)
    # same-party pairs unchecked (formations, refuelling)
    assert not adv.checked.diagonal().any() and not warn.checked.diagonal().any()
    assert not syria.check_same_party("coalition")
    both = adv.checked & warn.checked
    assert (adv.h_nm[both] >= warn.h_nm[both]).all() and (adv.t_s[both] >= warn.t_s[both]).all()


def test_minima_levels_are_fresh_copies(syria) -> None:
    lv = syria.minima_levels()[0]
    lv.h_nm[0, 1] = 999.0
    assert syria.minima_levels()[0].h_nm[0, 1] == 20.0


def test_syria_turkish_airspace_from_bundled_borders(syria) -> None:
    (tur,) = syria.airspaces
    assert (tur.owner, tur.floor_ft, tur.ceiling_ft, tur.horizon_s) == ("turkey", 0, 60000, 300)
    assert tur.barred == ["russia", "syria"]
    assert [(s.name, s.lead_s) for s in tur.schedule.stages] == [("advisory", 300), ("warning", 120)]
    assert tur.schedule.repeat_inside_s == 30
    # Ankara inside, Aleppo (Syria) and Nicosia (Cyprus) outside
    assert tur.geometry.contains(Point(32.85, 39.93))
    assert not tur.geometry.contains(Point(37.16, 36.20))
    assert not tur.geometry.contains(Point(33.36, 35.17))
    # Turkey's land area is about 770,000 km2 (783,562 with inland water)
    assert 760_000 < tur.area_km2 < 800_000
    assert tur.area_nm2 == pytest.approx(tur.area_km2 / 1.852**2)


def test_bundled_borders_match_the_shared_data_at_full_resolution(shared_data: Path) -> None:
    src = json.loads((shared_data / "borders" / "world-countries.geojson").read_text())
    feat = next(f for f in src["features"] if f["properties"]["iso_a3"] == "TUR")
    ref = shape(feat["geometry"])
    ours = country_geometry("TUR")
    assert ours.equals_exact(ref, 0.0) or ours.symmetric_difference(ref).area < 1e-12
    geod = Geod(ellps="WGS84")
    assert abs(geod.geometry_area_perimeter(ours)[0]) == pytest.approx(
        abs(geod.geometry_area_perimeter(ref)[0]), rel=1e-9)


def test_simplified_basemap_is_small_and_complete() -> None:
    bm = basemap_geojson()
    assert bm["type"] == "FeatureCollection"
    codes = {f["properties"]["iso_a3"] for f in bm["features"]}
    assert {"TUR", "SYR", "USA", "RUS"} <= codes
    tur = next(shape(f["geometry"]) for f in bm["features"] if f["properties"]["iso_a3"] == "TUR")
    full = country_geometry("TUR")
    n_full = sum(len(p.exterior.coords) for p in full.geoms)
    n_simple = sum(len(p.exterior.coords) for p in getattr(tur, "geoms", [tur]))
    assert n_simple < n_full / 5
    assert tur.symmetric_difference(full).area / full.area < 0.02


def test_syria_channels_and_disclosure(syria) -> None:
    ch = syria.channels
    assert ch.distress_mhz == [121.5, 243.0]
    assert ch.language == "English" and ch.notice_lead_s == 86400 and ch.ack_within_s == 60
    assert ch.hotline
    co = syria.disclosure_for("coalition")
    assert (co.mode, co.within_nm, co.within_s) == ("within", 50, 300)
    assert syria.disclosure_for("russia").mode == "within"
    assert syria.disclosure_for("turkey").mode == "all"
    assert syria.disclosure_for("civil").mode == "conflict"
    with pytest.raises(KeyError):
        syria.disclosure_for("nato")


def test_civil_checks_every_pair_like_all_pairs() -> None:
    civil = load_agreement(CIVIL)
    (lv,) = civil.minima_levels()
    assert lv.checked.all()
    assert np.all(lv.h_nm == 5) and np.all(lv.v_ft == 1000) and np.all(lv.t_s == 300)
    assert civil.check_same_party("civil")
    assert list(civil.attribute(np.array(["4b1812", "~0a1b2c", ""]), np.array(["SWR1", "", ""]))) == [0, 1, 1]


def test_geojson_airspace_relative_to_the_agreement(tmp_path: Path) -> None:
    (tmp_path / "zones").mkdir()
    gj = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
            [[35.0, 35.0], [36.0, 35.0], [36.0, 36.0], [35.0, 36.0], [35.0, 35.0]]]}}]}
    (tmp_path / "zones" / "box.geojson").write_text(json.dumps(gj))
    text = (SYRIA.read_text().replace('country = "TUR"', 'geojson = "zones/box.geojson"'))
    (tmp_path / "a.toml").write_text(text)
    agr = load_agreement(tmp_path / "a.toml")
    assert agr.airspaces[0].geometry.contains(Point(35.5, 35.5))
    assert agr.airspaces[0].source == "geojson zones/box.geojson"


def test_buffer_widens_by_the_distance() -> None:
    text = SYRIA.read_text().replace('country = "TUR"', 'polygon = [[35,35],[36,35],[36,36],[35,36],[35,35]]\nbuffer_nm = 12')
    agr = loads_agreement(text)
    g = agr.airspaces[0].geometry
    geod = Geod(ellps="WGS84")
    # 11.9 NM south of the southern edge is inside, 12.1 NM is outside
    for d_nm, inside in ((11.9, True), (12.1, False)):
        lon, lat, _ = geod.fwd(35.5, 35.0, 180.0, d_nm * 1852.0)
        assert g.contains(Point(lon, lat)) == inside


def test_schema_under_docs_matches_the_model() -> None:
    published = json.loads((REPO / "docs" / "agreement.schema.json").read_text())
    assert published == json_schema(), (
        "docs/agreement.schema.json drifted from the model: regenerate with "
        "`sharedsky check --schema > docs/agreement.schema.json`")


def test_schema_refuses_unknown_keys() -> None:
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Party"]["additionalProperties"] is False
    assert schema["$defs"]["LevelMinima"]["properties"]["h_nm"]["exclusiveMinimum"] == 0


def test_check_prints_both_examples() -> None:
    r = run_cli("check", str(SYRIA))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for word in ("coalition", "russia", "turkey", "syria", "civil", "unknown (default)",
                 "20/2000/300", "3/1000/120", "5/1000/120", "Airspace tur", "km²", "NM²",
                 "0 ft to 60,000 ft", "121.5 MHz", "243 MHz", "English", "within 50 NM"):
        assert word in out, word
    r = run_cli("check", str(CIVIL))
    assert r.returncode == 0, r.stderr
    assert "5/1000/300" in r.stdout and "Protected airspaces: none" in r.stdout


def test_check_json_summary() -> None:
    r = run_cli("check", "--json", str(SYRIA))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["airspaces"][0]["id"] == "tur" and 760_000 < s["airspaces"][0]["area_km2"] < 800_000
    warn = {(m["a"], m["b"]): m for m in s["minima"]["warning"]}
    assert warn[("coalition", "russia")]["h_nm"] == 3


def test_check_refuses_invalid_with_status_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SYRIA.read_text().replace('barred = ["russia", "syria"]', 'barred = ["rusia", "syria"]'))
    r = run_cli("check", str(bad))
    assert r.returncode == 2
    assert r.stdout == ""
    assert f"{bad}:" in r.stderr and "airspace[0].barred[0]: unknown party 'rusia'" in r.stderr
    assert "did you mean 'russia'" in r.stderr
