"""DAIDALUS configuration files (`.conf`), read as they are.

Why here: a `.conf` is a rule set the parties agree on (which volumes, alert times,
persistence), like the agreement file; the agreement will later be able to name one for
a pair of parties. Reading it is I/O and belongs beside the agreement's loader; the
engine (`sharedsky.engine.wellclear`) and the alerting (`sharedsky.alerting.wellclear`)
receive typed values in sharedsky's units and never see a file.

Format: one `key = value [unit]` per line; `#` starts a comment; blank lines are
ignored. Units in brackets are converted to sharedsky's internal units: horizontal
distances in NM, vertical distances in ft, times in s, speeds in kt, vertical rates in
fpm, angles in degrees. Keys that this step does not use (bands, kinematics, SUM
z-scores beyond the position ones, terminal-area logic...) are kept verbatim in
`WellClearConfig.extra`. Settings this step cannot honour are refused rather than
ignored: non-zero alert-level spreads (alerting by bands) and `dta_logic` other than 0.
A malformed line, an unknown unit, a unit of the wrong kind
for its key, a missing key an alerter needs, or an unsupported detector raises
`DaaConfError` naming the file, the key and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sharedsky.alerting.wellclear import REGIONS, Alerter, AlertLevel, WellClearConfig
from sharedsky.engine.bands import BandsConfig
from sharedsky.engine.wellclear import Cylinder, Tcas3d, Volume, WcvTaumod, WcvTaumodSum


class DaaConfError(ValueError):
    """A bad DAIDALUS configuration: the message names the file, key and line."""


# unit -> (kind, factor to the kind's SI base unit: m, s, m/s, rad-free deg, m/s^2)
_FT = 0.3048
_NM = 1852.0
UNITS: dict[str, tuple[str, float]] = {
    "m": ("length", 1.0), "km": ("length", 1000.0), "ft": ("length", _FT),
    "nmi": ("length", _NM), "nm": ("length", _NM), "mi": ("length", 1609.344),
    "s": ("time", 1.0), "min": ("time", 60.0), "h": ("time", 3600.0), "hr": ("time", 3600.0),
    "ms": ("time", 0.001),
    "knot": ("speed", _NM / 3600.0), "kn": ("speed", _NM / 3600.0), "kts": ("speed", _NM / 3600.0),
    "m/s": ("speed", 1.0), "fpm": ("speed", _FT / 60.0), "ft/min": ("speed", _FT / 60.0),
    "kph": ("speed", 1000.0 / 3600.0), "ft/s": ("speed", _FT), "nmi/s": ("speed", _NM),
    "deg": ("angle", 1.0), "rad": ("angle", 57.29577951308232),
    "deg/s": ("angular_rate", 1.0), "rad/s": ("angular_rate", 57.29577951308232),
    "m/s^2": ("accel", 1.0), "G": ("accel", 9.80665), "g": ("accel", 9.80665),
    "unitless": ("none", 1.0), "none": ("none", 1.0), "": ("none", 1.0),
}

_LINE = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*=\s*(.*?)\s*$")
_VALUE = re.compile(r"^(.*?)\s*(?:\[\s*([^\]]*?)\s*\])?\s*$")


@dataclass(frozen=True)
class ConfValue:
    """One `key = value [unit]` line."""

    key: str
    text: str
    unit: str | None
    line: int


class ConfFile:
    """Raw entries of a `.conf` and typed accessors whose errors name key and line."""

    def __init__(self, entries: dict[str, ConfValue], source: str) -> None:
        self.entries = entries
        self.source = source
        self.used: set[str] = set()

    def _err(self, key: str, msg: str) -> DaaConfError:
        e = self.entries.get(key)
        where = f"line {e.line}" if e else "(missing)"
        return DaaConfError(f"{self.source} {where}: {key}: {msg}")

    def has(self, key: str) -> bool:
        return key in self.entries

    def text(self, key: str) -> str:
        if key not in self.entries:
            raise self._err(key, "required key is missing")
        self.used.add(key)
        return self.entries[key].text

    def number(self, key: str, kind: str, to: float, default: float | None = None) -> float:
        """Value of `key` converted to the unit whose SI factor is `to` (kind checked)."""
        if key not in self.entries:
            if default is not None:
                return default
            raise self._err(key, "required key is missing")
        e = self.entries[key]
        self.used.add(key)
        try:
            x = float(e.text)
        except ValueError:
            raise self._err(key, f"not a number: {e.text!r}") from None
        unit = e.unit if e.unit is not None else ""
        if unit not in UNITS:
            raise self._err(key, f"unknown unit [{unit}]")
        u_kind, factor = UNITS[unit]
        if e.unit is None or u_kind == "none":
            # No unit given: DAIDALUS reads the number in the key's default unit,
            # which for the keys used here is the unit we ask for.
            return x
        if u_kind != kind:
            raise self._err(key, f"unit [{unit}] is a {u_kind}, expected a {kind}")
        return x * factor / to

    def integer(self, key: str, default: int | None = None) -> int:
        if key not in self.entries and default is not None:
            return default
        t = self.text(key)
        try:
            return int(float(t))
        except ValueError:
            raise self._err(key, f"not an integer: {t!r}") from None

    def boolean(self, key: str, default: bool | None = None) -> bool:
        if key not in self.entries and default is not None:
            return default
        t = self.text(key).strip().lower()
        if t in ("true", "t", "1", "yes"):
            return True
        if t in ("false", "f", "0", "no"):
            return False
        raise self._err(key, f"not a boolean: {t!r}")

    # unit helpers
    def nm(self, key: str, default: float | None = None) -> float:
        return self.number(key, "length", _NM, default)

    def ft(self, key: str, default: float | None = None) -> float:
        return self.number(key, "length", _FT, default)

    def s(self, key: str, default: float | None = None) -> float:
        return self.number(key, "time", 1.0, default)


def parse_conf_text(text: str, source: str = "<conf>") -> ConfFile:
    """Split a `.conf` into entries; a line that is not `key = value` is an error."""
    entries: dict[str, ConfValue] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LINE.match(line)
        if m is None:
            raise DaaConfError(f"{source} line {n}: expected 'key = value [unit]', got {raw.strip()!r}")
        key, rest = m.group(1), m.group(2)
        v = _VALUE.match(rest)
        assert v is not None  # the pattern matches any string
        value, unit = v.group(1).strip(), v.group(2)
        if key in entries:
            raise DaaConfError(f"{source} line {n}: {key}: repeated (first on line {entries[key].line})")
        entries[key] = ConfValue(key, value, unit, n)
    return ConfFile(entries, source)


def _volume(cf: ConfFile, prefix: str, det: str) -> Volume:
    """The detector `<prefix>_<det>` named by `<prefix>_load_core_detection_<det>`."""
    cls_key = f"{prefix}_load_core_detection_{det}"
    cls = cf.text(cls_key).rsplit(".", 1)[-1]
    p = f"{prefix}_{det}_"
    if cls == "WCV_TAUMOD":
        return WcvTaumod(cf.nm(p + "WCV_DTHR"), cf.ft(p + "WCV_ZTHR"), cf.s(p + "WCV_TTHR"),
                         cf.s(p + "WCV_TCOA"))
    if cls == "WCV_TAUMOD_SUM":
        return WcvTaumodSum(cf.nm(p + "WCV_DTHR"), cf.ft(p + "WCV_ZTHR"), cf.s(p + "WCV_TTHR"),
                            cf.s(p + "WCV_TCOA"),
                            h_pos_z=cf.number("h_pos_z_score", "none", 1.0, 0.0),
                            h_vel_z_min=cf.number("h_vel_z_score_min", "none", 1.0, 0.0),
                            h_vel_z_max=cf.number("h_vel_z_score_max", "none", 1.0, 0.0),
                            h_vel_z_distance_nm=cf.nm("h_vel_z_distance", 0.0),
                            v_pos_z=cf.number("v_pos_z_score", "none", 1.0, 0.0),
                            v_vel_z=cf.number("v_vel_z_score", "none", 1.0, 0.0))
    if cls in ("CDCylinder", "CD3D"):
        return Cylinder(cf.nm(p + "D"), cf.ft(p + "H"))
    if cls == "TCAS3D":
        levels, tau, tcoa, dmod, zthr, hmd = [], [], [], [], [], []
        k = 1
        while cf.has(f"{p}TCAS_level_{k}"):
            levels.append(cf.ft(f"{p}TCAS_level_{k}"))
            k += 1
        for k in range(1, len(levels) + 2):
            tau.append(cf.s(f"{p}TCAS_TAU_{k}"))
            tcoa.append(cf.s(f"{p}TCAS_TCOA_{k}"))
            dmod.append(cf.nm(f"{p}TCAS_DMOD_{k}"))
            zthr.append(cf.ft(f"{p}TCAS_ZTHR_{k}"))
            hmd.append(cf.nm(f"{p}TCAS_HMD_{k}"))
        return Tcas3d(tuple(levels), tuple(tau), tuple(tcoa), tuple(dmod), tuple(zthr), tuple(hmd),
                      cf.boolean(f"{p}TCAS_HMDFilter", False))
    raise cf._err(cls_key, f"detector {cls!r} is not supported (WCV_TAUMOD, WCV_TAUMOD_SUM, "
                           "CDCylinder, TCAS3D are)")


def _bands(cf: ConfFile, lookahead_s: float) -> BandsConfig:
    """The bands, kinematic and recovery parameters (defaults: DAIDALUS's)."""
    d = BandsConfig()
    kt, fpm, ms2 = _NM / 3600.0, _FT / 60.0, 1.0

    def num(key: str, kind: str, to: float, default: float) -> float:
        return cf.number(key, kind, to, default)

    return BandsConfig(
        lookahead_s=lookahead_s,
        left_hdir_deg=num("left_hdir", "angle", 1.0, d.left_hdir_deg),
        right_hdir_deg=num("right_hdir", "angle", 1.0, d.right_hdir_deg),
        min_airspeed_kt=num("min_airspeed", "speed", kt, d.min_airspeed_kt),
        min_hs_kt=num("min_hs", "speed", kt, d.min_hs_kt),
        max_hs_kt=num("max_hs", "speed", kt, d.max_hs_kt),
        min_vs_fpm=num("min_vs", "speed", fpm, d.min_vs_fpm),
        max_vs_fpm=num("max_vs", "speed", fpm, d.max_vs_fpm),
        min_alt_ft=cf.ft("min_alt", d.min_alt_ft),
        max_alt_ft=cf.ft("max_alt", d.max_alt_ft),
        step_hdir_deg=num("step_hdir", "angle", 1.0, d.step_hdir_deg),
        step_hs_kt=num("step_hs", "speed", kt, d.step_hs_kt),
        step_vs_fpm=num("step_vs", "speed", fpm, d.step_vs_fpm),
        step_alt_ft=cf.ft("step_alt", d.step_alt_ft),
        h_accel_ms2=num("horizontal_accel", "accel", ms2, d.h_accel_ms2),
        v_accel_ms2=num("vertical_accel", "accel", ms2, d.v_accel_ms2),
        turn_rate_degs=num("turn_rate", "angular_rate", 1.0, d.turn_rate_degs),
        bank_deg=num("bank_angle", "angle", 1.0, d.bank_deg),
        vertical_rate_fpm=num("vertical_rate", "speed", fpm, d.vertical_rate_fpm),
        min_h_recovery_nm=cf.nm("min_horizontal_recovery", d.min_h_recovery_nm),
        min_v_recovery_ft=cf.ft("min_vertical_recovery", d.min_v_recovery_ft),
        recovery=(cf.boolean("recovery_hdir", True), cf.boolean("recovery_hs", True),
                  cf.boolean("recovery_vs", True), cf.boolean("recovery_alt", True)),
        ca_bands=cf.boolean("ca_bands", d.ca_bands),
        ca_factor=num("ca_factor", "none", 1.0, d.ca_factor),
        h_nmac_nm=cf.nm("horizontal_nmac", d.h_nmac_nm),
        v_nmac_ft=cf.ft("vertical_nmac", d.v_nmac_ft),
        recovery_stability_s=cf.s("recovery_stability_time", d.recovery_stability_s),
        hysteresis_time_s=cf.s("hysteresis_time", 0.0),
        persistence_time_s=cf.s("persistence_time", 0.0),
        bands_persistence=cf.boolean("bands_persistence", False),
        alerting_m=cf.integer("alerting_m", 0),
        alerting_n=cf.integer("alerting_n", 0),
        persistence_preferred=(num("persistence_preferred_hdir", "angle", 1.0, 0.0),
                               num("persistence_preferred_hs", "speed", kt, 0.0),
                               num("persistence_preferred_vs", "speed", fpm, 0.0),
                               cf.ft("persistence_preferred_alt", 0.0)),
    )


def conf_from_text(text: str, source: str = "<conf>") -> WellClearConfig:
    """A `WellClearConfig` from the text of a DAIDALUS `.conf`."""
    cf = parse_conf_text(text, source)
    names = [a.strip() for a in cf.text("alerters").split(",") if a.strip()]
    if not names:
        raise cf._err("alerters", "no alerter named")
    alerters = []
    for name in names:
        levels = []
        k = 1
        while cf.has(f"{name}_alert_{k}_detector"):
            pre = f"{name}_alert_{k}_"
            region = cf.text(pre + "region").upper()
            if region not in REGIONS:
                raise cf._err(pre + "region", f"region {region!r} is not one of {', '.join(REGIONS)}")
            at = cf.s(pre + "alerting_time")
            eat = cf.s(pre + "early_alerting_time", at)
            for dim, kind, to in (("hdir", "angle", 1.0), ("hs", "speed", _NM / 3600.0),
                                  ("vs", "speed", _FT / 60.0), ("alt", "length", _FT)):
                if cf.number(f"{pre}spread_{dim}", kind, to, 0.0) != 0.0:
                    # Spreads make alerting depend on kinematic bands: the next step.
                    raise cf._err(f"{pre}spread_{dim}", "non-zero spreads (alerting by bands) "
                                                        "are not supported yet")
            levels.append(AlertLevel(region, at, max(at, eat), _volume(cf, name, cf.text(pre + "detector"))))
            k += 1
        if not levels:
            raise cf._err(f"{name}_alert_1_detector", f"alerter {name!r} has no alert level")
        alerters.append(Alerter(name, tuple(levels)))
    corrective = cf.text("corrective_region").upper() if cf.has("corrective_region") else "NEAR"
    if corrective not in REGIONS:
        raise cf._err("corrective_region", f"region {corrective!r} is not one of {', '.join(REGIONS)}")
    if cf.integer("dta_logic", 0) != 0:
        raise cf._err("dta_logic", "the DAA terminal area logic is not supported yet (use 0)")
    m, n = cf.integer("alerting_m", 0), cf.integer("alerting_n", 0)
    if m < 0 or n < 0:
        raise cf._err("alerting_m", "M and N must be >= 0")
    cfg = WellClearConfig(
        alerters=tuple(alerters),
        lookahead_s=cf.s("lookahead_time"),
        hysteresis_time_s=cf.s("hysteresis_time", 0.0),
        persistence_time_s=cf.s("persistence_time", 0.0),
        alerting_m=m,
        alerting_n=n,
        ownship_centric=cf.boolean("ownship_centric_alerting", True),
        corrective_region=corrective,
        extra={},
        bands=_bands(cf, cf.s("lookahead_time")),
    )
    extra = {k: v.text + (f" [{v.unit}]" if v.unit else "") for k, v in cf.entries.items()
             if k not in cf.used}
    cfg.extra.update(extra)
    if cfg.lookahead_s <= 0:
        raise cf._err("lookahead_time", "must be positive")
    return cfg


def load_conf(path: str | Path) -> WellClearConfig:
    """Read a DAIDALUS `.conf` file; errors name the file, the key and the line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DaaConfError(f"{p}: cannot read: {exc}") from exc
    return conf_from_text(text, str(p))
