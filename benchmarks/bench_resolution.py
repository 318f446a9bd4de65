"""Resolution side by side with BlueSky 1.1.1's MVP on TU Delft random traffic (issue 13).

    PYTHONPATH=src python benchmarks/bench_resolution.py            # the full set
    PYTHONPATH=src python benchmarks/bench_resolution.py --quick    # one seed, 12.5 and 25
    PYTHONPATH=src python benchmarks/bench_resolution.py --out runs.jsonl --densities 25 --dims 2d
    PYTHONPATH=src python benchmarks/bench_resolution.py --tables runs.jsonl   # print only

Traffic: `sharedsky.sim.random_traffic` (200 x 200 NM, constant density, 10 min warm-up,
30 min measured, unique pairs inside the square, 5 NM / 1,000 ft / 300 s). Each seed is
flown three times on the same flight plans and the same `Fleet` dynamics (A320: 25 deg
bank, 1 kt/s, 2,500/3,000 ft/min):

* off: no resolution;
* sharedsky: `sharedsky.engine.resolution` through the simulator's `Pilots`;
* MVP: BlueSky 1.1.1's own code on our fleet's state each second - its C state-based
  detection (`cstatebased.detect`) and `MVP.resolve` with BlueSky's defaults (heading
  and speed, horizontal only, resolution margin 1.01, no priority) - and its
  `resumenav` rule (keep the resolution until past CPA, not in horizontal loss and not a
  bouncing conflict; then direct to the active waypoint), re-implemented here because
  BlueSky's needs its global traffic object. Its commanded track and ground speed are
  flown by our `Fleet` (as BlueSky's autopilot would fly heading and TAS without wind);
  its speed limits are the type's (320 kt minimum, `max_kt`).

With a pilot delay and non-compliance (the robustness case), sharedsky's crews are the
simulator's `Pilots`; MVP's commands are applied `delay` seconds after they are
computed, and an aircraft ignores all of an encounter's MVP commands with the given
probability (drawn once when it becomes active).

Figures: LoS ratio = losses with / without over all seeds; DEP = conflicts with /
without - 1; severity = mean over losses of max(min(1 - d/R, 1 - dz/H)); added path per
aircraft through in both runs; changes = advisory changes per advised aircraft
(sharedsky) or activations per activated aircraft (MVP).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from sharedsky.alerting.advisories import SECOND_BECAUSE
from sharedsky.engine.heap import keep_freed_memory
from sharedsky.engine.resolution import resolve
from sharedsky.engine.separation import Minima
from sharedsky.sim.random_traffic import TrafficSpec, added_path, random_traffic, run_square
from sharedsky.sim.synthetic import random_enroute

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_variants import apply_sets  # noqa: E402

NM_M = 1852.0
FT_M = 0.3048
KT_MS = NM_M / 3600.0
FPM_MS = FT_M / 60.0
DENSITIES = (12.5, 25.0, 50.0, 100.0)
MVP_VMIN_KT = 320.0


def _bluesky() -> tuple[Any, Any]:
    """BlueSky's MVP class and C detection (the `bench` extra), or a clear exit."""
    try:
        import io
        from contextlib import redirect_stdout

        with redirect_stdout(io.StringIO()):  # BlueSky prints its plugin loading
            from bluesky.traffic.asas import cstatebased, mvp
    except ImportError as e:
        sys.exit(f"bench_resolution: BlueSky is missing ({e}); pip install -e '.[bench]'")
    return mvp.MVP, cstatebased.detect


class _MvpSelf:
    """Stands in for a `bluesky.traffic.asas.mvp.MVP` instance (which needs BlueSky's
    global traffic object): BlueSky's own methods, its default switches."""

    def __init__(self, mvp_cls: Any, n: int) -> None:
        self.MVP = mvp_cls.MVP.__get__(self)
        self.applyprio = mvp_cls.applyprio.__get__(self)
        self._resolve = mvp_cls.resolve.__get__(self)
        self.swprio = False
        self.priocode = ""
        self.swresohoriz, self.swresospd, self.swresohdg, self.swresovert = True, False, False, False
        self.resofach = self.resofacv = 1.01  # bs.settings asas_marh / asas_marv defaults
        self.noresoac = np.zeros(n, dtype=bool)
        self.resooffac = np.zeros(n, dtype=bool)


def _state(sim: Any, idx: np.ndarray) -> SimpleNamespace:
    """BlueSky's view (SI units) of the fleet rows `idx`."""
    f = sim.fleet
    trk = f.trk[idx].copy()
    gs = f.gs[idx] * KT_MS
    vs = f.vs[idx] * FPM_MS
    alt = f.alt[idx] * FT_M
    n = idx.size
    return SimpleNamespace(
        ntraf=n, id=[str(a) for a in f.icao24[idx]], lat=f.lat[idx].copy(), lon=f.lon[idx].copy(),
        alt=alt, trk=trk, gs=gs, vs=vs, gseast=gs * np.sin(np.radians(trk)),
        gsnorth=gs * np.cos(np.radians(trk)),
        perf=SimpleNamespace(vmin=np.full(n, MVP_VMIN_KT * KT_MS), vmax=f.max_kt[idx] * KT_MS,
                             vsmin=-f.descent_fpm[idx] * FPM_MS, vsmax=f.climb_fpm[idx] * FPM_MS),
        ap=SimpleNamespace(vs=vs.copy()), selalt=alt.copy(),
    )


def _snapshot_state(snap: Any) -> SimpleNamespace:
    """BlueSky's view of a sharedsky snapshot (for the speed table)."""
    n = len(snap)
    trk = snap.track_deg.copy()
    gs = snap.gs_kt * KT_MS
    vs = snap.vs_fpm * FPM_MS
    alt = snap.alt_ft * FT_M
    return SimpleNamespace(
        ntraf=n, id=[str(a) for a in snap.id], lat=snap.lat_deg.copy(), lon=snap.lon_deg.copy(),
        alt=alt, trk=trk, gs=gs, vs=vs, gseast=gs * np.sin(np.radians(trk)),
        gsnorth=gs * np.cos(np.radians(trk)),
        perf=SimpleNamespace(vmin=np.full(n, MVP_VMIN_KT * KT_MS), vmax=np.full(n, 600 * KT_MS),
                             vsmin=np.full(n, -3000 * FPM_MS), vsmax=np.full(n, 3000 * FPM_MS)),
        ap=SimpleNamespace(vs=vs.copy()), selalt=alt.copy(),
    )


def _conf(detect: Any, own: SimpleNamespace, r_nm: float, h_ft: float, t_s: float) -> SimpleNamespace:
    n = own.ntraf
    rpz, hpz, look = np.full(n, r_nm * NM_M), np.full(n, h_ft * FT_M), np.full(n, t_s)
    confpairs, lospairs, inconf, tcpamax, qdr, dist, dcpa, tcpa, tlos = detect(own, own, rpz, hpz, look)
    return SimpleNamespace(confpairs=list(confpairs), lospairs=list(lospairs), qdr=np.asarray(qdr),
                           dist=np.asarray(dist), dcpa=np.asarray(dcpa), tcpa=np.asarray(tcpa),
                           tLOS=np.asarray(tlos), rpz=rpz, hpz=hpz, dtlookahead=look)


def _anglediff(a: float, b: float) -> float:
    return (a - b + 180.0) % 360.0 - 180.0


class MvpController:
    """Flies BlueSky's MVP on a `Simulation`'s fleet, one call per step."""

    def __init__(self, n: int, *, delay_s: float = 0.0, noncompliance: float = 0.0,
                 seed: int = 0, r_nm: float = 5.0, h_ft: float = 1000.0, look_s: float = 300.0) -> None:
        mvp_cls, self.detect = _bluesky()
        self.me = _MvpSelf(mvp_cls, n)
        self.r_nm, self.h_ft, self.look_s = r_nm, h_ft, look_s
        self.active = np.zeros(n, dtype=bool)
        self.ignoring = np.zeros(n, dtype=bool)
        self.asas_trk = np.full(n, np.nan)
        self.asas_gs = np.full(n, np.nan)
        self.resopairs: set[tuple[int, int]] = set()
        self.delay_s = delay_s
        self.noncompliance = noncompliance
        self.rng = np.random.default_rng([seed, 13])
        self.queue: deque[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = deque()
        self.activations = np.zeros(n, dtype=np.int64)

    def __call__(self, sim: Any, st: Any) -> None:
        idx = st.fleet_index
        t = st.t_s
        if idx.size >= 2:
            own = _state(sim, idx)
            conf = _conf(self.detect, own, self.r_nm, self.h_ft, self.look_s)
            self.me.noresoac = np.zeros(idx.size, dtype=bool)
            self.me.resooffac = np.zeros(idx.size, dtype=bool)
            if conf.confpairs:
                with np.errstate(all="ignore"):  # MVP's np.where divides on both branches
                    trk, gs, _vs, _alt = self.me._resolve(conf, own, own)
                self.asas_trk[idx] = trk
                self.asas_gs[idx] = gs / KT_MS
            self._resumenav(conf, own, idx)
        go = np.flatnonzero(self.active & ~self.ignoring)
        self.queue.append((t + self.delay_s, go, self.asas_trk[go], self.asas_gs[go]))
        while self.queue and self.queue[0][0] <= t + 1e-9:
            _, rows, trk_deg, gs_kt = self.queue.popleft()
            rows_now = rows[self.active[rows] & (sim.fleet.status[rows] == 1)]
            keep = np.isin(rows, rows_now)
            if rows_now.size:
                sim.fleet.advise(rows_now, t, track_deg=trk_deg[keep], speed_kt=gs_kt[keep],
                                 delay_s=0.0, duration_s=sim.step_s)

    def _resumenav(self, conf: SimpleNamespace, own: SimpleNamespace, idx: np.ndarray) -> None:
        """BlueSky's `ConflictResolution.resumenav`, on fleet indices."""
        pos = {a: k for k, a in enumerate(own.id)}
        self.resopairs.update((int(idx[pos[a]]), int(idx[pos[b]])) for a, b in conf.confpairs)
        row = {int(i): k for k, i in enumerate(idx.tolist())}
        change: dict[int, bool] = {}
        dead: set[tuple[int, int]] = set()
        rpz = self.r_nm * NM_M
        for p in self.resopairs:
            i1, i2 = row.get(p[0]), row.get(p[1])
            if i1 is None:
                dead.add(p)
                continue
            keep = False
            if i2 is not None:
                re = 6371000.0
                d = re * np.array([np.radians(own.lon[i2] - own.lon[i1])
                                   * np.cos(0.5 * np.radians(own.lat[i2] + own.lat[i1])),
                                   np.radians(own.lat[i2] - own.lat[i1])])
                vrel = np.array([own.gseast[i2] - own.gseast[i1], own.gsnorth[i2] - own.gsnorth[i1]])
                past_cpa = float(d @ vrel) > 0.0
                hd = float(np.hypot(d[0], d[1]))
                bouncing = abs(_anglediff(own.trk[i1], own.trk[i2])) < 30.0 and hd < rpz * self.me.resofach
                keep = (not past_cpa) or hd < rpz or bouncing
            if keep:
                change[p[0]] = True
            else:
                change[p[0]] = change.get(p[0], False)
                dead.add(p)
        for i, on in change.items():
            if on and not self.active[i]:
                self.activations[i] += 1
                self.ignoring[i] = self.noncompliance > 0 and self.rng.random() < self.noncompliance
            if not on:
                self.ignoring[i] = False
            self.active[i] = on
        self.resopairs -= dead

    def summary(self) -> dict[str, Any]:
        act = self.activations[self.activations > 0]
        return {"aircraft_activated": int(act.size),
                "activations_per_aircraft": round(float(act.mean()), 3) if act.size else 0.0}


# -- the runs ------------------------------------------------------------------------

def run_seed(density: float, three_d: bool, seed: int, *, delay_s: float = 0.0,
             noncompliance: float = 0.0, methods: tuple[str, ...] = ("off", "sharedsky", "mvp"),
             measure_s: float | None = None, margin_nm: float = 0.0, variant: str = "") -> list[dict[str, Any]]:
    """Every method on one seed's plans; one row per method (`variant`: the engine's
    constants set for the run, `engine_variants`, recorded in each row)."""
    spec = TrafficSpec(density, three_d=three_d, seed=seed, margin_nm=margin_nm)
    if measure_s is not None:
        spec = TrafficSpec(density, three_d=three_d, seed=seed, measure_s=measure_s, margin_nm=margin_nm)
    plans = random_traffic(spec)
    rows: list[dict[str, Any]] = []
    base = None
    key = {"density": density, "dims": "3d" if three_d else "2d", "seed": seed,
           "delay_s": delay_s, "noncompliance": noncompliance, "measure_s": spec.measure_s,
           "margin_nm": margin_nm, **({"variant": variant} if variant else {})}
    for m in methods:
        extra: dict[str, Any] = {}
        if m == "off":
            run = run_square(spec, plans=plans)
            base = run
        elif m == "sharedsky":
            run = run_square(spec, plans=plans, resolution=True, pilot_delay_s=delay_s,
                             noncompliance=noncompliance)
            r = run.resolution
            extra = {"changes": r.get("changes_per_advised_aircraft"),
                     "advised": r.get("aircraft_advised"),
                     "changes_per_advisory": r.get("changes_per_advisory"),
                     "changed_more_than_once": r.get("advisories_changed_more_than_once"),
                     "not_free_per_advisory": r.get("not_free_changes_per_advisory"),
                     "not_free_more_than_once": r.get("advisories_changed_not_free_more_than_once"),
                     "not_free_more_than_once_in_an_encounter": r.get(
                         "advisories_changed_not_free_more_than_once_in_an_encounter"),
                     "encounters_after_the_first": r.get("encounters_after_the_first"),
                     "again_per_advisory": r.get("changes_again_per_advisory"),
                     "changed_again": r.get("advisories_changed_again"),
                     "best_effort_held": r.get("best_effort_held"),
                     "advisories_held_again": r.get("advisories_held_again"),
                     "again_held_steps": r.get("again_held_steps"),
                     "changes_by_cause": r.get("changes_by_cause"),
                     "changes_by_kind": r.get("changes_by_kind"),
                     "changes_not_free_best_effort": r.get("changes_not_free_best_effort"),
                     "second_because": r.get("second_because"),
                     "changes_making_room": r.get("changes_making_room"),
                     "readvised": r.get("readvised"),
                     "best_effort_not_ended": r.get("best_effort_not_ended"),
                     "ended_not_free": r.get("ended_not_free"),
                     "readvised_not_free": r.get("readvised_not_free"),
                     "readvised_not_free_new_intruder": r.get("readvised_not_free_new_intruder"),
                     "stability_by_crews": r.get("stability_by_crews"),
                     "advisories": r.get("advisories")}
        else:
            ctl = MvpController(len(plans), delay_s=delay_s, noncompliance=noncompliance, seed=seed)
            run = run_square(spec, plans=plans, controller=ctl)
            s = ctl.summary()
            extra = {"changes": s["activations_per_aircraft"], "advised": s["aircraft_activated"]}
        row = key | {"method": m} | run.as_dict() | extra
        row.pop("resolution", None)
        if base is not None and m != "off":
            row |= added_path(run, base)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


#: What every row of an --out file has (written by `run_seed`), and --tables reads.
ROW_KEYS = ("dims", "density", "delay_s", "noncompliance", "seed", "method", "losses", "conflicts",
            "severity_mean")


def _group(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]]:
    out: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        k = (r["dims"], r["density"], r["delay_s"], r["noncompliance"], r.get("margin_nm", 0.0),
             r.get("measure_s", 1800.0), r.get("variant", ""))
        out.setdefault(k, {}).setdefault(r["method"], []).append(r)
    return out


def _case(dims: str, dens: float, delay: float, nc: float, margin: float, window: float, variant: str) -> str:
    """A case's name in the tables, from its `_group` key."""
    case = f"{dims} {dens:g}" + (f", delay {delay:g} s, {nc:.0%} not followed" if delay or nc else "")
    case += f", created {margin:g} NM outside" if margin else ""
    case += f", {window / 60:g} min measured" if window != 1800.0 else ""
    return case + (f", {variant}" if variant else "")


def tables(rows: list[dict[str, Any]]) -> str:
    """The side-by-side table: per (dims, density, delay, non-compliance), pooled over
    the seeds that have all three methods. Where runs measured it (2-D, since db371a7), a
    last column gives the share of aircraft-seconds more than 1,000 ft off the one level."""
    levels = any(r.get("level_excursion") for r in rows)
    lines = ["| case | seeds | LoS off | LoS ratio sharedsky | LoS ratio MVP | DEP sharedsky | DEP MVP "
             "| severity off / sharedsky / MVP | added NM sharedsky / MVP | added s sharedsky / MVP "
             "| changes sharedsky / MVP | sharedsky changes per advisory, share > 1 "
             "| ... not for a new intruder or a reversal, share > 1 "
             "| ... again for the same intruders, share of advisories "
             "| such a change held back (HOLD_AGAIN), share of advisories |"
             + (" more than 1,000 ft off the level sharedsky / MVP |" if levels else ""),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if levels else "")]
    for (dims, dens, delay, nc, margin, window, variant), by in sorted(_group(rows).items()):
        seeds = set.intersection(*[{r["seed"] for r in by[m]} for m in by])
        sel = {m: [r for r in by.get(m, []) if r["seed"] in seeds] for m in ("off", "sharedsky", "mvp")}

        def tot(m: str, f: str) -> float:
            return float(sum(r[f] for r in sel[m]))

        def ratio(m: str) -> str:
            return f"{tot(m, 'losses') / tot('off', 'losses'):.3f}" if sel[m] and tot("off", "losses") else "-"

        def dep(m: str) -> str:
            return f"{tot(m, 'conflicts') / tot('off', 'conflicts') - 1:.2f}" if sel[m] and tot("off", "conflicts") else "-"

        def sev(m: str) -> str:
            if not sel[m]:
                return "-"
            w = tot(m, "losses")
            return f"{sum(r['severity_mean'] * r['losses'] for r in sel[m]) / w:.2f}" if w else "0"

        def mean(m: str, f: str, fmt: str) -> str:
            v = [r[f] for r in sel[m] if r.get(f) is not None]
            return format(statistics.fmean(v), fmt) if v else "-"

        def off_level(m: str) -> str:
            v = [r["level_excursion"]["share_off_1000ft"] for r in sel[m] if r.get("level_excursion")]
            return format(statistics.fmean(v), ".0%") if v else "-"

        def held_back() -> str:
            v = [r for r in sel["sharedsky"] if r.get("advisories_held_again") is not None and r.get("advisories")]
            return format(sum(r["advisories_held_again"] for r in v) / sum(r["advisories"] for r in v), ".1%") if v else "-"

        case = _case(dims, dens, delay, nc, margin, window, variant)
        lines.append(
            f"| {case} | {len(seeds)} | {tot('off', 'losses'):.0f} | {ratio('sharedsky')} | {ratio('mvp')} "
            f"| {dep('sharedsky')} | {dep('mvp')} | {sev('off')} / {sev('sharedsky')} / {sev('mvp')} "
            f"| {mean('sharedsky', 'added_nm', '.1f')} / {mean('mvp', 'added_nm', '.1f')} "
            f"| {mean('sharedsky', 'added_s', '.0f')} / {mean('mvp', 'added_s', '.0f')} "
            f"| {mean('sharedsky', 'changes', '.1f')} / {mean('mvp', 'changes', '.1f')} "
            f"| {mean('sharedsky', 'changes_per_advisory', '.2f')}, {mean('sharedsky', 'changed_more_than_once', '.0%')} "
            f"| {mean('sharedsky', 'not_free_per_advisory', '.2f')}, {mean('sharedsky', 'not_free_more_than_once', '.0%')} "
            f"| {mean('sharedsky', 'again_per_advisory', '.3f')}, {mean('sharedsky', 'changed_again', '.1%')} "
            f"| {held_back()} |"
            + (f" {off_level('sharedsky')} / {off_level('mvp')} |" if levels else ""))
    return "\n".join(lines)


def readvised(sel: list[dict[str, Any]], tot: Callable[[str], int]) -> str:
    """The change table's advice given again after resume, and in brackets after no free
    manoeuvre, where every row of the case has the count ("-": one lacks it)."""
    def has(f: str) -> bool:
        return all(r.get(f) is not None for r in sel)
    if not has("readvised"):
        return "-"
    if not has("readvised_not_free"):
        return f"{tot('readvised')}"
    new = (f", {tot('readvised_not_free_new_intruder')} for a new intruder"
           if has("readvised_not_free_new_intruder") else "")
    return f"{tot('readvised')} ({tot('readvised_not_free')}{new})"


def change_table(rows: list[dict[str, Any]]) -> str:
    """sharedsky's changes of advice per case, summed over seeds: why (a new aircraft
    joining the encounter, a reversal of the geometry, the advice held no longer free
    with the same intruders) and what (the same manoeuvre stronger or weaker, another
    dimension, the opposite sense), and the share of not-free changes without any free
    manoeuvre; and how many changes made room for an aircraft with nothing free (rows flown
    since the engine counts them, 4556809; "-" when a row of the case has no count); and
    how many advisories were given again, after the advice ended with resume, within
    READVISED_S for an aircraft the one ended named (counted since the tracker does; "-"
    before), and of those, in brackets, after it ended with no free manoeuvre (since
    89f6b33 says so), and of those, the ones whose end was for an aircraft the advisory had
    not named (a new intruder, as for a change; since the tracker says so)."""
    lines = ["| case | seeds | advisories | changes | new intruder | reversal | not free (best effort) "
             "| same manoeuvre | other dimension | opposite sense | making room "
             "| advised again after resume (after no free manoeuvre, of them for a new intruder) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (dims, dens, delay, nc, margin, window, variant), by in sorted(_group(rows).items()):
        sel = [r for r in by.get("sharedsky", []) if r.get("changes_by_cause")]
        if not sel:
            continue

        def tot(f: str, k: str | None = None) -> int:
            return sum(int(r[f][k] if k else r[f] or 0) for r in sel)

        case = _case(dims, dens, delay, nc, margin, window, variant)
        n = sum(tot("changes_by_cause", k) for k in ("new_intruder", "reversal", "not_free"))
        lines.append(
            f"| {case} | {len(sel)} | {tot('advisories')} | {n} | {tot('changes_by_cause', 'new_intruder')} "
            f"| {tot('changes_by_cause', 'reversal')} | {tot('changes_by_cause', 'not_free')} "
            f"({tot('changes_not_free_best_effort')}) | {tot('changes_by_kind', 'same')} "
            f"| {tot('changes_by_kind', 'dimension')} | {tot('changes_by_kind', 'sense')} "
            f"| {tot('changes_making_room') if all(r.get('changes_making_room') is not None for r in sel) else '-'} "
            f"| {readvised(sel, tot)} |")
    return "\n".join(lines)


def crews_table(rows: list[dict[str, Any]]) -> str:
    """sharedsky's stability apart for whose crews flew each advisory (`Pilots.by_crews`:
    every crew followed; the owner's crew ignored it; an aircraft it named ignored advice of
    its own meanwhile), pooled over seeds weighted by advisories: the changes the engine
    makes of itself told from those non-compliance forces. Rows flown since the split."""
    lines = ["| case | seeds | crews | advisories | changed more than once | ... not for a new intruder "
             "or a reversal | changed again for the same intruders |", "|---|---|---|---|---|---|---|"]
    for (dims, dens, delay, nc, margin, window, variant), by in sorted(_group(rows).items()):
        sel = [r["stability_by_crews"] for r in by.get("sharedsky", []) if r.get("stability_by_crews")]
        if not sel:
            continue
        case = _case(dims, dens, delay, nc, margin, window, variant)
        for crews in sel[0]:
            n = sum(s[crews]["advisories"] for s in sel)

            def share(col: str, crews: str = crews, n: int = n) -> str:
                return format(sum(s[crews][col] * s[crews]["advisories"] for s in sel) / n, ".1%") if n else "-"

            lines.append(f"| {case} | {len(sel)} | {crews} | {n} | {share('changed_more_than_once')} "
                         f"| {share('not_free_more_than_once')} | {share('changed_again')} |")
    return "\n".join(lines)


def second_table(rows: list[dict[str, Any]]) -> str:
    """sharedsky's second changes of advice in one encounter, neither for a new intruder nor
    for a reversal (issue 13's rule), summed over seeds: the advisories the rule counts, and
    the second changes given, by why the holds did not keep them back (`SECOND_BECAUSE`).
    Rows flown since the tracker says why."""
    lines = ["| case | seeds | advisories | changed twice in an encounter | second changes given: "
             + " / ".join(SECOND_BECAUSE) + " |", "|---|---|---|---|---|"]
    for (dims, dens, delay, nc, margin, window, variant), by in sorted(_group(rows).items()):
        sel = [r for r in by.get("sharedsky", []) if r.get("second_because")]
        if not sel:
            continue
        n = sum(int(r["advisories"]) for r in sel)
        # Each row's count from its share (4 decimals: exact below 10,000 advisories a row).
        twice = sum(round(r["not_free_more_than_once_in_an_encounter"] * r["advisories"]) for r in sel)
        why = " / ".join(str(sum(int(r["second_because"].get(w, 0)) for r in sel)) for w in SECOND_BECAUSE)
        lines.append(f"| {_case(dims, dens, delay, nc, margin, window, variant)} | {len(sel)} | {n} "
                     f"| {twice} ({twice / n:.2%}) | {why} |")
    return "\n".join(lines)


def speed(n: int = 10_000, repeats: int = 5, seed: int = 0) -> str:
    """One `resolve` call against MVP (BlueSky's C detection + `MVP.resolve`) on the same
    states: `n` aircraft at en-route density (random_enroute, 1 per 200 NM^2)."""
    mvp_cls, detect = _bluesky()
    minima = Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)
    ours: list[float] = []
    det: list[float] = []
    res: list[float] = []
    cpu_ours: list[float] = []
    cpu_mvp: list[float] = []
    n_conf = n_adv = 0
    # One untimed call of each on another state first: a running engine calls `resolve`
    # every second, so the figures are its steady state, not a fresh process's first call
    # (which pays for the first allocation of its large arrays: ~+30 % here).
    warm = random_enroute(n, seed=seed + repeats)
    keep_freed_memory()  # as the service's engine, `simulate` and every CLI command do
    resolve(warm, minima)
    with np.errstate(all="ignore"):
        _MvpSelf(mvp_cls, n)._resolve(_conf(detect, _snapshot_state(warm), 5.0, 1000.0, 300.0),
                                      _snapshot_state(warm), _snapshot_state(warm))
    for k in range(repeats):
        snap = random_enroute(n, seed=seed + k)
        t0, c0 = time.perf_counter(), time.process_time()
        r = resolve(snap, minima)
        ours.append(time.perf_counter() - t0)
        cpu_ours.append(time.process_time() - c0)
        n_adv = len(r)
        own = _snapshot_state(snap)
        me = _MvpSelf(mvp_cls, n)
        t0, c0 = time.perf_counter(), time.process_time()
        conf = _conf(detect, own, 5.0, 1000.0, 300.0)
        t1 = time.perf_counter()
        with np.errstate(all="ignore"):
            me._resolve(conf, own, own)
        t2 = time.perf_counter()
        cpu_mvp.append(time.process_time() - c0)
        det.append(t1 - t0)
        res.append(t2 - t1)
        n_conf = len(conf.confpairs) // 2

    def q(v: list[float]) -> str:
        a = np.asarray(v)
        return f"{np.median(a):.3f} / {np.quantile(a, 0.95):.3f}"

    tot = [a + b for a, b in zip(det, res, strict=True)]
    return "\n".join([
        f"{n} aircraft (random_enroute, 1 per 200 NM^2), {repeats} states, ~{n_conf} conflict pairs, "
        f"{n_adv} aircraft advised (last state)",
        "| | median / p95 (s) |", "|---|---|",
        f"| sharedsky `resolve` (detection included) | {q(ours)} |",
        f"| MVP: BlueSky C state-based detection | {q(det)} |",
        f"| MVP: `MVP.resolve` | {q(res)} |",
        f"| MVP: detection + resolve | {q(tot)} |",
        "",
        f"CPU time (this process; the machine may be shared): sharedsky {q(cpu_ours)}, "
        f"MVP detection + resolve {q(cpu_mvp)}",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one seed, 2-D 12.5 and 25, speed at 2,000")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--densities", type=float, nargs="+", default=list(DENSITIES))
    ap.add_argument("--dims", nargs="+", default=["2d", "3d"], choices=["2d", "3d"])
    ap.add_argument("--methods", nargs="+", default=["off", "mvp", "sharedsky"])
    ap.add_argument("--no-robustness", action="store_true")
    ap.add_argument("--robustness-only", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--speed-n", type=int, default=10_000)
    ap.add_argument("--speed-repeats", type=int, default=7)
    ap.add_argument("--measure-s", type=float, default=None, help="measured window (default 1800)")
    ap.add_argument("--margin-nm", type=float, default=0.0,
                    help="create traffic in a square this much wider on each side than the measured one")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="fly a variant: a number or flag of the resolution engine or the tracker")
    ap.add_argument("--out", type=Path, help="append one JSON line per run here")
    ap.add_argument("--tables", type=Path, help="print the tables of a --out file and stop")
    a = ap.parse_args(argv)
    if a.tables:
        saved: list[dict[str, Any]] = []
        try:
            lines = a.tables.read_text().splitlines()
        except OSError as exc:
            ap.error(f"--tables {a.tables}: {exc.strerror}")
        for n, x in enumerate(lines, 1):
            if not x.strip():
                continue
            try:
                row = json.loads(x)
            except ValueError as exc:
                ap.error(f"--tables {a.tables}, line {n}: not a JSON run row ({exc})")
            missing = [k for k in ROW_KEYS if not isinstance(row, dict) or k not in row]
            if missing:
                ap.error(f"--tables {a.tables}, line {n}: a run row without {', '.join(missing)}")
            saved.append(row)
        print(tables(saved))
        print()
        print(change_table(saved))
        print()
        print(crews_table(saved))
        print()
        print(second_table(saved))
        return 0
    if a.quick:
        a.seeds, a.densities, a.dims, a.speed_n = 1, [12.5, 25.0], ["2d"], 2000
    variant = apply_sets(ap, a.set)
    rows: list[dict[str, Any]] = []
    seeds = range(a.first_seed, a.first_seed + a.seeds)
    cases: list[tuple[float, bool, float, float]] = []
    if not a.speed_only:
        if not a.robustness_only:
            cases += [(d, dims == "3d", 0.0, 0.0) for dims in a.dims for d in a.densities]
        if not a.no_robustness:
            cases.append((25.0, False, 10.0, 0.38))
    for dens, three, delay, nc in cases:
        for s in seeds:
            got = run_seed(dens, three, s, delay_s=delay, noncompliance=nc,
                           methods=tuple(a.methods), measure_s=a.measure_s, margin_nm=a.margin_nm,
                           variant=variant)
            rows += got
            if a.out:
                with a.out.open("a") as fh:
                    fh.writelines(json.dumps(r) + "\n" for r in got)
    if rows:
        print(tables(rows))
        print()
        print(change_table(rows))
        print()
        print(crews_table(rows))
        print()
        print(second_table(rows))
    if not a.no_speed:
        print()
        print((f"speed of the variant {variant}:\n" if variant else "")
              + speed(a.speed_n, repeats=3 if a.quick else a.speed_repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
