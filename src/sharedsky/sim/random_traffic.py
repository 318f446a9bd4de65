"""Random traffic at constant density in a square, for measuring conflict resolution.

The TU Delft set-up (Hoekstra, Sunil et al.): a 200 x 200 NM square filled with
straight-flying aircraft of one type, uniform in position and isotropic in direction,
replenished through its edges so the density stays constant. An aircraft entering at
the edge points inwards with the cosine-weighted angle of an isotropic flux, at a rate
of rho * v * perimeter / pi per second, which is exactly the rate at which isotropic
traffic of density rho leaves; each flies straight to a point 20 NM beyond the far edge
and is then gone. A run has a warm-up (10 min) and a measured window (30 min); only
pairs with both aircraft inside the square and first seen in the window are counted.
With `margin_nm`, traffic is created at the edge of a square that much wider on each side
(same density), so that no aircraft appears inside the measured square, possibly within
the minima of another already.

2-D: everyone level at FL300. 3-D: FL200-FL400; 70 % level at a flight level, the rest
changing level (to another level at least 2,000 ft away, flown at the type's climb or
descent rate from entry, then level).

Everything is drawn from one seeded generator, so a seed gives the same plans, and
running with and without resolution on the same plans compares like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.separation import Conflicts, Minima
from sharedsky.ingest.snapshot import Snapshot
from sharedsky.sim.metrics import MetricsCollector
from sharedsky.sim.missions import FlightPlan
from sharedsky.sim.performance import TYPES
from sharedsky.sim.scenario import PartySpec, Scenario

F64 = NDArray[np.float64]

SIDE_NM = 200.0
WARMUP_S = 600.0
MEASURE_S = 1800.0
EXIT_MARGIN_NM = 20.0
#: Density unit of the TU Delft studies: aircraft per 10,000 NM^2.
PER_10K_NM2 = 10_000.0
PARTY = "traffic"
ICAO_BLOCK = (0x100000, 0x1FFFFF)


@dataclass(frozen=True)
class Square:
    """The measured square: centre and side, with a flat local projection (NM)."""

    lat0_deg: float = 0.0
    lon0_deg: float = 10.0
    side_nm: float = SIDE_NM

    def to_latlon(self, x_nm: F64, y_nm: F64) -> tuple[F64, F64]:
        """East/north NM from the centre to degrees (equirectangular, exact enough at 200 NM)."""
        lat = self.lat0_deg + y_nm / 60.0
        lon = self.lon0_deg + x_nm / (60.0 * np.cos(np.radians(self.lat0_deg)))
        return lat, lon

    def to_xy(self, lat_deg: F64, lon_deg: F64) -> tuple[F64, F64]:
        x = (lon_deg - self.lon0_deg) * 60.0 * np.cos(np.radians(self.lat0_deg))
        y = (lat_deg - self.lat0_deg) * 60.0
        return x, y

    def inside(self, lat_deg: F64, lon_deg: F64) -> NDArray[np.bool_]:
        x, y = self.to_xy(lat_deg, lon_deg)
        h = self.side_nm / 2.0
        return (np.abs(x) <= h) & (np.abs(y) <= h)


@dataclass(frozen=True)
class TrafficSpec:
    """One random-traffic experiment: density, 2-D or 3-D, timing, type and speeds."""

    density: float  # aircraft per 10,000 NM^2
    three_d: bool = False
    seed: int = 0
    warmup_s: float = WARMUP_S
    measure_s: float = MEASURE_S
    type_code: str = "A320"
    gs_kt: tuple[float, float] = (420.0, 460.0)
    square: Square = field(default_factory=Square)
    #: Traffic is created in a square this much wider on every side than the measured
    #: one (0: at the measured square's edge, where an aircraft may appear already
    #: within the minima of another, a loss no resolution can prevent).
    margin_nm: float = 0.0

    @property
    def n_inside(self) -> float:
        """Aircraft expected inside the square at any time."""
        return self.density * self.square.side_nm ** 2 / PER_10K_NM2

    @property
    def half_gen_nm(self) -> float:
        """Half the side of the square traffic is created in."""
        return self.square.side_nm / 2.0 + self.margin_nm

    @property
    def duration_s(self) -> float:
        return self.warmup_s + self.measure_s


#: The one level of 2-D traffic (ft).
LEVEL_2D_FT = 30000.0
#: Altitude differences from that level counted in `SquareRun.level_excursion` (ft).
EXCURSION_FT = (1000.0, 5000.0)


def _levels(spec: TrafficSpec, rng: np.random.Generator, n: int) -> tuple[F64, F64]:
    """Start and end altitude (ft) of n aircraft."""
    if not spec.three_d:
        alt = np.full(n, LEVEL_2D_FT)
        return alt, alt.copy()
    start = (rng.integers(20, 41, n) * 1000.0).astype(np.float64)
    change = rng.random(n) >= 0.7
    step = rng.integers(2, 11, n) * 1000.0 * np.where(rng.random(n) < 0.5, 1.0, -1.0)
    end = start + step
    end = np.where((end < 20000.0) | (end > 40000.0), start - step, end)
    return start, np.where(change, end, start).astype(np.float64)


def _exit_point(x: F64, y: F64, trk_deg: F64, half: float) -> tuple[F64, F64]:
    """Where a straight line from (x, y) at trk leaves the square, plus the exit margin."""
    e, nn = np.sin(np.radians(trk_deg)), np.cos(np.radians(trk_deg))
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(e > 1e-12, (half - x) / e, np.where(e < -1e-12, (-half - x) / e, np.inf))
        ty = np.where(nn > 1e-12, (half - y) / nn, np.where(nn < -1e-12, (-half - y) / nn, np.inf))
    s = np.minimum(tx, ty) + EXIT_MARGIN_NM
    return x + s * e, y + s * nn


def random_traffic(spec: TrafficSpec) -> list[FlightPlan]:
    """The flight plans of one run: those inside at the start, then a Poisson stream of
    entries through the edges for the whole run, ordered by launch time."""
    rng = np.random.default_rng([spec.seed, 2024])
    sq = spec.square
    half = spec.half_gen_nm
    # Aircraft in the square at t = 0: a Poisson count, uniform positions and directions.
    n0 = int(rng.poisson(spec.density * (2.0 * half) ** 2 / PER_10K_NM2))
    x0 = rng.uniform(-half, half, n0)
    y0 = rng.uniform(-half, half, n0)
    trk0 = rng.uniform(0.0, 360.0, n0)
    gs0 = rng.uniform(*spec.gs_kt, n0)
    # Entries: isotropic flux rho * v / pi per NM of edge, the mean speed for v.
    rho = spec.density / PER_10K_NM2
    v_nm_s = float(np.mean(spec.gs_kt)) / 3600.0
    rate = rho * v_nm_s * 4.0 * (2.0 * half) / np.pi
    n1 = int(rng.poisson(rate * spec.duration_s))
    t1 = np.sort(rng.uniform(0.0, spec.duration_s, n1))
    edge = rng.integers(0, 4, n1)  # 0 south, 1 east, 2 north, 3 west: inward normal
    along = rng.uniform(-half, half, n1)
    inward_deg = np.array([0.0, 270.0, 180.0, 90.0])[edge]
    trk1 = (inward_deg + np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n1)))) % 360.0
    x1 = np.select([edge == 0, edge == 1, edge == 2], [along, np.full(n1, half), along], -half)
    y1 = np.select([edge == 0, edge == 1, edge == 2], [np.full(n1, -half), along, np.full(n1, half)],
                   along)
    gs1 = rng.uniform(*spec.gs_kt, n1)

    x = np.concatenate([x0, x1])
    y = np.concatenate([y0, y1])
    trk = np.concatenate([trk0, trk1])
    gs = np.concatenate([gs0, gs1])
    t = np.concatenate([np.zeros(n0), t1])
    alt0, alt1 = _levels(spec, rng, x.size)
    ex, ey = _exit_point(x, y, trk, half)
    lat, lon = sq.to_latlon(x, y)
    elat, elon = sq.to_latlon(ex, ey)
    size = ICAO_BLOCK[1] - ICAO_BLOCK[0] + 1
    if x.size > size:
        raise ValueError(f"random traffic: {x.size} aircraft exceed the ICAO block")
    plans = []
    for i in range(x.size):
        plans.append(FlightPlan(
            mission="random", kind="transit", party=PARTY, type=spec.type_code,
            callsign=f"RND{i:05d}", icao24=f"{ICAO_BLOCK[0] + i:06x}", launch_s=float(t[i]),
            lat_deg=float(lat[i]), lon_deg=float(lon[i]), alt_ft=float(alt0[i]),
            track_deg=float(trk[i]), gs_kt=float(gs[i]),
            waypoints=[(float(elat[i]), float(elon[i]), float(alt1[i]), float(gs[i]))],
            final_radius_nm=1.0,
        ))
    return plans


def square_scenario(spec: TrafficSpec) -> Scenario:
    """A scenario holding only what `Simulation` needs for random traffic: one party
    (same-party pairs checked), the type, no missions (the plans are given)."""
    start_s = 1.7e9  # a fixed instant: the engine needs an absolute time, never a clock
    return Scenario(
        name=f"random-{'3d' if spec.three_d else '2d'}-{spec.density:g}",
        start_s=start_s, parties={PARTY: PartySpec(PARTY, (ICAO_BLOCK,))}, bases={},
        types={spec.type_code: TYPES[spec.type_code]}, missions=(), check_same_party=True,
        pilot_delay_s=0.0, noncompliance=0.0,
    )


class SquareCollector(MetricsCollector):
    """The run's metrics, plus the measured window's counts inside the square: unique
    conflict pairs, unique losses of separation and each loss's intrusion severity."""

    def __init__(self, parties: tuple[str, ...], levels: Sequence[Minima], spec: TrafficSpec,
                 t0_s: float) -> None:
        super().__init__(parties, levels)
        self.spec = spec
        self.win = (t0_s + spec.warmup_s, t0_s + spec.duration_s)
        hard = levels[-1]
        self.h_nm, self.v_ft = float(hard.h_nm[0, 0]), float(hard.v_ft[0, 0])
        self.conflict_pairs: set[tuple[str, str]] = set()
        self.loss_pairs: dict[tuple[str, str], float] = {}  # pair -> severity so far
        self.inside_count: list[int] = []
        #: 2-D: aircraft-seconds inside more than each of EXCURSION_FT off the one level,
        #: and the largest difference: how far advice took the traffic off its level.
        self.off_level = np.zeros(len(EXCURSION_FT), dtype=np.int64)
        self.level_seen = 0  # aircraft-seconds inside with a known altitude
        self.max_off_level_ft = 0.0

    def observe(self, snap: Snapshot, conflicts: Conflicts, events: list[dict[str, Any]]) -> None:
        super().observe(snap, conflicts, events)
        t = snap.t_s
        if not self.win[0] <= t < self.win[1]:
            return
        inside = self.spec.square.inside(snap.lat_deg, snap.lon_deg)
        self.inside_count.append(int(np.count_nonzero(inside)))
        if not self.spec.three_d:
            off = np.abs(snap.alt_ft[inside] - LEVEL_2D_FT)
            off = off[~np.isnan(off)]
            self.level_seen += off.size
            self.off_level += (off[None, :] > np.asarray(EXCURSION_FT)[:, None]).sum(axis=1)
            if off.size:
                self.max_off_level_ft = max(self.max_off_level_ft, float(off.max()))
        if not len(conflicts):
            return
        both = inside[conflicts.a] & inside[conflicts.b]
        ida, idb = snap.id[conflicts.a], snap.id[conflicts.b]
        for k in np.flatnonzero(both).tolist():
            self.conflict_pairs.add((str(ida[k]), str(idb[k])))
        dz = np.nan_to_num(conflicts.dz_now_ft, nan=0.0)
        los = both & (conflicts.d_now_nm < self.h_nm) & (dz < self.v_ft)
        sev = np.minimum(1.0 - conflicts.d_now_nm / self.h_nm, 1.0 - dz / self.v_ft)
        for k in np.flatnonzero(los).tolist():
            key = (str(ida[k]), str(idb[k]))
            self.loss_pairs[key] = max(self.loss_pairs.get(key, 0.0), float(sev[k]))

    def level_excursion(self) -> dict[str, float] | None:
        """2-D: the share of aircraft-seconds inside the square (altitude known) more than
        1,000 and 5,000 ft off the one level, and the largest difference (ft); None in 3-D."""
        if self.spec.three_d:
            return None
        n = max(self.level_seen, 1)
        out = {f"share_off_{int(f)}ft": round(float(k) / n, 4)
               for f, k in zip(EXCURSION_FT, self.off_level.tolist(), strict=True)}
        return {**out, "max_off_ft": round(self.max_off_level_ft)}


#: Called after each step with the simulation and its step (a resolver flying the fleet).
Controller = Callable[[Any, Any], None]


@dataclass
class SquareRun:
    """What one run measured: counts in the window, and per-aircraft path and time."""

    conflicts: int
    losses: int
    severity: list[float]
    mean_inside: float
    path_nm: F64  # per plan: distance flown (NM) until gone (or the end)
    time_s: F64  # per plan: time airborne (s)
    done: NDArray[np.bool_]  # per plan: gone through the far edge before the end
    resolution: dict[str, Any]
    wall_s: float
    #: 2-D: how far advice took aircraft off the one level (`SquareCollector.level_excursion`).
    level_excursion: dict[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        sev = np.asarray(self.severity, dtype=float)
        return {
            "conflicts": self.conflicts, "losses": self.losses,
            "severity_mean": round(float(sev.mean()), 4) if sev.size else 0.0,
            "severe_losses": int(np.count_nonzero(sev > 0.5)),
            "mean_inside": round(self.mean_inside, 1), "resolution": self.resolution,
            "level_excursion": self.level_excursion, "wall_s": round(self.wall_s, 2),
        }


def run_square(spec: TrafficSpec, *, resolution: bool = False, pilot_delay_s: float = 0.0,
               noncompliance: float = 0.0, controller: Controller | None = None,
               plans: list[FlightPlan] | None = None) -> SquareRun:
    """Fly one experiment: sharedsky's advisories (`resolution`), none, or a `controller`
    (another resolver) called after each step; the same plans for the same spec."""
    import time

    from sharedsky.sim.run import Simulation

    wall0 = time.perf_counter()
    plans = plans if plans is not None else random_traffic(spec)
    scen = square_scenario(spec)
    sim = Simulation(scen, None, hours=spec.duration_s / 3600.0, seed=spec.seed, plans=plans,
                     record_every_s=None, airspace=False, resolution=resolution,
                     pilot_delay_s=pilot_delay_s, noncompliance=noncompliance)
    col = SquareCollector(sim.parties, sim.levels, spec, sim.t0_s)
    sim.metrics = col
    n = len(plans)
    path = np.zeros(n)
    airtime = np.zeros(n)
    while not sim.finished:
        st = sim.step()
        idx = st.fleet_index
        path[idx] += sim.fleet.gs[idx] * sim.step_s / 3600.0
        airtime[idx] += sim.step_s
        if controller is not None:
            controller(sim, st)
    sim.close()
    m = sim.metrics_dict()
    done = sim.fleet.status == 2
    return SquareRun(
        conflicts=len(col.conflict_pairs), losses=len(col.loss_pairs),
        severity=sorted(col.loss_pairs.values()),
        mean_inside=float(np.mean(col.inside_count)) if col.inside_count else 0.0,
        path_nm=path, time_s=airtime, done=done, resolution=m.get("resolution", {}),
        wall_s=time.perf_counter() - wall0, level_excursion=col.level_excursion(),
    )


def added_path(run: SquareRun, base: SquareRun) -> dict[str, float]:
    """Added track distance (NM) and time (s) per aircraft against the unresolved run,
    over the aircraft gone through the far edge in both runs."""
    both = run.done & base.done
    k = int(np.count_nonzero(both))
    if k == 0:
        return {"aircraft": 0, "added_nm": 0.0, "added_s": 0.0}
    return {
        "aircraft": k,
        "added_nm": round(float(np.mean(run.path_nm[both] - base.path_nm[both])), 3),
        "added_s": round(float(np.mean(run.time_s[both] - base.time_s[both])), 2),
    }
