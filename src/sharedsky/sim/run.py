"""The fast-time loop: fly the fleet, feed the same engine as live data, record the day.

Each simulated second the fleet is advanced (vectorised), a `Snapshot` of every
airborne aircraft is built with party codes from the agreement's own attribution of
the simulated ICAO addresses and callsigns, the one assessment step
(`sharedsky.alerting.step.Assessment`, as live and in replay) turns it into events, and
the metrics collector counts them.
Nothing here reads a clock: a seed gives the same day, byte for byte.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.alerting.advisories import GS_MAX_KT, AdvisoryTracker
from sharedsky.alerting.notice_book import NoticeBook
from sharedsky.alerting.step import Assessment
from sharedsky.engine.separation import Conflicts, Minima
from sharedsky.ingest.notices import NoticeError, parse_notice
from sharedsky.ingest.snapshot import SEL_ALT_FT, Snapshot
from sharedsky.sim.dynamics import Fleet
from sharedsky.sim.metrics import MetricsCollector
from sharedsky.sim.missions import FlightPlan, plan_flights
from sharedsky.sim.pilots import Pilots
from sharedsky.sim.scenario import Scenario


@dataclass
class SimStep:
    """One simulated instant: the snapshot the engine saw and the events it produced."""

    t_s: float
    snapshot: Snapshot
    events: list[dict[str, Any]]
    fleet_index: np.ndarray  # fleet indices of the snapshot's rows


@dataclass
class SimResult:
    """A finished run: the recorded traffic, its metrics and every event."""

    traffic: pd.DataFrame
    metrics: dict[str, Any]
    events: list[dict[str, Any]]
    plans: list[FlightPlan]
    parties: tuple[str, ...]
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _levels_without_agreement(parties: tuple[str, ...], same_party: bool) -> list[Minima]:
    return [Minima.uniform(len(parties), 5.0, 1000.0, 300.0, same_party=same_party,
                           name="conflict")]


class Simulation:
    """A scenario flown under an agreement (or, without one, 5 NM / 1,000 ft between parties).

    Use `step()` for one instant at a time, `run()` for the whole day, or `batches()`
    for the per-second report tables a real party would push.
    """

    def __init__(self, scenario: Scenario, agreement: Any | None = None, *, hours: float = 1.0,
                 seed: int = 0, step_s: float = 1.0, record_every_s: float | None = 1.0,
                 detection: bool = True, airspace: bool = True,
                 plans: list[FlightPlan] | None = None, resolution: bool | None = None,
                 pilot_delay_s: float | None = None, noncompliance: float | None = None) -> None:
        if not hours > 0:
            raise ValueError(f"hours must be positive, got {hours}")
        if not step_s > 0:
            raise ValueError(f"step_s must be positive, got {step_s}")
        self.scenario = scenario
        self.agreement = agreement
        self.seed = seed
        self.step_s = float(step_s)
        self.duration_s = float(hours) * 3600.0
        self.rng = np.random.default_rng(seed)
        self.plans = plans if plans is not None else plan_flights(scenario, self.duration_s, self.rng)
        self.fleet = Fleet(self.plans, scenario.types, scenario.start_s)
        self.t0_s = scenario.start_s
        self.t_s = scenario.start_s
        self._n = 0
        self.detection = detection
        self.attribution_mismatches: list[dict[str, str]] = []
        if agreement is not None:
            self.parties = tuple(agreement.party_ids)
            codes = np.asarray(agreement.attribute(self.fleet.icao24.astype(str),
                                                   self.fleet.callsign.astype(str)), dtype=np.int32)
            self.levels = list(agreement.minima_levels())
            named = np.array([self.parties[c] for c in codes], dtype=object)
            bad = np.flatnonzero(named != self.fleet.party_name)
            self.attribution_mismatches = [
                {"icao24": str(self.fleet.icao24[i]), "callsign": str(self.fleet.callsign[i]),
                 "scenario_party": str(self.fleet.party_name[i]), "attributed": str(named[i])}
                for i in bad[:20]
            ]
            self._n_mismatch = int(bad.size)
        else:
            self.parties = scenario.party_ids
            code = {p: n for n, p in enumerate(self.parties)}
            codes = np.array([code[p] for p in self.fleet.party_name], dtype=np.int32)
            self.levels = _levels_without_agreement(self.parties, scenario.check_same_party)
            self._n_mismatch = 0
        self.party_code = codes
        #: The scenario's notified operations, checked against each other as the line would
        #: (the strategic conflicts, at their notice times), and watched by the step.
        self.notice_book, self.notice_events = _notify(scenario, agreement)
        self.assessment = (Assessment.for_agreement(agreement, levels=self.levels, airspace=airspace,
                                                    notice_book=self.notice_book,
                                                    resolution=resolution is not False)
                           if detection else None)
        if self.assessment is not None and resolution and self.assessment.advisories is None:
            # Asked for without an agreement that enables it: the defaults, against the
            # most severe level.
            self.assessment.advisories = AdvisoryTracker(self.levels[-1])
        self.pilots = Pilots(self.fleet, self.levels[-1],
                             scenario.pilot_delay_s if pilot_delay_s is None else pilot_delay_s,
                             scenario.noncompliance if noncompliance is None else noncompliance,
                             seed)
        self.watch = self.assessment.airspace if self.assessment is not None else None
        self.metrics = MetricsCollector(self.parties, self.levels)
        self.record_every_s = record_every_s
        self._rec: list[tuple[float, np.ndarray, np.ndarray]] = []
        self._next_record_s = self.t0_s
        self.events: list[dict[str, Any]] = list(self.notice_events)

    # -- stepping ----------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.t_s - self.t0_s >= self.duration_s - 1e-9

    def snapshot(self) -> tuple[Snapshot, np.ndarray]:
        """The engine's view of every airborne aircraft now, and their fleet indices."""
        f = self.fleet
        idx = f.airborne
        n = idx.size
        snap = Snapshot(
            t_s=self.t_s, id=f.icao24[idx], party=self.party_code[idx],
            lat_deg=f.lat[idx], lon_deg=f.lon[idx], alt_ft=f.alt[idx], track_deg=f.trk[idx],
            gs_kt=f.gs[idx], vs_fpm=f.vs[idx], last_report_s=np.full(n, self.t_s),
            parties=self.parties, callsign=f.callsign[idx], squawk=f.squawk[idx],
            # The type's top speed (speed advice stays within it) and the level selected.
            extra={GS_MAX_KT: f.max_kt[idx], SEL_ALT_FT: f.sel_alt[idx]},
        )
        return snap, idx

    def step(self) -> SimStep:
        """Advance one step (the first call gives the start instant) and run the engine."""
        if self._n > 0:
            self.fleet.advance(self.t_s, self.step_s)
            self.t_s = self.t0_s + self._n * self.step_s
        self._n += 1
        self.fleet.launch(self.t_s)
        snap, idx = self.snapshot()
        events: list[dict[str, Any]] = []
        conflicts = Conflicts.empty()
        if self.assessment is not None:
            result = self.assessment.step(snap)
            conflicts, events = result.conflicts, result.events
            if self.assessment.advisories is not None:
                self.pilots.fly(self.t_s, events, self.assessment.advisories.lead_s)
        self.metrics.observe(snap, conflicts, events)
        self.events.extend(events)
        if self.record_every_s is not None and self.t_s >= self._next_record_s - 1e-9:
            self._record(idx)
            self._next_record_s += self.record_every_s
        return SimStep(self.t_s, snap, events, idx)

    def _record(self, idx: np.ndarray) -> None:
        f = self.fleet
        state = np.vstack([f.lat[idx], f.lon[idx], f.alt[idx], f.gs[idx], f.trk[idx], f.vs[idx]])
        self._rec.append((self.t_s, idx.astype(np.int32), state))

    def close(self) -> list[dict[str, Any]]:
        """End the open alerts (end of the run)."""
        events: list[dict[str, Any]] = []
        if self.assessment is not None:
            events = self.assessment.close(self.t_s)
        self.metrics.handle_events(self.t_s, events)
        self.events.extend(events)
        return events

    def run(self, progress: Callable[[float], None] | None = None) -> SimResult:
        """Fly the whole duration; returns traffic, metrics and events."""
        wall0 = time.perf_counter()
        while not self.finished:
            self.step()
            if progress is not None and self._n % 600 == 0:
                progress((self.t_s - self.t0_s) / self.duration_s)
        if self._n == 0:
            self.step()
        self.close()
        wall = time.perf_counter() - wall0
        traffic = self.traffic()
        return SimResult(traffic, self.metrics_dict(wall), self.events, self.plans, self.parties, wall)

    def batches(self) -> Iterator[SimStep]:
        """Every step until the end, as `SimStep`s (use `reports_of(step)` for a table)."""
        while not self.finished:
            yield self.step()
        self.close()

    def reports_of(self, step: SimStep) -> pd.DataFrame:
        """The ADS-B-like reports of one step (traffic-library columns, no party column)."""
        idx = step.fleet_index
        f = self.fleet
        state = np.vstack([f.lat[idx], f.lon[idx], f.alt[idx], f.gs[idx], f.trk[idx], f.vs[idx]])
        return _table(np.full(idx.size, step.t_s), idx, state, f)

    # -- outputs -----------------------------------------------------------------------
    def traffic(self) -> pd.DataFrame:
        """The recorded traffic: one row per aircraft per recording interval."""
        f = self.fleet
        if not self._rec:
            return _table(np.zeros(0), np.zeros(0, np.int32), np.zeros((6, 0)), f)
        t = np.concatenate([np.full(i.size, ts) for ts, i, _ in self._rec])
        idx = np.concatenate([i for _, i, _ in self._rec])
        state = np.hstack([s for _, _, s in self._rec])
        return _table(t, idx, state, f)

    def metrics_dict(self, wall_s: float | None = None) -> dict[str, Any]:
        m = self.metrics.as_dict()
        simulated = self.t_s - self.t0_s
        head: dict[str, Any] = {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "start": pd.Timestamp(self.t0_s, unit="s", tz="UTC").isoformat(),
            "simulated_s": simulated,
            "step_s": self.step_s,
            "flights": len(self.plans),
            "flights_by_party": _count([p.party for p in self.plans]),
            "flights_by_mission_kind": _count([p.kind for p in self.plans]),
            "parties": list(self.parties),
            "levels": [lv.name for lv in self.levels],
            "agreement": bool(self.agreement is not None),
            "airspace_watch": self.watch is not None,
            "attribution_mismatches": self._n_mismatch,
            "attribution_mismatch_examples": self.attribution_mismatches,
        }
        if wall_s is not None:
            head["performance"] = {  # not part of the deterministic outputs' bytes
                "wall_s": round(wall_s, 3),
                "simulated_s_per_wall_s": round(simulated / wall_s, 1) if wall_s > 0 else None,
            }
        if self.watch is not None:
            m["airspace"]["watch_summary"] = self.watch.summary()
        if self.notice_book is not None:
            m["notices"] = {
                "operations": len(self.notice_book.operations),
                "volumes": len(self.notice_book.volumes()),
                "conflicts": [{k: e[k] for k in ("id", "state", "parties", "start", "end", "floor_ft",
                                                 "ceiling_ft", "short_notice", "gives_way")}
                              for e in self.notice_events],
                "tactical": self.assessment.notices_summary() if self.assessment is not None else None,
            }
        if self.assessment is not None and self.assessment.wellclear is not None:
            m["wellclear"] = self.assessment.wellclear_summary()
        if self.assessment is not None and self.assessment.advisories is not None:
            m["resolution"] = self.pilots.summary(self.assessment.advisories, self.metrics)
        return head | m


def _notify(scenario: Scenario, agreement: Any | None) -> tuple[NoticeBook | None, list[dict[str, Any]]]:
    """The scenario's notices in the order notified, through the line's own checks: the
    book, and the strategic conflict events they raise."""
    if agreement is None or not scenario.notices:
        return None, []
    book = NoticeBook(agreement)
    events: list[dict[str, Any]] = []
    for k, n in sorted(enumerate(scenario.notices), key=lambda x: (x[1].notified_s, x[0])):
        t = scenario.start_s + n.notified_s
        try:
            spec = parse_notice(n.message(scenario.start_s), agreement.notices)
        except NoticeError as exc:
            raise ValueError(f"{scenario.file}: notice[{k}]: {exc}") from exc
        op, version = book.resolve(n.party, spec, k)
        events.extend(book.apply(n.party, op, version, spec, t))
    return book, events


def _count(xs: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items()))


def _table(t_s: np.ndarray, idx: np.ndarray, state: np.ndarray, f: Fleet) -> pd.DataFrame:
    """Report rows: ms timestamps, ICAO address, callsign and the rounded state."""
    return pd.DataFrame({
        "timestamp": np.round(t_s * 1000.0).astype(np.int64),
        "icao24": f.icao24[idx].astype(object),
        "callsign": f.callsign[idx].astype(object),
        "latitude": np.round(state[0], 6),
        "longitude": np.round(state[1], 6),
        "altitude": np.round(state[2], 0),
        "groundspeed": np.round(state[3], 1),
        "track": np.round(state[4], 2),
        "vertical_rate": np.round(state[5], 0),
        "squawk": f.squawk[idx].astype(object),
        "onground": np.zeros(idx.size, dtype=bool),
        "source": np.full(idx.size, "sim", dtype=object),
        "party": f.party_name[idx],
        "typecode": f.type_code[idx],
        "mission": _missions(f)[idx],
    })


def _missions(f: Fleet) -> np.ndarray:
    cached = getattr(f, "_missions", None)
    if cached is None:
        cached = np.array([p.mission for p in f.plans], dtype=object)
        f._missions = cached  # type: ignore[attr-defined]
    return cached


def run_scenario(scenario: Scenario, agreement: Any | None = None, hours: float = 1.0,
                 seed: int = 0, **kwargs: Any) -> SimResult:
    """Simulate `hours` of a scenario under an agreement; returns traffic and metrics."""
    return Simulation(scenario, agreement, hours=hours, seed=seed, **kwargs).run(
        kwargs.pop("progress", None) if "progress" in kwargs else None)


def iter_report_batches(scenario: Scenario, agreement: Any | None = None, hours: float = 1.0,
                        seed: int = 0, **kwargs: Any) -> Iterator[tuple[float, pd.DataFrame, list[dict[str, Any]]]]:
    """Per-step (t_s, reports, events): the traffic a live feed would deliver, for
    pushing to a service in real time or driving a demo."""
    sim = Simulation(scenario, agreement, hours=hours, seed=seed, record_every_s=None, **kwargs)
    for st in sim.batches():
        yield st.t_s, sim.reports_of(st), st.events


def write_recording(traffic: pd.DataFrame, path: str | Path) -> Path:
    """Write traffic as `replay` reads it: .json[.gz] (row-oriented, ms timestamps),
    .csv[.gz] or .parquet. Deterministic bytes for the same table (gzip mtime 0)."""
    p = Path(path)
    name = p.name.lower()
    gz = name.endswith(".gz")
    comp: Any = {"method": "gzip", "mtime": 0} if gz else None
    if name.endswith((".json", ".json.gz")):
        traffic.to_json(p, orient="records", double_precision=10, compression=comp)
    elif name.endswith((".csv", ".csv.gz")):
        traffic.to_csv(p, index=False, compression=comp)
    elif name.endswith(".parquet"):
        traffic.to_parquet(p, index=False)
    else:
        raise ValueError(f"{p}: unknown recording format (use .json, .json.gz, .csv, .parquet)")
    return p
