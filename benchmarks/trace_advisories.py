"""Fly one seed of the TU Delft random traffic with sharedsky's advisories and write every
advisory event (JSON lines), with the run's metrics: the study behind "Stability of advice".

    PYTHONPATH=src python benchmarks/trace_advisories.py --density 25 --seed 1 --measure-s 600 \
        --out events.jsonl [--delay-s 10 --noncompliance 0.38] [--set LASTING_FACTOR=1.0 ...] \
        [--why-again again.jsonl] [--horizontal-only] [--off]

`--horizontal-only` gives every party the agreement's rule "no vertical manoeuvre" (turns and
speed changes only, as MVP flies in the benchmark); `--off` also flies the run without
resolution and prints the LoS ratio and DEP.

`--why-again FILE` writes, for every change of advice made again for intruders that had all
already forced one (`changes_again`), what had changed since the advice was last given
(`WhyAgain`), and prints the count of each cause, and of those made while the aircraft was
already within the agreed minima of one it is blamed on (a loss in progress): why issue 13's
"one change per encounter" is not met, and how much of it is the engine's own doing.

`--set NAME=value` overrides a module constant of `sharedsky.engine.resolution` or
`sharedsky.alerting.advisories` for the run (the variants measured in the README).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sharedsky.alerting import advisories
from sharedsky.engine import resolution
from sharedsky.sim.random_traffic import TrafficSpec, run_square

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_variants import apply_sets  # noqa: E402

FIELDS = ("state", "t", "id", "icao24", "cause", "status", "manoeuvre", "sense", "change_deg", "track_deg",
          "gs_kt", "vs_fpm", "intruders", "changes", "changes_not_free", "changes_again", "encounter_not_free", "reason",
          "room_for", "second_because")


#: Flying a velocity: within these of it (track deg, ground speed kt, vertical speed ft/min).
FLYING_TOL = (2.0, 5.0, 200.0)


def _d_trk(a: float, b: float) -> float:
    """The angle between tracks a and b (deg, 0-180)."""
    return abs((b - a + 180.0) % 360.0 - 180.0)


def _off(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Whether velocity b is not (track, speed, vertical speed) velocity a, to `FLYING_TOL`."""
    return _d_trk(a[0], b[0]) > FLYING_TOL[0] or abs(b[1] - a[1]) > FLYING_TOL[1] or abs(b[2] - a[2]) > FLYING_TOL[2]


def _off_advice(adv: tuple[float, float, float], manoeuvre: str, level_ft: float,
                own: tuple[float, float, float], alt_ft: float) -> bool:
    """Whether an aircraft flying `own` at `alt_ft` is not flying advice `adv` in the
    dimension the advice changes (a turn given while descending to an earlier advice's level
    is flown when it has levelled there too); a level change is flown at its vertical speed
    or held at its level `level_ft`. A turn or speed change holds the other horizontal
    dimension too, as last advised (`LAST_ADVISED`: a turn given while still slowing to an
    advised speed is not flown until that speed is). Other advice: the whole velocity (`_off`)."""
    off_trk, off_gs = _d_trk(adv[0], own[0]) > FLYING_TOL[0], abs(own[1] - adv[1]) > FLYING_TOL[1]
    both = resolution.LAST_ADVISED
    if manoeuvre == "track":
        return off_trk or (both and off_gs)
    if manoeuvre == "speed":
        return off_gs or (both and off_trk)
    if manoeuvre == "vertical":
        held = bool(np.isfinite(level_ft)) and abs(alt_ft - level_ft) <= FLYING_TOL[2] and abs(own[2]) <= FLYING_TOL[2]
        return not held and abs(own[2] - adv[2]) > FLYING_TOL[2]
    return _off(adv, own)


def _inside(a: tuple[float, float, float, int], b: tuple[float, float, float, int], h_nm: float, v_ft: float) -> bool:
    """Whether two aircraft (lat deg, lon deg, alt ft, party) are within the minima h_nm,
    v_ft (flat earth at their mean latitude: exact enough within a few tens of NM)."""
    lat = np.radians((a[0] + b[0]) / 2.0)
    d_nm = 60.0 * float(np.hypot(b[0] - a[0], ((b[1] - a[1] + 180.0) % 360.0 - 180.0) * np.cos(lat)))
    return d_nm < h_nm and abs(b[2] - a[2]) < v_ft


class WhyAgain:
    """Why each change made again happened, first cause that applies, in this order: the
    aircraft is not flying the advice held (in the dimension it changes, `_off_advice`), and
    `owner not manoeuvring` (it flies what it flew
    when the advice was given: a crew late or ignoring it) or `owner off advice` (otherwise:
    still establishing it, or a crew's limit reached); `blocker advised since` (an aircraft it
    is blamed on was given, changed or ended advice since the advice was last given);
    `blocker manoeuvred` (one changed velocity otherwise, e.g. still turning to earlier
    advice); `making room` (the engine changed it, not kept, to let an aircraft with
    nothing free out: the event's `room_for`); `neither` (nothing changed: the engine's own
    instability)."""

    def __init__(self) -> None:
        self.vel: dict[str, tuple[float, float, float]] = {}
        self.vel_at_given: dict[str, dict[str, tuple[float, float, float]]] = {}
        self.alt: dict[str, float] = {}
        #: advisory -> when given, the velocity advised, its manoeuvre and level (NaN: none)
        self.given: dict[str, tuple[float, tuple[float, float, float], str, float]] = {}
        self.advice_event_s: dict[str, float] = {}  # aircraft -> its last advisory event
        self.rows: list[dict[str, Any]] = []
        #: aircraft -> (lat deg, lon deg, alt ft, party), this step (for `inside`)
        self.pos: dict[str, tuple[float, float, float, int]] = {}
        self.minima: Any = None  # the tracker's agreed minima (h_nm, v_ft per pair of parties)

    def step(self, tracker: advisories.AdvisoryTracker, snap: Any, events: list[dict[str, Any]],
             again_before: dict[str, int]) -> None:
        """Classify this step's changes made again (`again_before`: each held advisory's
        count before the step), then remember the step's velocities and advice."""
        self.vel = {str(x): (float(a), float(b), float(c)) for x, a, b, c in
                    zip(snap.id.tolist(), snap.track_deg, snap.gs_kt, snap.vs_fpm, strict=True)}
        self.alt = {str(x): float(a) for x, a in zip(snap.id.tolist(), snap.alt_ft, strict=True)}
        if hasattr(snap, "lat_deg"):
            self.pos = {str(x): (float(la), float(lo), float(al), int(pa)) for x, la, lo, al, pa in
                        zip(snap.id.tolist(), snap.lat_deg, snap.lon_deg, snap.alt_ft, snap.party, strict=True)}
        self.minima = getattr(tracker, "minima", None)
        res = tracker.last
        blockers = {str(snap.id[int(o)]): list(kb) for o, kb in zip(res.owner, res.keep_blockers, strict=False)}
        for e in events:
            if e["state"] == "updated" and e["changes_again"] > again_before.get(e["icao24"], 0):
                self.rows.append(self._why(e, blockers.get(e["icao24"], [])))
        for e in events:
            self.advice_event_s[e["icao24"]] = e["t"]
            if e["state"] in ("new", "updated"):
                self.given[e["id"]] = (e["t"], (float(e["track_deg"]), float(e["gs_kt"]), float(e["vs_fpm"])),
                                       str(e["manoeuvre"]), float(e.get("alt_ft", np.nan)))
                self.vel_at_given[e["id"]] = dict(self.vel)

    def _inside(self, own: str, blockers: list[str]) -> bool | None:
        """Whether the aircraft is within the agreed minima of one it is blamed on, when the
        advice changes (a loss of separation in progress, where the engine can only open
        the range); None without positions or minima."""
        if self.minima is None or own not in self.pos:
            return None
        a = self.pos[own]
        return any(_inside(a, self.pos[b], float(self.minima.h_nm[a[3], self.pos[b][3]]),
                           float(self.minima.v_ft[a[3], self.pos[b][3]])) for b in blockers if b in self.pos)

    def _why(self, e: dict[str, Any], blockers: list[str]) -> dict[str, Any]:
        t_given, adv, manoeuvre, level = self.given[e["id"]]
        then = self.vel_at_given[e["id"]]
        own = self.vel[e["icao24"]]
        advised_since = [b for b in blockers if self.advice_event_s.get(b, -np.inf) >= t_given]
        moved = [b for b in blockers if b in then and b in self.vel and _off(then[b], self.vel[b])]
        own_then = then.get(e["icao24"], own)
        off = _off_advice(adv, manoeuvre, level, own, self.alt.get(e["icao24"], np.nan))
        cause = (("owner off advice" if _off(own_then, own) else "owner not manoeuvring") if off
                 else "blocker advised since" if advised_since else "blocker manoeuvred" if moved
                 else "making room" if e.get("room_for") else "neither")
        return {"t": e["t"], "id": e["id"], "since_given_s": e["t"] - t_given, "cause": cause,
                "inside": self._inside(e["icao24"], blockers),
                "blockers": blockers, "blockers_advised_since": advised_since, "blockers_moved": moved,
                "room_for": e.get("room_for", []),
                "advice_held": adv, "flying": own, "manoeuvre": e["manoeuvre"], "sense": e["sense"]}


class NothingFree:
    """Aircraft-seconds (one step is a second) whose advice had nothing free (status 2, best
    effort), over the flight and in the measured window after the warm-up: how boxed in the
    traffic was (the placeholder study in docs/resolution-stability.md). Every advised
    aircraft counts, inside the square or not (losses count pairs inside only)."""

    def __init__(self, warmup_s: float) -> None:
        self.warmup_s = warmup_s
        self.t0_s: float | None = None
        self.counts = {"flight": 0, "measured": 0}

    def add(self, t_s: float, status: Any) -> None:
        """One step at `t_s` (the first step starts the clock) with its advice's statuses."""
        self.t0_s = t_s if self.t0_s is None else self.t0_s
        n = int(np.count_nonzero(np.asarray(status) == 2))
        self.counts["flight"] += n
        if t_s - self.t0_s >= self.warmup_s:
            self.counts["measured"] += n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--density", type=float, default=25.0)
    ap.add_argument("--three-d", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--measure-s", type=float, default=600.0)
    ap.add_argument("--delay-s", type=float, default=0.0)
    ap.add_argument("--noncompliance", type=float, default=0.0)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--why-again", type=Path, help="classify every change made again (JSON lines)")
    ap.add_argument("--horizontal-only", action="store_true", help="no vertical manoeuvre for any party")
    ap.add_argument("--off", action="store_true", help="also fly without resolution: LoS ratio and DEP")
    a = ap.parse_args(argv)
    apply_sets(ap, a.set)
    why = WhyAgain() if a.why_again else None
    spec = TrafficSpec(a.density, three_d=a.three_d, seed=a.seed, measure_s=a.measure_s)
    nothing_free = NothingFree(spec.warmup_s)
    with a.out.open("w") as fh:
        real = advisories.AdvisoryTracker.step

        def step(self: advisories.AdvisoryTracker, snap: Any, *args: Any, **kw: Any) -> list[dict[str, Any]]:
            if a.horizontal_only and not self.policy.rules:
                self.policy = advisories.AdvisoryPolicy(
                    [advisories.Rule(p, (), True, True, False, 0, False, False) for p in range(len(snap.parties))])
            before = {ident: h.changes_again for ident, h in self.held.items()}
            events = real(self, snap, *args, **kw)
            nothing_free.add(snap.t_s, self.last.status)
            fh.writelines(json.dumps({k: e.get(k) for k in FIELDS}) + "\n" for e in events)
            if why is not None:
                why.step(self, snap, events, before)
            return events

        advisories.AdvisoryTracker.step = step  # type: ignore[method-assign]
        run = run_square(spec, resolution=True, pilot_delay_s=a.delay_s, noncompliance=a.noncompliance)
    print(json.dumps({k: v for k, v in run.as_dict().items() if k != "resolution"}))
    print(json.dumps(run.resolution))
    print(json.dumps({"nothing_free_aircraft_s": nothing_free.counts}))
    if a.off:
        advisories.AdvisoryTracker.step = real  # type: ignore[method-assign]
        base = run_square(spec)
        print(json.dumps({"losses_off": base.losses, "conflicts_off": base.conflicts,
                          "los_ratio": round(run.losses / base.losses, 3) if base.losses else None,
                          "dep": round(run.conflicts / base.conflicts - 1.0, 2) if base.conflicts else None}))
    if why is not None and a.why_again is not None:
        with a.why_again.open("w") as wf:
            wf.writelines(json.dumps(r) + "\n" for r in why.rows)
        counts: dict[str, int] = {}
        for r in why.rows:
            counts[r["cause"]] = counts.get(r["cause"], 0) + 1
        inside: dict[str, int] = {}
        for r in why.rows:
            if r["inside"]:
                inside[r["cause"]] = inside.get(r["cause"], 0) + 1
        print(json.dumps({"changes_again": len(why.rows), "why": counts, "inside_the_minima": inside}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
