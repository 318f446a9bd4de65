"""Load and validate an agreement file: TOML -> typed model -> checked `Agreement`.

Validation runs in two passes and reports every problem it finds, each as
`FILE:LINE: key.path: what is wrong`:

1. shape (pydantic): unknown keys, wrong types, simple bounds (a distance <= 0);
2. meaning: parties referenced but not declared, duplicate ids, levels that do not
   nest, ambiguous attribution, airspace geometry (missing, unknown country, ring not
   closed, self-intersection), warning schedules that do not decrease, disclosure,
   suppression volumes (one shape each, a band whose floor is below its top).
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pydantic import BaseModel, ValidationError
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from sharedsky.agreement import borders
from sharedsky.agreement.aerodromes import aerodromes
from sharedsky.agreement.attribution import Attributor
from sharedsky.agreement.core import Agreement, AgreementError, AirspaceSpec, PartyInfo
from sharedsky.agreement.locate import format_path, key_lines, line_of
from sharedsky.agreement.model import (
    AgreementDocument,
    Airspace,
    DisclosureRule,
    LevelMinima,
    PartyPair,
    SuppressionVolume,
)
from sharedsky.agreement.wellclear_pairs import resolve_wellclear
from sharedsky.engine.suppression import Discs, Region, SuppressionRules

Loc = tuple[str | int, ...]

_PATTERN_HELP = {
    r"^[a-z][a-z0-9_-]*$": "must start with a lower-case letter and use only a-z, 0-9, '-', '_'",
    r"^[0-9a-fA-F]{6}$": "must be a 6-digit hex ICAO address such as 'ae01c5'",
    r"^#[0-9a-fA-F]{6}$": "must be a colour written #rrggbb",
    r"^[A-Za-z0-9][A-Za-z0-9_-]*$": "must use only letters, digits, '-', '_'",
}


def _all_field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for f in model.model_fields.values():
        for sub in _submodels(f.annotation):
            names |= _all_field_names(sub, seen)
    return names


def _submodels(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _submodels(arg)


_KNOWN_KEYS = sorted(_all_field_names(AgreementDocument))


class _Issues:
    """Collects (loc, message) problems and turns them into one AgreementError."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines = key_lines(text)
        self.items: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((loc, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise AgreementError(
                self.file,
                [(format_path(loc) or "(document)", line_of(self.lines, loc), msg)
                 for loc, msg in self.items],
            )


def _pydantic_message(err: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
        return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required key is missing"
    if kind == "greater_than":
        return f"must be > {ctx.get('gt'):g} (got {got!r})"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge'):g} (got {got!r})"
    if kind == "string_pattern_mismatch":
        help_ = _PATTERN_HELP.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
        return f"{got!r} {help_}"
    if kind in ("too_short", "too_long"):
        return f"{err['msg'].lower()}"
    return f"{err['msg']} (got {got!r})" if not isinstance(got, dict | list) else err["msg"]


def load_agreement(path: str | Path) -> Agreement:
    """Read, validate and resolve an agreement file (TOML). Raises AgreementError."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AgreementError(file, [("(file)", None, "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AgreementError(file, [("(file)", None, f"cannot read: {exc}")]) from None
    return loads_agreement(text, file=file, base_dir=path.parent)


def loads_agreement(text: str, file: str = "<agreement>", base_dir: Path | None = None) -> Agreement:
    """Validate an agreement given as TOML text; `base_dir` resolves `geojson` paths."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise AgreementError(file, [("(syntax)", line, f"not valid TOML: {msg}")]) from None
    issues = _Issues(file, text)
    try:
        doc = AgreementDocument.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            issues.add(tuple(err["loc"]), _pydantic_message(err))  # type: ignore[arg-type]
        issues.raise_if_any()
        raise  # pragma: no cover - raise_if_any always raises here
    return agreement_from_document(doc, issues, base_dir or Path("."), path=Path(file))


def agreement_from_document(
    doc: AgreementDocument, issues: _Issues, base_dir: Path, path: Path | None = None
) -> Agreement:
    """Check the meaning of a well-formed document and build the Agreement."""
    index: dict[str, int] = {}
    for k, p in enumerate(doc.party):
        if p.id in index:
            issues.add(("party", k, "id"), f"duplicate party id {p.id!r} (first at party[{index[p.id]}])")
        else:
            index[p.id] = k
    declared = ", ".join(index)

    def party_ref(loc: Loc, pid: str) -> bool:
        if pid in index:
            return True
        close = difflib.get_close_matches(pid, list(index), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        issues.add(loc, f"unknown party {pid!r} (declared: {declared}){hint}")
        return False

    party_ref(("agreement", "default_party"), doc.agreement.default_party)

    levels = list(doc.agreement.alert_levels)
    for k, name in enumerate(levels):
        if name in levels[:k]:
            issues.add(("agreement", "alert_levels", k), f"alert level {name!r} given twice")

    _check_attribution(doc, issues)
    minima = _build_minima(doc, issues, index, levels, party_ref)
    wellclear = resolve_wellclear(doc.minima, index, base_dir, issues.add)
    alt_unknown_h = _altitude_unknown_rule(doc, index, party_ref)
    suppression = _resolve_suppression(doc, issues, index, party_ref)
    for k, pid in enumerate(doc.notices.exempt):
        party_ref(("notices", "exempt", k), pid)
    seen_purpose: dict[str, int] = {}
    for k, pu in enumerate(doc.notices.purposes):
        if pu.name in seen_purpose:
            issues.add(("notices", "purposes", k, "name"),
                       f"purpose {pu.name!r} given twice (first at notices.purposes[{seen_purpose[pu.name]}])")
        seen_purpose.setdefault(pu.name, k)
    _check_resolution(doc, issues, levels, party_ref)
    resolved = [_resolve_airspace(k, a, issues, base_dir, party_ref) for k, a in enumerate(doc.airspace)]
    airspaces = [a for a in resolved if a is not None]
    seen_air: dict[str, int] = {}
    for k, a in enumerate(doc.airspace):
        if a.id in seen_air:
            issues.add(("airspace", k, "id"), f"duplicate airspace id {a.id!r} (first at airspace[{seen_air[a.id]}])")
        seen_air.setdefault(a.id, k)

    disclosure: dict[str, DisclosureRule] = {}
    _check_rule(("disclosure_default",), doc.disclosure_default, issues)
    first_obs: dict[str, int] = {}
    for k, d in enumerate(doc.disclosure):
        _check_rule(("disclosure", k), d, issues)
        for j, obs in enumerate(d.observers):
            if not party_ref(("disclosure", k, "observers", j), obs):
                continue
            if obs in first_obs:
                issues.add(("disclosure", k, "observers", j),
                           f"party {obs!r} already has a disclosure rule at disclosure[{first_obs[obs]}]")
                continue
            first_obs[obs] = k
            disclosure[obs] = DisclosureRule(mode=d.mode, within_nm=d.within_nm, within_s=d.within_s)

    for pid in doc.record.witnesses:
        party_ref(("record", "witnesses", pid), pid)
    q = doc.record.quorum
    if isinstance(q, int) and q > len(doc.record.witnesses):
        issues.add(("record", "quorum"), f"quorum {q} is more than the {len(doc.record.witnesses)} witnesses named")

    issues.raise_if_any()
    parties = tuple(PartyInfo(p.id, p.name, p.colour, k) for k, p in enumerate(doc.party))
    return Agreement(
        path=path,
        name=doc.agreement.name,
        version=doc.agreement.version,
        description=doc.agreement.description,
        parties=parties,
        default_party=doc.agreement.default_party,
        level_names=tuple(levels),
        airspaces=airspaces,
        channels=doc.channels,
        document=doc,
        _minima=minima,
        _alt_unknown_h=alt_unknown_h,
        _disclosure=disclosure,
        _attributor=_build_attributor(doc, index),
        suppression=suppression,
        wellclear=wellclear,
    )


def _check_resolution(doc: AgreementDocument, issues: _Issues, levels: list[str],
                      party_ref: Callable[[Loc, str], bool]) -> None:
    """`[resolution]`: a declared level, declared parties."""
    r = doc.resolution
    if r.level is not None and r.level not in levels:
        issues.add(("resolution", "level"), f"unknown alert level {r.level!r} (declared: {', '.join(levels)})")
    for k, rule in enumerate(r.rule):
        party_ref(("resolution", "rule", k, "party"), rule.party)
        if not rule.manoeuvres and not rule.exempt:
            issues.add(("resolution", "rule", k, "manoeuvres"),
                       "no manoeuvre accepted: say exempt = true if these aircraft are never to be asked")


def _check_rule(loc: Loc, rule: DisclosureRule, issues: _Issues) -> None:
    if rule.mode == "within":
        if rule.within_nm is None:
            issues.add(loc + ("within_nm",), "mode 'within' needs within_nm (NM, optionally with within_s)")
    elif rule.within_nm is not None or rule.within_s is not None:
        key = "within_nm" if rule.within_nm is not None else "within_s"
        issues.add(loc + (key,), f"only used with mode 'within' (mode is {rule.mode!r})")


# --- attribution ------------------------------------------------------------------


def _check_attribution(doc: AgreementDocument, issues: _Issues) -> None:
    """Refuse two parties claiming one aircraft at the same precedence."""
    owner_icao: dict[int, tuple[str, Loc]] = {}
    ranges: list[tuple[int, int, str, Loc]] = []
    prefixes: list[tuple[str, str, Loc]] = []
    sources: dict[str, tuple[str, Loc]] = {}
    for k, p in enumerate(doc.party):
        a = p.attribution
        base: Loc = ("party", k, "attribution")
        for j, h in enumerate(a.icao):
            v = int(h, 16)
            prev = owner_icao.get(v)
            if prev is not None and prev[0] != p.id:
                issues.add(base + ("icao", j),
                           f"ICAO {h.lower()} is also listed for party {prev[0]!r} at {format_path(prev[1])}: "
                           "one aircraft cannot belong to two parties")
            owner_icao.setdefault(v, (p.id, base + ("icao", j)))
        for j, (lo_h, hi_h) in enumerate(a.icao_ranges):
            lo, hi = int(lo_h, 16), int(hi_h, 16)
            if lo > hi:
                issues.add(base + ("icao_ranges", j), f"block [{lo_h}, {hi_h}] is empty: first address is after the last")
                continue
            ranges.append((lo, hi, p.id, base + ("icao_ranges", j)))
        for j, pre in enumerate(a.callsign_prefixes):
            if pre != pre.strip() or not pre.strip():
                issues.add(base + ("callsign_prefixes", j), f"prefix {pre!r} has blanks")
                continue
            prefixes.append((pre.upper(), p.id, base + ("callsign_prefixes", j)))
        for j, pat in enumerate(a.callsign_patterns):
            try:
                re.compile(pat)
            except re.error as exc:
                issues.add(base + ("callsign_patterns", j), f"not a valid regular expression {pat!r}: {exc}")
        for j, src in enumerate(a.sources):
            prev_s = sources.get(src)
            if prev_s is not None and prev_s[0] != p.id:
                issues.add(base + ("sources", j),
                           f"source {src!r} is also given for party {prev_s[0]!r} at {format_path(prev_s[1])}")
            sources.setdefault(src, (p.id, base + ("sources", j)))
    ranges.sort()
    reach: tuple[int, str, Loc] | None = None  # furthest block end seen so far
    for lo, hi, pid, loc in ranges:
        if reach is not None and lo <= reach[0] and reach[1] != pid:
            issues.add(loc, f"block [{lo:06x}, {hi:06x}] overlaps the block of party {reach[1]!r} at "
                            f"{format_path(reach[2])}: one aircraft cannot belong to two parties")
        if reach is None or hi > reach[0]:
            reach = (hi, pid, loc)
    for x in range(len(prefixes)):
        for y in range(x + 1, len(prefixes)):
            (pa, ia, la), (pb, ib, lb) = prefixes[x], prefixes[y]
            if ia != ib and (pa.startswith(pb) or pb.startswith(pa)):
                what = "is the same as" if pa == pb else "overlaps"
                issues.add(lb, f"callsign prefix {pb!r} {what} prefix {pa!r} of party {ia!r} at "
                               f"{format_path(la)}: one aircraft cannot belong to two parties")


def _build_attributor(doc: AgreementDocument, index: dict[str, int]) -> Attributor:
    icao, ranges, prefixes, patterns, sources = [], [], [], [], []
    for p in doc.party:
        k = index[p.id]
        a = p.attribution
        icao += [(h, k) for h in a.icao]
        ranges += [(lo, hi, k) for lo, hi in a.icao_ranges]
        prefixes += [(s, k) for s in a.callsign_prefixes]
        patterns += [(s, k) for s in a.callsign_patterns]
        sources += [(s, k) for s in a.sources]
    # Longer prefixes first is harmless (they never overlap between parties) and keeps
    # the order independent of the file.
    prefixes.sort(key=lambda t: (-len(t[0]), t[0]))
    return Attributor.build(index[doc.agreement.default_party], icao, ranges, prefixes, patterns, sources)


# --- minima -----------------------------------------------------------------------


def _check_levels(loc: Loc, entries: list[LevelMinima], levels: list[str], issues: _Issues) -> dict[int, tuple[int, LevelMinima]]:
    """Level entries by severity index; checks names, duplicates and nesting."""
    found: dict[int, tuple[int, LevelMinima]] = {}
    for j, lv in enumerate(entries):
        if lv.name not in levels:
            issues.add(loc + ("level", j, "name"),
                       f"unknown alert level {lv.name!r} (agreement.alert_levels: {', '.join(levels)})")
            continue
        s = levels.index(lv.name)
        if s in found:
            issues.add(loc + ("level", j, "name"), f"level {lv.name!r} given twice (first at level[{found[s][0]}])")
            continue
        found[s] = (j, lv)
    present = sorted(found)
    for less, more in zip(present, present[1:], strict=False):
        (jl, a), (_, b) = found[less], found[more]
        for key, unit in (("h_nm", "NM"), ("v_ft", "ft"), ("t_s", "s")):
            va, vb = getattr(a, key), getattr(b, key)
            if va < vb:
                issues.add(loc + ("level", jl, key),
                           f"{a.name} {key} {va:g} {unit} is tighter than {b.name} {vb:g} {unit}: levels must "
                           f"nest (a less severe level's h_nm, v_ft and t_s are all >= a more severe one's)")
    return found


def _build_minima(doc: AgreementDocument, issues: _Issues, index: dict[str, int],
                  levels: list[str], party_ref: Any) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    n = len(doc.party)
    h = np.zeros((len(levels), n, n))
    v = np.zeros((len(levels), n, n))
    t = np.full((len(levels), n, n), -1.0)
    default = _check_levels(("minima_default",), doc.minima_default.level, levels, issues)
    off = ~np.eye(n, dtype=bool) if not doc.minima_default.same_party else np.ones((n, n), dtype=bool)
    for s, (_, lv) in default.items():
        h[s][off], v[s][off], t[s][off] = lv.h_nm, lv.v_ft, lv.t_s
    seen: dict[frozenset[str], int] = {}
    for k, entry in enumerate(doc.minima):
        ok = all([party_ref(("minima", k, "parties", j), pid) for j, pid in enumerate(entry.parties)])
        found = _check_levels(("minima", k), entry.level, levels, issues)
        if not entry.level and entry.wellclear is None:
            issues.add(("minima", k, "level"),
                       "no level given: a pair needs at least one [[minima.level]] or a [minima.wellclear] alerter")
        key = frozenset(entry.parties)
        if key in seen:
            issues.add(("minima", k, "parties"),
                       f"pair {entry.parties[0]}/{entry.parties[1]} already given at minima[{seen[key]}]")
            continue
        seen[key] = k
        if not ok:
            continue
        a, b = index[entry.parties[0]], index[entry.parties[1]]
        # A listed pair replaces the default at every level: levels it omits are unchecked.
        for s in range(len(levels)):
            pair_lv = found.get(s, (0, None))[1]
            hv, vv, tv = (pair_lv.h_nm, pair_lv.v_ft, pair_lv.t_s) if pair_lv is not None else (0.0, 0.0, -1.0)
            h[s, a, b] = h[s, b, a] = hv
            v[s, a, b] = v[s, b, a] = vv
            t[s, a, b] = t[s, b, a] = tv
    return tuple((h[s], v[s], t[s]) for s in range(len(levels)))


def _altitude_unknown_rule(doc: AgreementDocument, index: dict[str, int], party_ref: Any) -> np.ndarray:
    """Per pair of parties: is an aircraft of unknown altitude checked horizontally?"""
    n = len(doc.party)
    rule = np.full((n, n), doc.alerting.altitude_unknown == "horizontal")
    for k, pair in enumerate(doc.alerting.altitude_unknown_pair):
        ok = all([party_ref(("alerting", "altitude_unknown_pair", k, "parties", j), pid)
                  for j, pid in enumerate(pair.parties)])
        if ok:
            a, b = index[pair.parties[0]], index[pair.parties[1]]
            rule[a, b] = rule[b, a] = pair.rule == "horizontal"
    return rule


# --- suppression ------------------------------------------------------------------


def _pairs_matrix(loc: Loc, pairs: list[PartyPair], index: dict[str, int], party_ref: Any) -> np.ndarray:
    """Symmetric (P, P) mask of the pairs a suppression rule applies to (all if none)."""
    n = len(index)
    if not pairs:
        return np.ones((n, n), dtype=bool)
    out = np.zeros((n, n), dtype=bool)
    for j, pair in enumerate(pairs):
        ok = all([party_ref(loc + ("pairs", j, m), pid) for m, pid in enumerate(pair)])
        if ok:
            a, b = index[pair[0]], index[pair[1]]
            out[a, b] = out[b, a] = True
    return out


def _pairs_text(pairs: list[PartyPair]) -> str:
    return "every pair of parties" if not pairs else ", ".join(f"{a}/{b}" for a, b in pairs)


def _resolve_suppression(doc: AgreementDocument, issues: _Issues, index: dict[str, int],
                         party_ref: Any) -> SuppressionRules:
    """The `[suppression]` section as regions: volumes in order, then the aerodrome rule."""
    regions: list[Region] = []
    seen: dict[str, int] = {}
    for k, v in enumerate(doc.suppression.volume):
        loc: Loc = ("suppression", "volume", k)
        if v.id in seen or v.id == "aerodromes":
            first = "is the reason the aerodrome rule gives" if v.id == "aerodromes" else \
                f"first at suppression.volume[{seen[v.id]}]"
            issues.add(loc + ("id",), f"volume id {v.id!r} is taken ({first})")
        seen.setdefault(v.id, k)
        region = _suppression_volume(loc, v, issues, _pairs_matrix(loc, v.pairs, index, party_ref))
        if region is not None:
            regions.append(region)
    rule = doc.suppression.aerodromes
    if rule is not None:
        loc = ("suppression", "aerodromes")
        applies = _pairs_matrix(loc, rule.pairs, index, party_ref)
        ads = aerodromes(rule.aerodromes)
        m = len(ads)
        discs = Discs.build(ads.lat_deg, ads.lon_deg, np.full(m, rule.radius_nm), np.full(m, -np.inf),
                            ads.elevation_ft + rule.height_ft, ads.code)
        which = "with an ICAO location indicator" if rule.aerodromes == "icao" else "of every kind"
        regions.append(Region(
            "aerodromes", "aerodromes", applies,
            f"within {rule.radius_nm:g} NM of any of {m:,} aerodromes {which} ({ads.source}) and below "
            f"{rule.height_ft:,g} ft above its elevation; {_pairs_text(rule.pairs)}",
            discs=discs))
    return SuppressionRules(tuple(regions))


def _suppression_volume(loc: Loc, v: SuppressionVolume, issues: _Issues, applies: np.ndarray) -> Region | None:
    ok = True
    if v.lower_ft >= v.upper_ft:
        issues.add(loc + ("upper_ft",), f"upper_ft {v.upper_ft:g} ft must be above lower_ft {v.lower_ft:g} ft")
        ok = False
    circle = v.centre is not None or v.radius_nm is not None
    if v.polygon is not None and circle:
        key = "centre" if v.centre is not None else "radius_nm"
        issues.add(loc + (key,), "give either polygon or a circle (centre and radius_nm), not both")
        return None
    if v.polygon is None and not circle:
        issues.add(loc, "volume has no shape: give polygon, or centre and radius_nm")
        return None
    band = f"{v.lower_ft:g} ft <= altitude < {v.upper_ft:g} ft; {_pairs_text(v.pairs)}"
    if v.polygon is not None:
        poly = _polygon(loc + ("polygon",), v.polygon, issues)
        if poly is None or not ok:
            return None
        shapely.prepare(poly)
        return Region(v.id, "polygon", applies, f"polygon of {len(v.polygon) - 1} points; {band}",
                      polygon=poly, lower_ft=v.lower_ft, upper_ft=v.upper_ft)
    if v.centre is None or v.radius_nm is None:
        missing = "radius_nm" if v.radius_nm is None else "centre"
        issues.add(loc + (missing,), f"a circle needs both centre and radius_nm ({missing} is missing)")
        return None
    lon, lat = v.centre
    if not (abs(lon) <= 180 and abs(lat) <= 90):
        issues.add(loc + ("centre",), f"centre {list(v.centre)} is not [lon, lat] in degrees "
                                       "(lon within ±180, lat within ±90)")
        return None
    if not ok:
        return None
    discs = Discs.build(np.array([lat]), np.array([lon]), np.array([v.radius_nm]), np.array([v.lower_ft]),
                        np.array([v.upper_ft]), np.array([v.id]))
    return Region(v.id, "circle", applies, f"circle of {v.radius_nm:g} NM around [{lon:g}, {lat:g}]; {band}",
                  discs=discs)


# --- airspace ---------------------------------------------------------------------


def _resolve_airspace(k: int, a: Airspace, issues: _Issues, base_dir: Path, party_ref: Any) -> AirspaceSpec | None:
    loc: Loc = ("airspace", k)
    ok = party_ref(loc + ("owner",), a.owner)
    for j, pid in enumerate(a.barred):
        ok &= party_ref(loc + ("barred", j), pid)
        if pid == a.owner:
            issues.add(loc + ("barred", j), f"the owner {pid!r} cannot be barred from its own airspace")
            ok = False
    if a.floor_ft >= a.ceiling_ft:
        issues.add(loc + ("ceiling_ft",), f"ceiling {a.ceiling_ft:g} ft must be above the floor {a.floor_ft:g} ft")
        ok = False
    stages = a.schedule.stages
    for j in range(1, len(stages)):
        if stages[j].lead_s >= stages[j - 1].lead_s:
            issues.add(loc + ("schedule", "stages", j, "lead_s"),
                       f"stage {stages[j].name!r} lead {stages[j].lead_s:g} s must be shorter than the "
                       f"previous stage {stages[j - 1].name!r} ({stages[j - 1].lead_s:g} s): leads must strictly decrease")
            ok = False
    names = [s.name for s in stages]
    for j, nm in enumerate(names):
        if nm in names[:j] or nm == "violation":
            issues.add(loc + ("schedule", "stages", j, "name"),
                       f"stage name {nm!r} " + ("is reserved for entry" if nm == "violation" else "given twice"))
            ok = False
    if stages and a.horizon_s < stages[0].lead_s:
        issues.add(loc + ("horizon_s",),
                   f"horizon {a.horizon_s:g} s is shorter than the first stage lead {stages[0].lead_s:g} s "
                   f"({stages[0].name!r} could never be given)")
        ok = False
    given = [key for key in ("country", "geojson", "polygon") if getattr(a, key) is not None]
    if not given:
        issues.add(loc, "airspace has no geometry: give one of country, geojson or polygon")
        return None
    if len(given) > 1:
        issues.add(loc + (given[1],), f"give only one of country, geojson, polygon (found {', '.join(given)})")
        return None
    geom, source = _geometry(loc, a, issues, base_dir)
    if geom is None or not ok:
        return None
    if a.buffer_nm > 0:
        geom = buffer_geodesic(geom, a.buffer_nm)
        source += f" + {a.buffer_nm:g} NM"
    shapely.prepare(geom)
    return AirspaceSpec(a.id, a.name or a.id, a.owner, geom, a.floor_ft, a.ceiling_ft, list(a.barred),
                        a.horizon_s, a.schedule, source)


def _geometry(loc: Loc, a: Airspace, issues: _Issues, base_dir: Path) -> tuple[Any, str]:
    if a.country is not None:
        try:
            return borders.country_geometry(a.country), f"country {a.country.upper()}"
        except KeyError:
            close = difflib.get_close_matches(a.country.upper(), borders.country_codes(), n=3)
            hint = f"; close: {', '.join(close)}" if close else ""
            issues.add(loc + ("country",),
                       f"unknown country code {a.country!r} (ISO 3166 alpha-3 such as TUR, SYR{hint})")
            return None, ""
    if a.polygon is not None:
        return _polygon(loc + ("polygon",), a.polygon, issues), "polygon"
    assert a.geojson is not None
    p = (base_dir / a.geojson)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        issues.add(loc + ("geojson",), f"cannot read GeoJSON {str(p)!r}: {exc}")
        return None, ""
    geoms = []
    try:
        feats = (data.get("features") if data.get("type") == "FeatureCollection"
                 else [data] if data.get("type") == "Feature" else [{"geometry": data}])
        for j, f in enumerate(feats):
            g = shape(f["geometry"])
            if not isinstance(g, Polygon | MultiPolygon):
                continue
            if not g.is_valid:
                issues.add(loc + ("geojson",), f"{p.name} feature {j}: invalid polygon: {explain_validity(g)}")
                return None, ""
            geoms.append(g)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        issues.add(loc + ("geojson",), f"{p.name} is not GeoJSON: {exc}")
        return None, ""
    if not geoms:
        issues.add(loc + ("geojson",), f"{p.name} has no Polygon or MultiPolygon")
        return None, ""
    return shapely.union_all(geoms), f"geojson {a.geojson}"


def _polygon(loc: Loc, ring: list[tuple[float, float]], issues: _Issues) -> Polygon | None:
    pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    bad = np.flatnonzero((np.abs(pts[:, 0]) > 180) | (np.abs(pts[:, 1]) > 90) | ~np.isfinite(pts).all(axis=1))
    if bad.size:
        j = int(bad[0])
        issues.add(loc + (j,), f"point {ring[j]} is not [lon, lat] in degrees (lon within ±180, lat within ±90)")
        return None
    if len(pts) < 4:
        issues.add(loc, f"a polygon needs at least 3 distinct points and the first repeated last (got {len(pts)})")
        return None
    if not np.array_equal(pts[0], pts[-1]):
        issues.add(loc, f"ring does not close: first point {list(ring[0])} differs from last point "
                        f"{list(ring[-1])} (repeat the first point at the end)")
        return None
    poly = Polygon(pts)
    if not poly.is_valid:
        issues.add(loc, f"invalid polygon: {explain_validity(poly)} (lon lat)")
        return None
    if poly.area == 0:
        issues.add(loc, "polygon has no area")
        return None
    return poly


def buffer_geodesic(geom: Polygon | MultiPolygon, distance_nm: float) -> Polygon | MultiPolygon:
    """Widen an outline by `distance_nm`, buffering in an azimuthal equidistant projection.

    The projection is centred on the outline; distances from the centre are exact, and
    the scale error across them grows as (d/R)^2 / 6: 0.3 % at 800 km (Turkey's extent),
    i.e. about 60 m on a 12 NM buffer.
    """
    c = geom.centroid
    fwd = Transformer.from_crs("EPSG:4326", f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +ellps=WGS84 +units=m",
                               always_xy=True)
    inv = Transformer.from_crs(fwd.target_crs, "EPSG:4326", always_xy=True)
    projected = shapely.transform(geom, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1])))
    widened = projected.buffer(distance_nm * 1852.0, quad_segs=16)
    return shapely.transform(widened, lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1])))
