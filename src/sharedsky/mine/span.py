"""One partition's task: the one assessment step over an hour, after a warm-up.

`mine_span` is what a Dask worker runs. It reads the hour and the margin before it
(max age + look-ahead), steps the margin with `replay_batches` to bring the alert
lifecycles to the state a replay of the whole recording would have at the hour's start
(as far as that margin shows it), keeps that state's key, then steps the hour on the
same grid up to the next partition's start and returns its events, the state there,
checkpoints (a digest of the state every ten steps), and where each new conflict was
(positions of both aircraft at its first warning, for the encounter table's region and
level band). `sharedsky.mine.merge` checks each state handed from one hour to the next;
where the margin did not show enough (an encounter older than the margin) it re-runs the
hour from its predecessor's state only until that re-run's state meets the first run's
at a checkpoint: from there on both runs are the same.

The judgement is replay's: the same agreement, minima and attribution choices
(`Judgement`), the same `Assessment.for_agreement`, the same `replay_batches`. Mining
is about encounters: the airspace watch and distress are left out (they do not change
separation events).
"""

from __future__ import annotations

import functools
import hashlib
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.alerting.step import Assessment
from sharedsky.engine.separation import Minima
from sharedsky.ingest.schema import epoch_s
from sharedsky.mine.store import Store
from sharedsky.replay.run import replay_batches


@dataclass(frozen=True)
class Judgement:
    """Replay's choice of parties, minima and attribution, as options (picklable)."""

    agreement: str | None = None
    all_pairs: bool = False
    minima: tuple[float, float, float] = (5.0, 1000.0, 300.0)
    same_party: bool = False
    #: parties from the recordings' `party` column (no agreement, not all pairs)
    party_column: tuple[str, ...] = ()

    @property
    def lookahead_s(self) -> float:
        """The longest look-ahead of any pair and level."""
        return max(float(np.max(m.t_s)) for m in self.levels())

    def levels(self) -> list[Minima]:
        return self.build()[1]

    def build(self) -> tuple[tuple[str, ...], list[Minima], Callable[[pd.DataFrame], np.ndarray], Any]:
        """(parties, levels, attribute, agreement) as `sharedsky replay` chooses them."""
        return _build(self)

    def assessment(self) -> Assessment:
        _, levels, _, agr = self.build()
        return Assessment.for_agreement(agr, levels=levels, airspace=False, distress=False,
                                        suppression=not self.all_pairs)


@functools.lru_cache(maxsize=8)
def _agreement(path: str) -> Any:
    from sharedsky.agreement import load_agreement

    return load_agreement(Path(path))


@functools.lru_cache(maxsize=8)
def _build(j: Judgement) -> tuple[tuple[str, ...], list[Minima], Callable[[pd.DataFrame], np.ndarray], Any]:
    h, v, t = j.minima
    agr = _agreement(j.agreement) if j.agreement is not None else None
    attribute: Callable[[pd.DataFrame], np.ndarray]
    if agr is not None and not j.all_pairs:
        parties = tuple(agr.party_ids)
        levels = agr.minima_levels()
        if j.same_party:
            levels = [lv.with_same_party() for lv in levels]

        def attribute(df: pd.DataFrame) -> np.ndarray:
            source = df["source"].to_numpy().astype(str) if "source" in df else None
            return np.asarray(agr.attribute(df["icao24"].to_numpy().astype(str),
                                            df["callsign"].to_numpy().astype(str), source), dtype=np.int32)

        return parties, levels, attribute, agr
    if j.all_pairs or not j.party_column:
        return ("all",), [Minima.uniform(1, h, v, t, same_party=True)], _zeros, agr
    parties = j.party_column

    def by_column(df: pd.DataFrame) -> np.ndarray:
        return np.asarray(pd.Categorical(df["party"], categories=parties).codes, dtype=np.int32)

    return parties, [Minima.uniform(len(parties), h, v, t, same_party=j.same_party)], by_column, agr


def _zeros(df: pd.DataFrame) -> np.ndarray:
    return np.zeros(len(df), dtype=np.int32)


@dataclass(frozen=True)
class SpanTask:
    """One hour to assess: where its reports are, its span, the margin, the judgement."""

    store: str
    hour_s: int
    #: the hours that hold the margin before `hour_s` (read from `hour_s - margin_s`)
    before: tuple[int, ...]
    #: start of the next partition (steps stop before it); None: the last, closed at its end
    stop_s: float | None
    margin_s: float
    judgement: Judgement
    step_s: float = 1.0
    max_age_s: float = 20.0
    #: a predecessor's open state to start from instead of the warm-up (a re-run)
    seed: dict[str, Any] | None = None
    #: a re-run stops at the first checkpoint where its state's digest is the one the
    #: first run had there (from then on the first run's events are right)
    converge: dict[float, bytes] | None = None

#: a run records its state's digest every this many steps (checkpoints for a re-run)
CHECK_EVERY_STEPS = 10


@dataclass
class SpanResult:
    """What one hour gave: its events, the states at its start and end, its cost."""

    hour_s: int
    events: list[dict[str, Any]]
    #: for each `conflict new` event (by index in `events`): lat, lon, altitude_ft
    where: dict[int, tuple[float, float, float]]
    start_key: str
    end_state: dict[str, Any]
    rows: int
    steps: int
    wall_s: float
    peak_rss_mb: float
    rerun: bool = False
    cpu_s: float = 0.0
    #: checkpoints: step time -> (state digest after the step, events emitted up to it)
    checkpoints: dict[float, tuple[bytes, int]] = field(default_factory=dict)
    #: a re-run that met its first run's state: the step where it did
    converged_s: float | None = None


def mine_span(task: SpanTask) -> SpanResult:
    """Assess one hour partition (see the module's docstring)."""
    started, cpu0 = time.perf_counter(), time.process_time()
    store = Store(Path(task.store))
    h0 = float(task.hour_s)
    reports = store.read([*task.before, task.hour_s], from_s=h0 - task.margin_s)
    parties, _, attribute, _ = task.judgement.build()
    party = attribute(reports)
    assessment = task.judgement.assessment()
    t = epoch_s(reports["timestamp"])
    opts: dict[str, Any] = {"step_s": task.step_s, "max_age_s": task.max_age_s}
    if task.seed is None:
        warm = t < h0
        if warm.any():
            for _ in replay_batches(iter([(reports.loc[warm], party[warm])]), assessment, parties,
                                    stop_s=h0, **opts):
                pass
    else:
        assessment.conflicts.restore_open(task.seed)
    tracker = assessment.conflicts
    start_key = tracker.state_key()
    from sharedsky.replay.run import ReplaySummary

    summary = ReplaySummary()
    events: list[dict[str, Any]] = []
    checkpoints: dict[float, tuple[bytes, int]] = {}
    converged: list[float] = []
    every = CHECK_EVERY_STEPS * task.step_s

    def after_step(now: float) -> bool:
        """Record a checkpoint (a first run), or stop where the first run's state is met."""
        if abs(now / every - round(now / every)) > 1e-9:  # checkpoints on a fixed grid
            return False
        digest = hashlib.blake2b(tracker.state_key().encode(), digest_size=16).digest()
        if task.converge is None:
            checkpoints[now] = (digest, len(events))
            return False
        if task.converge.get(now) == digest:
            converged.append(now)
            return True
        return False

    for ev in replay_batches(iter([(reports, party)]), assessment, parties, start_s=h0, stop_s=task.stop_s,
                             summary=summary, after_step=after_step, **opts):
        events.append(ev)
    where = _where(reports, t, events)
    return SpanResult(task.hour_s, events, where, start_key, tracker.open_state(),
                      int(np.count_nonzero(t >= h0)), summary.steps, time.perf_counter() - started,
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, task.seed is not None,
                      time.process_time() - cpu0, checkpoints, converged[0] if converged else None)


def _where(reports: pd.DataFrame, t: np.ndarray, events: list[dict[str, Any]]) -> dict[int, tuple[float, float, float]]:
    """Mid-point and mean altitude of both aircraft of each new conflict, from their
    latest reported position and altitude at or before its first warning."""
    new = [(k, ev) for k, ev in enumerate(events) if ev["kind"] == "conflict" and ev["state"] == "new"]
    if not new:
        return {}
    ids = reports["icao24"].to_numpy(dtype=object).astype(str)
    order = np.lexsort((t, ids))
    ids_s, t_s = ids[order], t[order]

    def latest(col: str) -> Callable[[str, float], float]:
        v = reports[col].to_numpy(dtype=np.float64)[order]
        ok = np.isfinite(v)
        i2, t2, v2 = ids_s[ok], t_s[ok], v[ok]

        def at(ident: str, when: float) -> float:
            lo, hi = np.searchsorted(i2, ident, "left"), np.searchsorted(i2, ident, "right")
            k = lo + int(np.searchsorted(t2[lo:hi], when, "right")) - 1
            return float(v2[k]) if k >= lo else float("nan")

        return at

    lat, lon, alt = latest("latitude"), latest("longitude"), latest("altitude")

    def mean(x: float, y: float) -> float:
        """Mean of what is known (an altitude may be unknown)."""
        known = [v for v in (x, y) if np.isfinite(v)]
        return float(sum(known) / len(known)) if known else float("nan")

    out = {}
    for k, ev in new:
        a, b, t_s = ev["a"], ev["b"], ev["t"]
        out[k] = (mean(lat(a, t_s), lat(b, t_s)), mean(lon(a, t_s), lon(b, t_s)), mean(alt(a, t_s), alt(b, t_s)))
    return out
