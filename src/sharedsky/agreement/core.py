"""The loaded agreement: what the rest of sharedsky reads.

An `Agreement` is built only by `load_agreement` (or `agreement_from_document`) after
validation, so everything here can be trusted: parties exist, levels nest, geometry is
valid, attribution is unambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon

from sharedsky.agreement.attribution import Attributor
from sharedsky.agreement.model import (
    AgreementDocument,
    Alerting,
    Channels,
    DisclosureRule,
    Line,
    Notices,
    RecordRules,
    Schedule,
)
from sharedsky.agreement.wellclear_pairs import WellClearPairs
from sharedsky.engine.separation import Minima
from sharedsky.engine.suppression import SuppressionRules

_GEOD = Geod(ellps="WGS84")
M2_PER_NM2 = 1852.0**2


class AgreementError(ValueError):
    """An agreement that cannot be used; the message names file, key path, line, reason.

    `issues` lists every problem found as (key path, line or None, message).
    """

    def __init__(self, file: str, issues: Sequence[tuple[str, int | None, str]]) -> None:
        self.file = file
        self.issues = list(issues)
        text = "\n".join(
            f"{file}:{line}: {path}: {msg}" if line else f"{file}: {path}: {msg}"
            for path, line, msg in self.issues
        )
        if len(self.issues) > 1:
            text = f"{len(self.issues)} problems in {file}:\n{text}"
        super().__init__(text)


@dataclass(frozen=True)
class PartyInfo:
    """A party: `id` (used everywhere), display `name` and `colour` (#rrggbb)."""

    id: str
    name: str
    colour: str
    index: int


@dataclass(frozen=True)
class AirspaceSpec:
    """A protected airspace with its outline resolved (lon/lat WGS84, shapely)."""

    id: str
    name: str
    owner: str
    geometry: Polygon | MultiPolygon
    floor_ft: float
    ceiling_ft: float
    barred: list[str]
    horizon_s: float
    schedule: Schedule
    source: str  # where the outline came from, e.g. "country TUR"

    @cached_property
    def area_m2(self) -> float:
        """Area on the WGS84 ellipsoid (geodesic polygon area), square metres."""
        area, _ = _GEOD.geometry_area_perimeter(self.geometry)
        return abs(float(area))

    @property
    def area_km2(self) -> float:
        return self.area_m2 / 1e6

    @property
    def area_nm2(self) -> float:
        return self.area_m2 / M2_PER_NM2


@dataclass(frozen=True)
class Agreement:
    """A validated agreement. See docs/agreement.md for the file format."""

    path: Path | None
    name: str
    version: str
    description: str
    parties: tuple[PartyInfo, ...]
    default_party: str
    level_names: tuple[str, ...]
    airspaces: list[AirspaceSpec]
    channels: Channels
    document: AgreementDocument
    _minima: tuple[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]], ...]
    _alt_unknown_h: NDArray[np.bool_]
    _disclosure: dict[str, DisclosureRule]
    _attributor: Attributor = field(repr=False)
    #: `[suppression]`: volumes and the aerodrome rule, resolved (none by default)
    suppression: SuppressionRules = field(default_factory=SuppressionRules, repr=False)
    #: `[minima.wellclear]`: DO-365 well-clear alerters per pair of parties (none by default)
    wellclear: WellClearPairs = field(default_factory=WellClearPairs, repr=False)

    @property
    def party_ids(self) -> tuple[str, ...]:
        """Party ids; a party's position here is its int code in `Snapshot.party`."""
        return tuple(p.id for p in self.parties)

    def party_index(self, party_id: str) -> int:
        """Index of a party id in `party_ids` (KeyError if not declared)."""
        for p in self.parties:
            if p.id == party_id:
                return p.index
        raise KeyError(party_id)

    @property
    def default_index(self) -> int:
        return self.party_index(self.default_party)

    def attribute(
        self,
        icao24: Sequence[str] | np.ndarray,
        callsign: Sequence[str] | np.ndarray | None = None,
        source: Sequence[str] | np.ndarray | None = None,
    ) -> NDArray[np.int32]:
        """Party index of every aircraft, vectorised (see `agreement.attribution`)."""
        return self._attributor(icao24, callsign, source)

    @property
    def attributor(self) -> Attributor:
        return self._attributor

    @property
    def alerting(self) -> Alerting:
        """The alert lifecycle's rules (`[alerting]`)."""
        return self.document.alerting

    @property
    def notices(self) -> Notices:
        """How notified operations are checked (`[notices]`)."""
        return self.document.notices

    @property
    def line(self) -> Line:
        """What the service accepts from a party (`[line]`)."""
        return self.document.line

    @property
    def record(self) -> RecordRules:
        """Who vouches for the record (`[record]`)."""
        return self.document.record

    @property
    def origin(self) -> str:
        """The record's checkpoint origin: `[record] origin`, else one made from the name."""
        if self.document.record.origin:
            return self.document.record.origin
        return "sharedsky/" + (re.sub(r"[^a-z0-9.]+", "-", self.name.lower()).strip("-") or "agreement")

    def minima_levels(self) -> list[Minima]:
        """Separation minima per alert level, least to most severe (fresh copies), with
        the `[alerting] altitude_unknown` rule of every pair."""
        return [
            Minima(name, h.copy(), v.copy(), t.copy(), self._alt_unknown_h.copy())
            for name, (h, v, t) in zip(self.level_names, self._minima, strict=True)
        ]

    def check_same_party(self, party_id: str) -> bool:
        """Whether pairs of this party's own aircraft are checked at any level."""
        k = self.party_index(party_id)
        return any(bool(h[k, k] > 0 and t[k, k] >= 0) for h, _, t in self._minima)

    def disclosure_for(self, observer_party_id: str) -> DisclosureRule:
        """What `observer_party_id` may see of the other parties' aircraft."""
        self.party_index(observer_party_id)
        return self._disclosure.get(observer_party_id, self.document.disclosure_default)

    def airspace(self, airspace_id: str) -> AirspaceSpec:
        for a in self.airspaces:
            if a.id == airspace_id:
                return a
        raise KeyError(airspace_id)
