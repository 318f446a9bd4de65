"""The bundled list of aerodromes for the `[suppression.aerodromes]` rule.

Source: the `airportsdata` package (MIT, maintained, validated against national AIPs;
a dependency of sharedsky rather than a hand-made list). Each entry has a code, the
latitude and longitude of the aerodrome reference point and the elevation (feet above
mean sea level of the highest point of the landing area).

Which aerodromes count (`aerodromes` in the agreement):

* `"icao"` (default): entries whose code is an ICAO location indicator (ICAO Doc 7910:
  four letters A-Z), 17,093 in airportsdata 20260905: the aerodromes with published
  procedures and controlled traffic (Zurich LSZH, Geneva LSGG, ...);
* `"all"`: every entry, including the landing strips and seaplane bases that have only
  an FAA location identifier or an airportsdata pseudo-identifier (28,298).

The package warns that elevations are "often wrong" for small fields; an agreement
for a given region should check the aerodromes it relies on (`sharedsky check` prints
how many count and from which version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

_ICAO_LOCATION_INDICATOR = re.compile(r"^[A-Z]{4}$")


@dataclass(frozen=True)
class AerodromeList:
    """Aerodromes as columns (one row each)."""

    code: NDArray[np.str_]
    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    elevation_ft: NDArray[np.float64]
    source: str  # e.g. "airportsdata 20260905"

    def __len__(self) -> int:
        return int(self.code.shape[0])


@cache
def aerodromes(which: str = "icao") -> AerodromeList:
    """The aerodromes that count for the rule: `"icao"` or `"all"` (see module doc).

    Read once per process (about 0.1 s), then shared.
    """
    import airportsdata

    if which not in ("icao", "all"):
        raise ValueError(f"aerodromes must be 'icao' or 'all', not {which!r}")
    data = airportsdata.load("ICAO")
    rows = [a for code, a in sorted(data.items())
            if which == "all" or _ICAO_LOCATION_INDICATOR.match(code)]
    version = getattr(airportsdata, "__version__", "?")
    return AerodromeList(
        code=np.array([a["icao"] for a in rows], dtype=str),
        lat_deg=np.array([float(a["lat"]) for a in rows]),
        lon_deg=np.array([float(a["lon"]) for a in rows]),
        elevation_ft=np.array([float(a["elevation"] or 0.0) for a in rows]),
        source=f"airportsdata {version}",
    )
