"""Missions into flight plans: who launches when, from where, along which waypoints.

Planning runs once per flight before the simulation starts (plain Python is fine
here); the per-second work is in `sharedsky.sim.dynamics`, vectorised over aircraft.
Random timing, targets, levels and callsign numbers all come from one
`numpy.random.Generator`, so a seed fixes the whole day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyproj import Geod

from sharedsky.sim.performance import AircraftType
from sharedsky.sim.scenario import ORBIT_KINDS, Mission, Scenario

_GEOD = Geod(ellps="WGS84")
G_MS2 = 9.80665
MS_PER_KT = 1852.0 / 3600.0
DAY_S = 86400.0
LAND_RADIUS_NM = 1.5  # a returning aircraft is taken to have landed within this of its base


def turn_radius_nm(speed_kt: float, bank_deg: float) -> float:
    """Radius of a level turn at `bank_deg`: r = V^2 / (g tan bank)."""
    v = speed_kt * MS_PER_KT
    return v * v / (G_MS2 * np.tan(np.radians(bank_deg))) / 1852.0


def move(lat: float, lon: float, bearing_deg: float, dist_nm: float) -> tuple[float, float]:
    """The point `dist_nm` from (lat, lon) along the WGS84 geodesic at `bearing_deg`."""
    lon2, lat2, _ = _GEOD.fwd(lon, lat, bearing_deg, dist_nm * 1852.0)
    return float(lat2), float(lon2)


def bearing_dist(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """Initial bearing (deg) and geodesic distance (NM) from point 1 to point 2."""
    az, _, d = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(az % 360.0), float(d / 1852.0)


@dataclass
class FlightPlan:
    """One aircraft's day: where it appears, the waypoints it flies, an optional loop."""

    mission: str
    kind: str
    party: str
    type: str
    callsign: str
    icao24: str
    launch_s: float  # seconds after the scenario start
    lat_deg: float
    lon_deg: float
    alt_ft: float
    track_deg: float
    gs_kt: float
    waypoints: list[tuple[float, float, float, float]]  # lat, lon, alt_ft, speed_kt
    loop: tuple[int, int, float] | None = None  # first, last waypoint index, time on station (s)
    final_radius_nm: float = 0.5
    squawk: str = ""
    target: tuple[float, float] | None = None
    station: tuple[float, float, float] | None = None  # centre lat, lon and radius (NM)
    extra: dict[str, object] = field(default_factory=dict)


class _Addresses:
    """ICAO 24-bit addresses handed out in each party's blocks, never twice."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.next: dict[tuple[int, int], int] = {}

    def take(self, party: str, rng: np.random.Generator) -> str:
        blocks = self.scenario.parties[party].icao_blocks
        blk = blocks[int(rng.integers(len(blocks)))] if len(blocks) > 1 else blocks[0]
        n = self.next.get(blk, 0)
        # Spread addresses over the block (a fixed odd stride) rather than counting up.
        size = blk[1] - blk[0] + 1
        if n >= size:
            raise ValueError(f"party {party}: ICAO block {blk[0]:06x}-{blk[1]:06x} is exhausted")
        self.next[blk] = n + 1
        return f"{blk[0] + (n * 40503 + 17) % size:06x}"


def _racetrack(lat: float, lon: float, heading: float, leg_nm: float, r_nm: float,
               circle: bool) -> list[tuple[float, float]]:
    """Loop points, flown in order with right turns; semicircles as 45-degree chords."""
    pts = []
    if circle:
        for a in np.arange(0.0, 360.0, 30.0):
            pts.append(move(lat, lon, (heading + a) % 360.0, r_nm))
        return pts
    a_end = move(lat, lon, (heading + 180.0) % 360.0, leg_nm / 2.0)
    b_end = move(lat, lon, heading, leg_nm / 2.0)
    for centre, start in ((b_end, heading - 90.0), (a_end, heading + 90.0)):
        for a in np.arange(0.0, 181.0, 45.0):
            pts.append(move(centre[0], centre[1], (start + a) % 360.0, r_nm))
    return pts


def _callsign(prefix: str, sortie: int, k: int) -> str:
    return f"{prefix}{sortie % 9 + 1}{k + 1}"[:8]


def _launch_times(m: Mission, duration_s: float, rng: np.random.Generator) -> list[float]:
    """Fixed launches, plus random ones drawn day by day: `sorties` per day (or airway
    flights at `flights_per_hour`) within the mission's daily window."""
    lo, hi = m.window_s if m.window_s is not None else (0.0, DAY_S)
    times = [t for t in m.at_s if t < duration_s]
    for day in range(int(np.ceil(duration_s / DAY_S))):
        a, b = day * DAY_S + lo, day * DAY_S + min(hi, DAY_S)
        if m.kind == "airway" and m.flights_per_hour > 0:
            n = int(rng.poisson(m.flights_per_hour * (b - a) / 3600.0))
            times += list(rng.uniform(a, b, n))
        elif m.sorties:
            times += list(rng.uniform(a, b, m.sorties))
    return sorted(t for t in times if t < duration_s)


def plan_flights(scenario: Scenario, duration_s: float, rng: np.random.Generator) -> list[FlightPlan]:
    """Every flight of the scenario that launches within `duration_s`, ordered by launch."""
    addresses = _Addresses(scenario)
    plans: list[FlightPlan] = []
    for m in scenario.missions:
        for sortie, t0 in enumerate(_launch_times(m, duration_s, rng)):
            plans.extend(_sortie(scenario, m, sortie, t0, rng, addresses))
    plans.sort(key=lambda p: (p.launch_s, p.mission, p.callsign))
    return [p for p in plans if p.launch_s < duration_s]


def _return_legs(wps: list[tuple[float, float, float, float]], base_lat: float, base_lon: float,
                 elev_ft: float, t: AircraftType, alt: float, spd: float) -> None:
    """Fly home: a top-of-descent point sized by the type's descent rate, then the base."""
    last_lat, last_lon = wps[-1][0], wps[-1][1]
    brg, dist = bearing_dist(last_lat, last_lon, base_lat, base_lon)
    mean_kt = (spd + t.approach_kt) / 2.0
    desc_nm = max(alt - elev_ft, 0.0) / t.descent_fpm * mean_kt / 60.0 + 3.0
    if dist > desc_nm + 2.0:
        lat, lon = move(last_lat, last_lon, brg, dist - desc_nm)
        wps.append((lat, lon, alt, spd))
    wps.append((base_lat, base_lon, elev_ft + 1500.0, t.approach_kt))


def _sortie(scenario: Scenario, m: Mission, sortie: int, t0: float, rng: np.random.Generator,
            addresses: _Addresses) -> list[FlightPlan]:
    type_code = m.types[int(rng.integers(len(m.types)))] if len(m.types) > 1 else m.types[0]
    t = scenario.types[type_code]
    alt = float(m.altitude_ft[int(rng.integers(len(m.altitude_ft)))])
    alt = min(alt, t.ceiling_ft)
    spd = float(min(m.speed_kt or t.cruise_kt, t.max_kt))
    base = scenario.bases.get(m.base) if m.base else None
    party = scenario.parties[m.party]
    if m.callsign:
        prefix = m.callsign
    elif party.callsigns:
        prefix = party.callsigns[int(rng.integers(len(party.callsigns)))]
    else:
        prefix = m.party[:3].upper()

    wps: list[tuple[float, float, float, float]] = []
    loop = None
    final_r = 0.5
    target = None
    station = None
    start: tuple[float, float] | None = None
    start_alt = alt
    if m.kind == "airway":
        route = list(m.route)
        if m.both_ways and rng.random() < 0.5:
            route.reverse()
        start = route[0]
        wps = [(la, lo, alt, spd) for la, lo in route[1:]]
        callsign = f"{prefix}{int(rng.integers(100, 1000))}"[:8]
    else:
        callsign = ""
        if m.kind == "strike":
            assert m.target is not None
            tlat, tlon = m.target
            if m.target_radius_nm > 0:
                r = m.target_radius_nm * np.sqrt(rng.random())
                tlat, tlon = move(tlat, tlon, float(rng.uniform(0, 360)), float(r))
            target = (tlat, tlon)
            route = list(m.route if m.airborne else ())
            if m.airborne:
                start = route[0] if route else None
                route = route[1:]
            wps = [(la, lo, alt, spd) for la, lo in (*route, *m.via)]
            wps.append((tlat, tlon, alt, spd))
            wps += [(la, lo, alt, spd) for la, lo in reversed(m.via)]
        elif m.kind in ORBIT_KINDS:
            assert m.center is not None
            r_turn = turn_radius_nm(spd, t.bank_deg)
            radius = max(m.radius_nm or 0.0, 1.3 * r_turn)
            pts = _racetrack(m.center[0], m.center[1], m.heading_deg, m.leg_nm, radius,
                             m.pattern == "circle")
            station = (m.center[0], m.center[1],
                       radius + (0.0 if m.pattern == "circle" else m.leg_nm / 2.0))
            if m.airborne:
                start = pts[0]
                pts = pts[1:] + pts[:1]
            first = len(wps)
            wps += [(la, lo, alt, spd) for la, lo in pts]
            loop = (first, len(wps) - 1, m.on_station_s)
        elif m.kind == "transit":
            route = list(m.route)
            if m.airborne:
                start = route[0]
                route = route[1:]
            wps = [(la, lo, alt, spd) for la, lo in route]
        home = scenario.bases.get(m.to) if m.to else base
        if m.kind == "transit" and m.to is None:
            home = None  # a transit without a destination leaves along its route
        if home is not None:
            if wps:
                _return_legs(wps, home.lat_deg, home.lon_deg, home.elevation_ft, t, alt, spd)
            else:
                wps.append((home.lat_deg, home.lon_deg, home.elevation_ft + 1500.0, t.approach_kt))
            final_r = LAND_RADIUS_NM
    if start is None:
        if base is None:
            raise ValueError(f"mission {m.id}: nowhere to start (no base, not airborne)")
        start = (base.lat_deg, base.lon_deg)
        start_alt = base.elevation_ft + 500.0
        gs0 = t.approach_kt
    else:
        gs0 = spd
    first_wp = wps[0] if wps else (start[0], start[1], alt, spd)
    trk0, _ = bearing_dist(start[0], start[1], first_wp[0], first_wp[1])
    plans = []
    for k in range(m.aircraft):
        cs = callsign if m.kind == "airway" else _callsign(prefix, sortie, k)
        if m.kind == "airway" and k:
            cs = f"{callsign}{k}"[:8]
        plans.append(FlightPlan(
            mission=m.id, kind=m.kind, party=m.party, type=type_code, callsign=cs,
            icao24=addresses.take(m.party, rng), launch_s=float(t0 + k * m.spacing_s),
            lat_deg=start[0], lon_deg=start[1], alt_ft=start_alt, track_deg=trk0, gs_kt=gs0,
            waypoints=list(wps), loop=loop, final_radius_nm=final_r, squawk=m.squawk,
            target=target, station=station,
        ))
    return plans
