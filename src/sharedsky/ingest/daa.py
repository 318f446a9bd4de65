"""DAIDALUS encounter files (`.daa` geodetic, `.xyz` local Euclidean).

Layout: optional `#` comment lines, then two header rows: the column names, then their
units (`[deg]`, `[ft]`, `[knot]`... or a bare word such as `unitless`); then one row per
aircraft and time. Fields are separated by commas and/or blanks. Rows that share a
`time` value form one step; the first aircraft of a step is its ownship (unless the
caller picks another). Position is `lat, lon, alt` or `sx, sy, sz`; velocity is
`trk, gs, vs` or `vx, vy, vz` (east, north, up). Optional: `alerter` (the alerter
index, 1 by default) and the sensor-uncertainty standard deviations `s_EW_std`,
`s_NS_std`, `s_EN_std`, `sz_std`, `v_EW_std`, `v_NS_std`, `v_EN_std`, `vz_std`;
`heading`/`airspeed` give the air velocity (`air_ve_kt`, `air_vn_kt`; NaN where absent):
on the ownship's row they define the wind (ground minus air velocity), which DAIDALUS
uses when it projects velocities.

Values are converted to sharedsky's units: NM (horizontal), ft (altitude), kt
(horizontal speed), fpm (vertical rate), s, deg. Errors (`DaaScenarioError`) name the
file, the line and the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

_FT_M = 0.3048
_NM_M = 1852.0
# unit -> (kind, factor to the kind's internal unit: NM, ft, kt, fpm, s, deg)
_H_LEN = {"nmi": 1.0, "nm": 1.0, "m": 1.0 / _NM_M, "km": 1000.0 / _NM_M, "ft": _FT_M / _NM_M}
_V_LEN = {"ft": 1.0, "m": 1.0 / _FT_M, "nmi": _NM_M / _FT_M, "nm": _NM_M / _FT_M, "km": 1000.0 / _FT_M}
_H_SPD = {"knot": 1.0, "kn": 1.0, "kts": 1.0, "m/s": 3600.0 / _NM_M, "kph": 1000.0 / _NM_M,
          "fpm": _FT_M * 60.0 / _NM_M, "nmi/s": 3600.0}
_V_SPD = {"fpm": 1.0, "ft/min": 1.0, "m/s": 60.0 / _FT_M, "knot": _NM_M / 60.0 / _FT_M,
          "kn": _NM_M / 60.0 / _FT_M, "nmi/s": _NM_M * 60.0 / _FT_M, "ft/s": 60.0}
_TIME = {"s": 1.0, "min": 60.0, "h": 3600.0, "ms": 0.001}
_ANGLE = {"deg": 1.0, "rad": 57.29577951308232}
_NONE = {"none": 1.0, "unitless": 1.0, "": 1.0}

#: column -> accepted units and their factor to the internal unit (None: no unit)
_COLUMNS: dict[str, dict[str, float]] = {
    "lat": _ANGLE, "lon": _ANGLE, "alt": _V_LEN,
    "sx": _H_LEN, "sy": _H_LEN, "sz": _V_LEN,
    "trk": _ANGLE, "gs": _H_SPD, "vs": _V_SPD,
    "vx": _H_SPD, "vy": _H_SPD, "vz": _V_SPD,
    "heading": _ANGLE, "airspeed": _H_SPD, "time": _TIME, "alerter": _NONE,
    "s_ew_std": _H_LEN, "s_ns_std": _H_LEN, "s_en_std": _H_LEN, "sz_std": _V_LEN,
    "v_ew_std": _H_SPD, "v_ns_std": _H_SPD, "v_en_std": _H_SPD, "vz_std": _V_SPD,
}

_SPLIT = re.compile(r"[,\s]+")


class DaaScenarioError(ValueError):
    """A bad `.daa` / `.xyz` file: the message names the file, line and column."""


@dataclass(frozen=True)
class DaaScenario:
    """Every row of an encounter file, as columns in sharedsky's units.

    `geodetic` tells whether `lat_deg`/`lon_deg` (True) or `x_nm`/`y_nm` (False) hold
    the positions. `steps` lists, per distinct time in file order, the row indices of
    that step in file order.
    """

    source: str
    geodetic: bool
    name: NDArray[np.str_]
    time_s: F64
    lat_deg: F64
    lon_deg: F64
    x_nm: F64
    y_nm: F64
    alt_ft: F64
    ve_kt: F64
    vn_kt: F64
    vs_fpm: F64
    alerter: NDArray[np.int64]
    air_ve_kt: F64
    air_vn_kt: F64
    h_pos_std_nm: F64  # per aircraft: sqrt of the largest eigenvalue of the EW/NS covariance
    v_pos_std_ft: F64
    h_vel_std_kt: F64  # likewise for the horizontal velocity
    v_vel_std_fpm: F64
    steps: list[NDArray[np.intp]] = field(repr=False)

    @property
    def track_deg(self) -> F64:
        return np.degrees(np.arctan2(self.ve_kt, self.vn_kt)) % 360.0

    @property
    def gs_kt(self) -> F64:
        return np.hypot(self.ve_kt, self.vn_kt)


def _eigen_bound(x_std: F64, y_std: F64, xy_std: F64) -> F64:
    """Square root of the largest eigenvalue of [[x^2, c], [c, y^2]], c = sign(xy) xy^2:
    the largest standard deviation in any horizontal direction (the SUM error radius)."""
    a, b, c = x_std**2, y_std**2, np.sign(xy_std) * xy_std**2
    return np.sqrt(np.maximum((a + b) / 2.0 + np.sqrt(((a - b) / 2.0) ** 2 + c**2), 0.0))


def _fields(line: str) -> list[str]:
    return [f for f in _SPLIT.split(line.strip()) if f != ""]


def parse_daa_text(text: str, source: str = "<daa>") -> DaaScenario:
    """Parse the text of a `.daa` or `.xyz` file."""
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) < 2:
        raise DaaScenarioError(f"{source}: expected two header rows (names, units), found {len(lines)}")
    (hn, header), (un, units_line) = lines[0], lines[1]
    names = [h.lower() for h in _fields(header)]
    units = [u.strip("[]").strip() for u in _fields(units_line)]
    if len(units) != len(names):
        raise DaaScenarioError(f"{source} line {un}: {len(units)} units for {len(names)} columns")
    if names[0] not in ("name", "id", "aircraft"):
        raise DaaScenarioError(f"{source} line {hn}: first column must be NAME, got {names[0]!r}")
    col = {c: k for k, c in enumerate(names)}
    geodetic = "lat" in col
    need_pos = ("lat", "lon", "alt") if geodetic else ("sx", "sy", "sz")
    polar = "trk" in col
    need_vel = ("trk", "gs", "vs") if polar else ("vx", "vy", "vz")
    for c in (*need_pos, *need_vel, "time"):
        if c not in col:
            raise DaaScenarioError(f"{source} line {hn}: missing column {c!r}")
    factor: dict[str, float] = {}
    for c, k in col.items():
        if c not in _COLUMNS:
            continue
        u = units[k]
        table = _COLUMNS[c]
        if u not in table:
            if u in _NONE and c in ("alerter",):
                factor[c] = 1.0
                continue
            raise DaaScenarioError(
                f"{source} line {un}: column {names[k]!r}: unit [{u}] not accepted "
                f"(expected one of {', '.join('[' + x + ']' for x in table)})")
        factor[c] = table[u]

    rows = lines[2:]
    n_rows = len(rows)
    data = {c: np.zeros(n_rows) for c in factor}
    ids: list[str] = []
    for r, (n, ln) in enumerate(rows):
        f = _fields(ln)
        if len(f) != len(names):
            raise DaaScenarioError(f"{source} line {n}: {len(f)} fields, the header has {len(names)}")
        ids.append(f[0])
        for c in factor:
            k = col[c]
            try:
                data[c][r] = float(f[k])
            except ValueError:
                raise DaaScenarioError(
                    f"{source} line {n}: column {names[k]!r}: not a number: {f[k]!r}") from None
    for c, x in factor.items():
        data[c] *= x
        if not np.isfinite(data[c]).all():
            bad = int(np.flatnonzero(~np.isfinite(data[c]))[0])
            raise DaaScenarioError(f"{source} line {rows[bad][0]}: column {c!r}: not finite")

    if polar:
        trk = np.radians(data["trk"])
        ve, vn = data["gs"] * np.sin(trk), data["gs"] * np.cos(trk)
        vs = data["vs"]
    else:
        ve, vn, vs = data["vx"], data["vy"], data["vz"]
    zero = np.zeros(n_rows)
    if "heading" in data and "airspeed" in data:
        hdg = np.radians(data["heading"])
        air_ve, air_vn = data["airspeed"] * np.sin(hdg), data["airspeed"] * np.cos(hdg)
    else:
        air_ve = air_vn = np.full(n_rows, np.nan)
    h_std = _eigen_bound(data.get("s_ew_std", zero), data.get("s_ns_std", zero), data.get("s_en_std", zero))
    hv_std = _eigen_bound(data.get("v_ew_std", zero), data.get("v_ns_std", zero), data.get("v_en_std", zero))
    v_std = np.abs(data.get("sz_std", zero))
    vv_std = np.abs(data.get("vz_std", zero))
    time = data["time"]
    # Steps: distinct times in order of first appearance, each with its rows in file order.
    _, first, inverse = np.unique(time, return_index=True, return_inverse=True)
    order_of_group = np.argsort(np.argsort(first))
    step_of_row = order_of_group[inverse]
    by_step = np.argsort(step_of_row, kind="stable")
    bounds = np.searchsorted(step_of_row[by_step], np.arange(first.size + 1))
    steps = [by_step[bounds[k]:bounds[k + 1]].astype(np.intp) for k in range(first.size)]
    alerter = data["alerter"].astype(np.int64) if "alerter" in data else np.ones(n_rows, dtype=np.int64)
    return DaaScenario(
        source=source, geodetic=geodetic, name=np.array(ids, dtype=str), time_s=time,
        lat_deg=data["lat"] if geodetic else zero, lon_deg=data["lon"] if geodetic else zero,
        x_nm=zero if geodetic else data["sx"], y_nm=zero if geodetic else data["sy"],
        alt_ft=data["alt"] if geodetic else data["sz"], ve_kt=ve, vn_kt=vn, vs_fpm=vs,
        alerter=alerter, air_ve_kt=air_ve, air_vn_kt=air_vn, h_pos_std_nm=h_std, v_pos_std_ft=v_std, h_vel_std_kt=hv_std,
        v_vel_std_fpm=vv_std, steps=steps,
    )


def read_daa(path: str | Path) -> DaaScenario:
    """Read a `.daa` / `.xyz` encounter file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DaaScenarioError(f"{p}: cannot read: {exc}") from exc
    return parse_daa_text(text, str(p))
