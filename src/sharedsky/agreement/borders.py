"""Bundled world borders: resolve a country code to its outline, or draw a basemap.

The package never reads ../shared/data at run time: the borders it needs ship in
`sharedsky/data/` (mledoze/countries, ODbL, derived from Natural Earth; see the README
there). The full-resolution file resolves airspaces; the simplified one is for maps.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

FULL = "world-countries.geojson.gz"
SIMPLIFIED = "world-countries-simplified.geojson.gz"


def _read(name: str) -> dict[str, Any]:
    data = resources.files("sharedsky").joinpath("data", name).read_bytes()
    return json.loads(gzip.decompress(data))


@lru_cache(maxsize=1)
def _index() -> dict[str, dict[str, Any]]:
    """Features of the full-resolution file by upper-case ISO 3166 alpha-3 and alpha-2."""
    out: dict[str, dict[str, Any]] = {}
    for feat in _read(FULL)["features"]:
        props = feat.get("properties") or {}
        for key in ("iso_a3", "iso_a2"):
            code = str(props.get(key) or "").upper()
            if code and code != "-99":
                out.setdefault(code, feat)
    return out


def country_codes() -> list[str]:
    """Every ISO alpha-3 code the bundled borders know."""
    return sorted(c for c in _index() if len(c) == 3)


@lru_cache(maxsize=64)
def country_geometry(code: str) -> Polygon | MultiPolygon:
    """The outline (lon/lat WGS84) of a country by ISO alpha-3 (or alpha-2) code.

    Raises KeyError for an unknown code. Self-touching rings in the source are repaired.
    """
    feat = _index().get(code.upper())
    if feat is None:
        raise KeyError(code)
    geom = shape(feat["geometry"])
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
        geom = shapely.union_all(polys)
    shapely.prepare(geom)
    return geom


def basemap_geojson() -> dict[str, Any]:
    """The simplified world borders as a GeoJSON FeatureCollection, for drawing only."""
    return _read(SIMPLIFIED)
