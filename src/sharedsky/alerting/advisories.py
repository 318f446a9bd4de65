"""Resolution advisories as events: one manoeuvre per aircraft that must give way, for
its own party, kept stable through the encounter and ended with "resume".

The geometry and the choice are `sharedsky.engine.resolution.resolve`; this stage
turns the agreement's `[resolution]` section into per-aircraft rules (manoeuvres
accepted, priority, exemptions: distress, refuelling, rules), keeps each aircraft's
advisory between steps (the velocity it was flying when first advised, the velocity it
is advised: the advised dimension as given, the other two as the aircraft flies them
now, so that a turn given while climbing to a level is judged level once the aircraft
has levelled off), and says:

* `advisory` / `new`: the first manoeuvre of an encounter for one aircraft;
* `advisory` / `updated`: a different manoeuvre, only when the one given is no longer
  free (the geometry changed); counted in `changes`, and said why in `cause`:
  `new intruder` (an aircraft in conflict, or one the advice held now loses separation
  with, that was not among the advisory's intruders before: a new encounter joining, not
  a change of the same one), `reversal` (the geometry of a
  pair held in the advisory reversed since the advice was given: under present
  velocities, both then and now closing within the look-ahead, the other aircraft now
  passes on the other side - the sign of the cross
  product of relative position and relative velocity flipped, each at least
  REVERSAL_NM of miss - or in the other vertical order at closest approach, each at
  least REVERSAL_FT), else `not free` (the advice held lost its separation with the
  same intruders). `changes_not_free` counts those last: the changes issue 13's rule
  (at most one per encounter unless the geometry reverses) is about (the second such change
  for the same intruders is held back where their own advice will make good the advice
  held: HOLD_AGAIN); `encounter_not_free`, the most of them in any one encounter of the
  advisory (ENCOUNTER_ENDS: an advisory held by its resume may live through several);
  `second_because`, on a second such change in one encounter, why it was given, not held
  back (SECOND_BECAUSE: the holds off, nothing free, an aircraft no advice moves, or no
  aircraft blocks the advice held);
* `advisory` / `end`: clear of conflict, resume the original track, speed and vertical
  speed (`resume`); with no free manoeuvre, resume as the least harmful choice
  (`reason: no free manoeuvre`, and in `cause` why the advice held was not kept: `new
  intruder` where it now loses separation with, or leaves less separated than flying on,
  an aircraft it never named, else `not free`); or the aircraft left the picture
  (`reason: gone`).

Every advisory event names its aircraft's party (`party`): the service sends it to that
party only. `digest(events)` is the SHA-256 of their canonical JSON, the figure two
parties compare to show they computed the same advice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sharedsky.alerting.carry import Carried
from sharedsky.engine import resolution as engine_resolution
from sharedsky.engine.resolution import (
    CAND_DTRK_DEG,
    CAND_GS_FACTOR,
    CAND_KIND,
    KEEP,
    NONE,
    RESUME,
    SPEED,
    TRACK,
    VERTICAL,
    Advised,
    AircraftRules,
    Resolution,
    advised_dimension,
    resolve,
)
from sharedsky.engine.separation import Conflicts, Minima, near_group
from sharedsky.ingest.snapshot import Snapshot

STATUS_NAMES = ("coordinated", "free", "best_effort")
#: `Snapshot.extra` column: the fastest ground speed each aircraft can fly (kt; NaN: not
#: known), e.g. its type's maximum in the simulator; speed advice stays within it.
GS_MAX_KT = "gs_max_kt"
#: A pair's side or vertical order at closest approach counts as reversed only when
#: both the old and the new one miss by at least this much (below, a tie).
REVERSAL_NM = 1.0e-3
REVERSAL_FT = 1.0
#: What a change of advice did to the advice held (same dimension and sense stronger or
#: weaker, another dimension, the opposite sense of the same dimension).
CHANGE_NAMES = ("same", "dimension", "sense")
#: Without a free manoeuvre, a new choice of the advice held's dimension and sense (the
#: same manoeuvre, stronger or weaker) is not given: the advice held stays.
HOLD_BEST_EFFORT = True
#: When nothing is free and the least harmful choice is to fly on or to resume (best
#: effort), the advice ends with "no free manoeuvre, resume" (never "clear of conflict":
#: it is not), and the crew flies back to its route as the engine judged least harmful.
#: With this on, the advice held stays instead, counted per step
#: (`counts["best_effort_not_ended"]`): fewer advisories given again, but flown with crews
#: 10 s late and 38 % not following (2-D 25, five seeds), 351 losses against 233 without it
#: (and, compliance drawn per encounter, seed 1: 85 against 61): the crew kept flying a
#: manoeuvre the engine judged worse than going back. Off.
HOLD_BEST_EFFORT_END = False
#: A change of advice neither for a new intruder nor for a reversal, for intruders that all
#: already made it change once (`changes_again`: a second change in one encounter, which
#: issue 13's rule forbids), is not given: the advice held stays, and the crew keeps flying
#: it. Counted per advisory (`held_again`) and per step (`counts["again_held_steps"]`).
#: On, with HOLD_AGAIN_ADVISED_ONLY (below), since it was flown on every case of the
#: safety tables (five seeds each): losses no more than without it beyond
#: one seed's scatter, changes made again two- to sevenfold fewer (none at 12.5); and on the
#: Syria 2015 day, no loss (README, "Stability"). Without HOLD_AGAIN_ADVISED_ONLY it made
#: none again, but on that day a Turkish aircraft whose second turn was held back lost
#: separation with a civil one that no advice moves (0.92 NM).
HOLD_AGAIN = True
#: ... and only where every aircraft the advice held is no longer free of holds advice of
#: its own (or is resuming): against one that no advice moves (not advised, exempt, a party
#: outside the resolution), the advice held will not be made good by the other's, and the
#: change is given.
HOLD_AGAIN_ADVISED_ONLY = True
#: HOLD_AGAIN also for a second change neither for a new intruder nor for a reversal made
#: for another aircraft the encounter named (one aircraft, then another): the rule allows
#: one such change per encounter, whichever aircraft forces it. With
#: HOLD_AGAIN_ADVISED_ONLY, as for the same intruders. On since it was flown with
#: RESUME_RETURN_CLOSES (2-D 25, five seeds: advisories changed more than once for neither a
#: new intruder nor a reversal 5.3 % -> 0.3 % with crews at once, 8.7 % -> 1.5 % with crews
#: late; losses within the seeds' scatter): README, "One change, and resume's return".
HOLD_SECOND = True
#: An advisory held through several encounters (resume not yet free, and another aircraft
#: comes into conflict with the advice held) counts issue 13's rule per encounter: once
#: every aircraft of an encounter has passed its closest approach (diverging at present
#: velocities) or left, the next aircraft to join starts a new one, and the changes of the
#: one before no longer hold a change back (HOLD_AGAIN, HOLD_SECOND). An aircraft flying
#: the advice away from a conflict is still closing until it passes, so the same
#: encounter's second change is still the second. Off: one encounter per advisory for the
#: holds (encounters are still told apart for the count, `encounter_not_free`).
#: (2-D 25 seed 1, 30 min: 100093 was told left for 10001e at t = 701 s, held the turn five
#: minutes after 10001e had passed, resume not free, and turned again at 1,007 s for 100091,
#: which came into conflict with the turn at 999 s. Without ENCOUNTER_HELD_BY_RESUME, that is
#: a new encounter; with it, one: resume was blocked by the encounter's aircraft throughout.)
ENCOUNTER_ENDS = True
#: ... and an aircraft that resuming is not free of (at the minima, or within
#: RESUME_MARGIN of them: `Resolution.resume_blockers`) is of the encounter: the advice is
#: held because of it, so its encounter is not over. Off, only aircraft named or that the
#: advice held loses separation with are. Flown (2-D 25, five seeds, crews at once and late):
#: with it, 8 and 3 encounters after an advisory's first, none changing a hold: the same
#: advice as with one encounter per advisory, advisory for advisory; without it, 839, and the
#: holds released cost 86 more advisories changed twice for 3 fewer losses in 95 (docs/
#: resolution-stability.md, "One encounter or several").
ENCOUNTER_HELD_BY_RESUME = True
#: Why a second change "not free" in one encounter was given, not held back (HOLD_AGAIN,
#: HOLD_SECOND), the first that applies: the holds are off (a variant); nothing was free
#: (best effort; what released the hold then is one of the next two); an aircraft the
#: advice held is no longer free of holds no advice (HOLD_AGAIN_ADVISED_ONLY: no advice of
#: its own will make good the advice held, and holding it loses separation); or no aircraft
#: blocks the advice held (it was not allowed, or is changed to make room for an aircraft
#: with nothing free, or is not free only of an advised neighbour's original velocity). The
#: event says it (`second_because`), and the tracker counts each.
SECOND_BECAUSE = ("nothing free", "an aircraft no advice moves", "no aircraft blocks it", "holds off")


def second_because_key(because: str) -> str:
    """The tracker's count of second changes given for `because` (one of SECOND_BECAUSE)."""
    return "second_because_" + because.replace(" ", "_")


#: An aircraft told to resume counts as turning back (or changing speed back) to its
#: original velocity while its track or speed changes faster than these between steps
#: (deg/s, kt/s): others then judge it against that velocity too (`Advised.resuming`).
RESUMING_DEG_S = 0.5
RESUMING_KT_S = 0.3
#: ... and is forgotten once it stops manoeuvring, if it has not started within
#: RESUMING_START_S, or after RESUMING_MAX_S.
RESUMING_START_S = 30.0
RESUMING_MAX_S = 180.0
#: A new advisory within READVISED_S of the aircraft's last one ending with resume,
#: for an aircraft that one named, is the same encounter advised again (`counts["readvised"]`):
#: resume, then the advice again, is a second change issue 13's rule forbids, which the
#: changes within one advisory do not count.
READVISED_S = 60.0
#: A turn's text names the speed it is flown at, and a speed change's the track, where they
#: differ from what the aircraft flies now by this much (advised earlier: `LAST_ADVISED`).
SAID_KT = 5.0
SAID_DEG = 3.0


@dataclass
class _Resuming:
    """An aircraft told to resume, until it has turned back (`Advised.resuming`)."""

    orig: tuple[float, float, float]
    orig_alt_ft: float
    since_s: float
    last: tuple[float, float, float]  # t_s, track_deg, gs_kt when last seen
    turned: bool = False


@dataclass(frozen=True)
class Rule:
    """One `[[resolution.rule]]`, with its party as an index."""

    party: int
    prefixes: tuple[str, ...]
    track: bool
    speed: bool
    vertical: bool
    priority: int
    exempt: bool
    tanker: bool


@dataclass
class AdvisoryPolicy:
    """The agreement's resolution rules, applied to a snapshot's aircraft at once."""

    rules: list[Rule] = field(default_factory=list)
    refuelling_nm: float = 1.0
    refuelling_ft: float = 1000.0

    @classmethod
    def from_agreement(cls, agreement: Any) -> AdvisoryPolicy:
        r = agreement.document.resolution
        rules = [Rule(agreement.party_index(x.party), tuple(p.upper() for p in x.callsign_prefixes),
                      "track" in x.manoeuvres, "speed" in x.manoeuvres, "vertical" in x.manoeuvres,
                      x.priority, x.exempt, x.tanker) for x in r.rule]
        # Party-wide rules first, then rules naming prefixes (more specific), each in order.
        rules.sort(key=lambda x: bool(x.prefixes))
        return cls(rules, r.refuelling_nm, r.refuelling_ft)

    def apply(self, snap: Snapshot, distress: NDArray[np.intp] | None = None) -> AircraftRules:
        """Per-aircraft rules for `snap`; aircraft at `distress` are exempt."""
        n = len(snap)
        out = AircraftRules.everyone(n)
        track, speed, vertical = out.track.copy(), out.speed.copy(), out.vertical.copy()
        exempt, priority = out.exempt.copy(), out.priority.copy()
        tanker = np.zeros(n, dtype=bool)
        calls = (np.char.upper(np.asarray(snap.callsign, dtype=str)) if snap.callsign is not None
                 else np.full(n, "", dtype=str))
        for r in self.rules:
            m = snap.party == r.party
            if r.prefixes:
                hit = np.zeros(n, dtype=bool)
                for p in r.prefixes:
                    hit |= np.char.startswith(calls, p)
                m &= hit
            track[m], speed[m], vertical[m] = r.track, r.speed, r.vertical
            priority[m], exempt[m], tanker[m] = r.priority, r.exempt, r.tanker
        if tanker.any():
            for p in np.unique(snap.party[tanker]).tolist():
                own = snap.party == p
                near = near_group(snap, tanker & own, self.refuelling_nm, 0.0, v_ft=self.refuelling_ft)
                exempt |= near & own
            exempt |= tanker
        if distress is not None and distress.size:
            exempt[distress] = True
        gs_max = snap.extra.get(GS_MAX_KT)
        return AircraftRules(track, speed, vertical, exempt, priority,
                             None if gs_max is None else np.asarray(gs_max, dtype=np.float64))


@dataclass
class _Held:
    """An aircraft's advisory between steps."""

    id: str
    party: str
    serial: int
    orig: tuple[float, float, float]  # track_deg, gs_kt, vs_fpm when first advised
    adv: tuple[float, float, float]
    first_s: float
    changes: int = 0
    intruders: list[str] = field(default_factory=list)
    orig_alt_ft: float = float("nan")  # altitude when first advised
    #: Per intruder: the side it passes on and the vertical order at closest approach
    #: (present velocities) when the advice was given or it joined (-1, 0 tie, 1).
    geometry: dict[str, tuple[int, int]] = field(default_factory=dict)
    changes_not_free: int = 0  # changes neither for a new intruder nor a reversal
    #: Intruders that made the advice held change (it was no longer free of them), and
    #: the not-free changes made again for intruders all already so (a second change in
    #: one encounter: what issue 13's rule forbids; a change naming no intruder counts too).
    blamed: set[str] = field(default_factory=set)
    changes_again: int = 0
    #: The aircraft of the present encounter: named as intruders, or the advice held lost
    #: its separation with them, or resuming is not free of them (ENCOUNTER_HELD_BY_RESUME);
    #: kept while still closing (present velocities) or blocking the resume. When none is
    #: left, the encounter is over (ENCOUNTER_ENDS).
    encounter: set[str] = field(default_factory=set)
    #: Changes neither for a new intruder nor a reversal in the present encounter, and the
    #: most in any one encounter of this advisory: what issue 13's rule counts.
    encounter_not_free: int = 0
    max_encounter_not_free: int = 0
    #: Steps at which such a change was held back (HOLD_AGAIN).
    held_again: int = 0
    #: The dimension of the advice (TRACK, SPEED, VERTICAL; NONE: no manoeuvre): `adv`
    #: holds it as given, and the other components as the aircraft flies them now.
    kind: int = NONE
    #: The level of the last vertical advice (NaN: none yet): flown to and held, also
    #: through a turn or speed change given after it, until the advice ends.
    level_ft: float = float("nan")
    #: The track of the last turn and the speed of the last speed change advised (NaN: none
    #: yet): flown through later advice of another kind until the advice ends, as crews fly
    #: it (`LAST_ADVISED`).
    track_deg: float = float("nan")
    gs_kt: float = float("nan")

    def advised_now(self, trk_deg: float, gs_kt: float, vs_fpm: float) -> tuple[float, float, float]:
        """The velocity the advice holds the aircraft to, flying (trk_deg, gs_kt, vs_fpm)
        now: its own dimension as given; a track or speed advised earlier in the encounter
        (`LAST_ADVISED`); in the rest, what the aircraft flies now (a turn given while
        climbing to a level is not judged on that climb once it has levelled off)."""
        if engine_resolution.LAST_ADVISED:
            trk_deg = self.track_deg if np.isfinite(self.track_deg) else trk_deg
            gs_kt = self.gs_kt if np.isfinite(self.gs_kt) else gs_kt
        return (self.adv[0] if self.kind == TRACK else trk_deg, self.adv[1] if self.kind == SPEED else gs_kt,
                self.adv[2] if self.kind == VERTICAL else vs_fpm)

    def given(self, kind: int, adv: tuple[float, float, float]) -> None:
        """Record advice of `kind` given: the dimension it holds until the advice ends."""
        self.adv, self.kind = adv, kind
        if kind == TRACK:
            self.track_deg = adv[0]
        elif kind == SPEED:
            self.gs_kt = adv[1]


def _relative(snap: Snapshot, i: int, j: int) -> tuple[float, float, float, float, float]:
    """Aircraft j seen from aircraft i, present velocities, local flat plane: relative
    position (NM east, north), relative velocity (NM/s east, north), and the time to
    their closest approach (s; -1 for no relative motion)."""
    lat0 = float(snap.lat_deg[i])
    rx = ((float(snap.lon_deg[j]) - float(snap.lon_deg[i]) + 180.0) % 360.0 - 180.0) * 60.0 * np.cos(np.radians(lat0))
    ry = (float(snap.lat_deg[j]) - lat0) * 60.0
    ti, gi = np.radians(float(snap.track_deg[i])), float(snap.gs_kt[i]) / 3600.0
    tj, gj = np.radians(float(snap.track_deg[j])), float(snap.gs_kt[j]) / 3600.0
    wx = gj * np.sin(tj) - gi * np.sin(ti)
    wy = gj * np.cos(tj) - gi * np.cos(ti)
    ww = wx * wx + wy * wy
    return rx, ry, wx, wy, -(rx * wx + ry * wy) / ww if ww > 0.0 else -1.0


def _still_closing(snap: Snapshot, i: int, others: Iterable[str], row: dict[str, int]) -> set[str]:
    """Those of `others` still in the picture and not yet past their closest approach with
    aircraft i (present velocities)."""
    return {o for o in others if (j := row.get(o)) is not None and _relative(snap, i, j)[4] > 0.0}


def _geometry(snap: Snapshot, i: int, others: Sequence[str], horizon_s: float,
              row: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Side (sign of relative position x relative velocity) and vertical order (sign of
    the height difference at closest approach) of each of `others` seen from aircraft i,
    present velocities, local flat plane; 0 for a tie, both 0 for a pair not closing
    within `horizon_s` (its side does not matter). `row`: snapshot index by id."""
    out: dict[str, tuple[int, int]] = {}
    for o in others:
        j = row.get(o)
        if j is None:
            continue
        rx, ry, wx, wy, t_cpa = _relative(snap, i, j)
        ww = wx * wx + wy * wy
        if not 0.0 < t_cpa <= horizon_s:
            out[o] = (0, 0)  # not closing within the look-ahead: no side to reverse
            continue
        cross = rx * wy - ry * wx
        side = 0
        if abs(cross) / np.sqrt(ww) >= REVERSAL_NM:
            side = 1 if cross > 0 else -1
        dz = (float(snap.alt_ft[j]) - float(snap.alt_ft[i])
              + (float(snap.vs_fpm[j]) - float(snap.vs_fpm[i])) / 60.0 * t_cpa)
        order = 0 if not np.isfinite(dz) or abs(dz) < REVERSAL_FT else (1 if dz > 0 else -1)
        out[o] = (side, order)
    return out


def _as_said(v: tuple[float, float, float]) -> tuple[int, int, int]:
    """Advice (track_deg, gs_kt, vs_fpm) as the event says it: whole degrees and knots,
    hundreds of ft/min."""
    return round(v[0]) % 360, round(v[1]), int(round(v[2], -2))


def _reversed(old: dict[str, tuple[int, int]], new: dict[str, tuple[int, int]]) -> bool:
    """Some pair's side or vertical order flipped (ties never flip)."""
    for o, (s0, z0) in old.items():
        if o in new:
            s1, z1 = new[o]
            if s0 * s1 < 0 or z0 * z1 < 0:
                return True
    return False


def _change_kind(orig: tuple[float, float, float], old: tuple[float, float, float], old_kind: int,
                 new: tuple[float, float, float], new_kind: int) -> int:
    """Index in CHANGE_NAMES of the change from advice `old` to `new` (both relative to
    the original velocity `orig`), given in dimensions `old_kind` and `new_kind`."""
    dim, sgn = advised_dimension(
        (np.full(2, orig[0]), np.full(2, orig[1]), np.full(2, orig[2])),
        (np.array([old[0], new[0]]), np.array([old[1], new[1]]), np.array([old[2], new[2]])),
        np.array([old_kind, new_kind], dtype=np.int8))
    if dim[0] != dim[1]:
        return 1
    return 2 if sgn[0] * sgn[1] < 0 else 0


def _level_of(res: Resolution, k: int) -> float:
    """The level owner k's vertical advice climbs or descends to (NaN: none)."""
    return float("nan") if res.alt_ft is None else float(res.alt_ft[k])


def _sense(kind: int, dtrk: float, gs_from: float, gs_to: float, vs_to: float) -> str:
    if kind == TRACK:
        return "turn right" if dtrk > 0 else "turn left"
    if kind == SPEED:
        return "increase speed" if gs_to > gs_from else "reduce speed"
    if kind == VERTICAL:
        return "climb" if vs_to > 0 else ("descend" if vs_to < 0 else "level off")
    return "resume"


def _bands(snap: Snapshot, res: Resolution, k: int) -> dict[str, list[int]]:
    """Aircraft k's guidance bands as the engine judged them: for each dimension the
    agreement lets it be given, the values its free candidates go to (track, ground speed,
    level; an empty list: none of that dimension is free). The candidates are steps (5-10
    deg, 10-20 % of the speed, one or two flight levels), so a value between two listed
    ones was not judged."""
    i = int(res.owner[k])
    may = res.allowed[k] if res.allowed is not None else np.ones(CAND_KIND.shape, dtype=bool)
    free = res.free[k] & may
    out: dict[str, list[int]] = {}
    if (may & (CAND_KIND == TRACK)).any():
        # As the engine forms its candidates (`resolve`): the same float operations.
        trk = (snap.track_deg[i] + CAND_DTRK_DEG[free & (CAND_KIND == TRACK)]) % 360.0
        out["track_deg"] = sorted({round(float(x)) % 360 for x in trk})
    if (may & (CAND_KIND == SPEED)).any():
        gs = snap.gs_kt[i] * CAND_GS_FACTOR[free & (CAND_KIND == SPEED)]
        out["gs_kt"] = sorted({round(float(x)) for x in gs})
    if (may & (CAND_KIND == VERTICAL)).any() and res.levels_ft is not None:
        lv = res.levels_ft[k, free & (CAND_KIND == VERTICAL)]
        out["alt_ft"] = sorted({int(round(float(x), -2)) for x in lv})
    return out


def _covered(levels: Sequence[Minima], level: Minima, buffer: float) -> bool:
    """Whether some alert level holds the buffered resolution minima for every pair."""
    need = level.checked
    for lv in levels:
        ok = lv.checked & (lv.h_nm >= level.h_nm * buffer) & (lv.v_ft >= level.v_ft * buffer) & (lv.t_s >= level.t_s)
        if bool(np.all(ok | ~need)):
            return True
    return False


class AdvisoryTracker(Carried):
    """Resolution advisories per aircraft, kept between steps."""

    CARRIED: ClassVar[tuple[str, ...]] = ("held", "resuming", "ended", "serial", "counts")

    def __init__(self, minima: Minima, policy: AdvisoryPolicy | None = None, *, buffer: float = 1.1,
                 lead_s: float = 5.0, frequencies_mhz: Sequence[float] = ()) -> None:
        self.minima = minima
        self.policy = policy if policy is not None else AdvisoryPolicy()
        self.buffer = float(buffer)
        self.lead_s = float(lead_s)
        self.frequencies_mhz = [float(f) for f in frequencies_mhz]
        self.held: dict[str, _Held] = {}
        self.resuming: dict[str, _Resuming] = {}
        #: When each aircraft's advice last ended with resume, whom it named, whether
        #: nothing was free then, and whether it then ended for an aircraft it had not
        #: named (kept READVISED_S).
        self.ended: dict[str, tuple[float, list[str], bool, bool]] = {}
        #: Closest approaches for the reversal test are sought within the look-ahead.
        self.horizon_s = float(np.max(np.where(minima.checked, minima.t_s, 0.0))) if minima.checked.any() else 0.0
        self.serial = 0
        self.counts: dict[str, int] = {"advisories": 0, "advisory_changes": 0, "resumed": 0,
                                       "best_effort": 0, "changes_new_intruder": 0,
                                       "changes_reversal": 0, "changes_not_free": 0,
                                       **{f"changes_{c}": 0 for c in CHANGE_NAMES},
                                       "changes_not_free_best_effort": 0, "best_effort_held": 0,
                                       "changes_again": 0, "changes_making_room": 0,
                                       "advisories_held_again": 0,
                                       "again_held_steps": 0, "readvised": 0,
                                       "best_effort_not_ended": 0, "ended_not_free": 0,
                                       "readvised_not_free": 0, "readvised_not_free_new_intruder": 0}
        self.last: Resolution = Resolution.empty()
        #: The alert levels detect every conflict the resolution could act on (their
        #: envelope holds the buffered minima): a step without conflicts needs no work.
        self.covered = False

    @classmethod
    def for_agreement(cls, agreement: Any, levels: Sequence[Minima]) -> AdvisoryTracker | None:
        """The tracker the agreement's `[resolution]` asks for, or None when it is off."""
        r = getattr(getattr(agreement, "document", None), "resolution", None)
        if r is None or not r.enabled:
            return None
        names = [lv.name for lv in levels]
        level = levels[names.index(r.level)] if r.level in names else levels[-1]
        if not r.same_party:
            own = np.eye(level.n_parties, dtype=bool)
            level = Minima(level.name, np.where(own, 0.0, level.h_nm), np.where(own, 0.0, level.v_ft),
                           np.where(own, -1.0, level.t_s), level.alt_unknown_h)
        tracker = cls(level, AdvisoryPolicy.from_agreement(agreement), buffer=r.buffer, lead_s=r.lead_s,
                      frequencies_mhz=agreement.channels.distress_mhz)
        tracker.covered = _covered(levels, level, r.buffer)
        return tracker

    @property
    def idle(self) -> bool:
        return not self.held

    def _advised(self, snap: Snapshot) -> tuple[Advised, dict[str, int]]:
        """The advice held, as the engine takes it, and each holder's snapshot index; the
        held advice's dimensions not advised are brought up to what is flown now."""
        n = len(snap)
        adv = Advised.none(n)
        if not self.held and not self.resuming:
            return adv, {}
        row = {str(x): i for i, x in enumerate(snap.id.tolist()) if str(x) in self.held or str(x) in self.resuming}
        cols = [np.full(n, np.nan) for _ in range(8)]
        kind = np.full(n, NONE, dtype=np.int8)
        resuming = np.zeros(n, dtype=bool)
        for ident in sorted(set(self.resuming) - set(row)):
            del self.resuming[ident]
        for ident, i in row.items():
            r = self.resuming.get(ident)
            if r is not None and ident not in self.held:
                if self._still_resuming(r, snap, i):
                    resuming[i] = True
                    for c, v in zip(cols, (*r.orig, *r.orig, r.orig_alt_ft, np.nan), strict=True):
                        c[i] = v
                continue
            h = self.held[ident]
            h.adv = h.advised_now(float(snap.track_deg[i]), float(snap.gs_kt[i]), float(snap.vs_fpm[i]))
            kind[i] = h.kind
            for c, v in zip(cols, (*h.orig, *h.adv, h.orig_alt_ft, h.level_ft), strict=True):
                c[i] = v
        row = {k: v for k, v in row.items() if k in self.held}
        return (Advised(cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], adv_kind=kind,
                        adv_alt_ft=cols[7], resuming=resuming), row)

    def _still_resuming(self, r: _Resuming, snap: Snapshot, i: int) -> bool:
        """Whether aircraft i, told to resume, is turning (or changing speed) back to its
        original velocity now; forgets it once it has stopped, or never started."""
        t, trk, gs = snap.t_s, float(snap.track_deg[i]), float(snap.gs_kt[i])
        dt = t - r.last[0]
        manoeuvring = False
        if dt > 0.0:
            d_trk = abs((trk - r.last[1] + 180.0) % 360.0 - 180.0)
            manoeuvring = d_trk > RESUMING_DEG_S * dt or abs(gs - r.last[2]) > RESUMING_KT_S * dt
            r.last = (t, trk, gs)
        elif dt < 0.0:
            r.last = (t, trk, gs)
        ident = str(snap.id[i])
        if manoeuvring:
            r.turned = True
        elif r.turned or t - r.since_s > RESUMING_START_S:
            del self.resuming[ident]
            return False
        if t - r.since_s > RESUMING_MAX_S:
            del self.resuming[ident]
            return False
        return manoeuvring

    def _join(self, h: _Held, snap: Snapshot, i: int, intruders: Sequence[str],
              rows: Callable[[], dict[str, int]]) -> None:
        """Aircraft that joined the encounter of `h` (row `i`), added to the advice held as it stays."""
        joined = sorted(set(intruders) - set(h.intruders))
        if joined:
            h.geometry.update(_geometry(snap, i, joined, self.horizon_s, rows()))
            h.intruders = sorted(set(h.intruders) | set(joined))

    def _encounter(self, h: _Held, snap: Snapshot, i: int, now: set[str], blocking: set[str],
                   rows: Callable[[], dict[str, int]]) -> None:
        """Keep the aircraft of `h`'s present encounter (row `i`; `now`: those it names
        this step, `blocking`: those resuming is not free of); once all have passed (or
        left) and none holds the advice by blocking the resume, the next to join starts a
        new one."""
        if not ENCOUNTER_HELD_BY_RESUME:
            blocking = set()
        still = _still_closing(snap, i, h.encounter, rows()) | (h.encounter & blocking)
        now = now | blocking
        if h.encounter and not still and now - h.encounter:
            self.counts["encounters_after_the_first"] = self.counts.get("encounters_after_the_first", 0) + 1
            h.encounter_not_free = 0
            if ENCOUNTER_ENDS:
                h.blamed = set()
        elif h.encounter and not still:
            return  # nobody new yet: the encounter is over, its aircraft kept to tell
        h.encounter = still | now

    def step(self, snap: Snapshot, distress: NDArray[np.intp] | None = None,
             conflicts: Conflicts | None = None) -> list[dict[str, Any]]:
        """Advisory events of this instant (`conflicts`: what the step's levels found)."""
        t = snap.t_s
        if conflicts is not None and self.covered and not self.held:
            pa, pb = snap.party[conflicts.a], snap.party[conflicts.b]
            if not self.minima.checked[pa, pb].any():  # none between pairs resolution covers
                self.last = Resolution.empty()
                return []
        advised, row = self._advised(snap)
        events: list[dict[str, Any]] = []
        if self.ended:
            for ident in [a for a, e in self.ended.items() if t - e[0] > READVISED_S]:
                del self.ended[ident]
        for ident in sorted(set(self.held) - set(row)):
            events.append(self._event("end", t, self.held.pop(ident), {"reason": "gone"}))
        if len(snap) < 2 and not self.held:
            self.last = Resolution.empty()
            return events
        rules = self.policy.apply(snap, distress)
        res = resolve(snap, self.minima, rules, advised, buffer=self.buffer, lead_s=self.lead_s)
        self.last = res
        ids = snap.id
        row_of: dict[str, int] = {}

        def rows() -> dict[str, int]:
            """Snapshot index by id, built once a step when first needed."""
            if not row_of:
                row_of.update({str(x): n for n, x in enumerate(ids.tolist())})
            return row_of
        for k in range(len(res)):
            i = int(res.owner[k])
            ident = str(ids[i])
            choice = int(CAND_KIND[res.choice[k]])
            h = self.held.get(ident)
            if h is not None:
                self._encounter(h, snap, i, set(res.intruders[k]) | set(res.keep_blockers[k] if res.keep_blockers else ()),
                                set(res.resume_blockers[k] if res.resume_blockers else ()), rows)
            adv = (float(res.track_deg[k]), float(res.gs_kt[k]), float(res.vs_fpm[k]))
            # The advice held, restated from another candidate (as the event says it), is no change.
            restated = h is not None and choice in (TRACK, SPEED, VERTICAL) and _as_said(adv) == _as_said(h.adv)
            if restated and choice == VERTICAL:  # ... and to the same level (to the 100 ft said)
                assert h is not None
                restated = round(_level_of(res, k), -2) == round(h.level_ft, -2)
            if choice == KEEP or (choice == NONE and h is None) or restated:
                if h is not None:
                    self._join(h, snap, i, res.intruders[k], rows)
                continue
            if (HOLD_BEST_EFFORT_END and h is not None and choice in (RESUME, NONE)
                    and res.status[k] == 2):
                # Nothing free, and the least harmful is to fly on or go back: not "clear of
                # conflict". The advice held stays (the crew keeps flying it), as with
                # HOLD_BEST_EFFORT; the engine judges it again next step.
                self._join(h, snap, i, res.intruders[k], rows)
                self.counts["best_effort_not_ended"] = self.counts.get("best_effort_not_ended", 0) + 1
                continue
            if choice == RESUME or (choice == NONE and h is not None):
                assert h is not None
                del self.held[ident]
                self.resuming[ident] = _Resuming(h.orig, h.orig_alt_ft, t,
                                                 (t, float(snap.track_deg[i]), float(snap.gs_kt[i])))
                self.counts["resumed"] += 1
                # Resume is the engine's least harmful choice with nothing free: said so.
                stuck = bool(res.status[k] == 2)
                end: dict[str, Any] = {}
                if stuck:
                    self.counts["ended_not_free"] = self.counts.get("ended_not_free", 0) + 1
                    # Why not kept: an aircraft the encounter never named (in conflict now,
                    # or one the advice held loses separation with or leaves less separated
                    # than flying on: `keep_harmed`) joined it, as for a change; else the
                    # same aircraft.
                    why = set(res.intruders[k]) | set(res.keep_blockers[k] if res.keep_blockers else ())
                    why |= set(res.keep_harmed[k] if res.keep_harmed else ())
                    end["cause"] = "new intruder" if why - set(h.intruders) else "not free"
                self.ended[ident] = (t, list(h.intruders), stuck, end.get("cause") == "new intruder")
                trk = round(h.orig[0]) % 360
                events.append(self._event("end", t, h, end | {
                    "reason": "no free manoeuvre" if stuck else "clear of conflict", "manoeuvre": "resume",
                    "track_deg": trk, "gs_kt": round(h.orig[1]), "vs_fpm": int(round(h.orig[2], -2)),
                    "text": f"{'No free manoeuvre' if stuck else 'Clear of conflict'}, resume track {trk:03d}",
                }))
                continue
            body = self._advice(snap, res, k, rules)
            if h is None:
                self.serial += 1
                h_new = _Held(ident, snap.parties[int(snap.party[i])], self.serial,
                          (float(snap.track_deg[i]), float(snap.gs_kt[i]), float(snap.vs_fpm[i])),
                          adv, t, 0, sorted(res.intruders[k]), float(snap.alt_ft[i]),
                          level_ft=_level_of(res, k))
                h_new.given(choice, adv)
                h_new.geometry = _geometry(snap, i, h_new.intruders, self.horizon_s, rows())
                h_new.encounter = set(h_new.intruders)
                self.held[ident] = h = h_new
                self.resuming.pop(ident, None)
                self.counts["advisories"] += 1
                last = self.ended.pop(ident, None)
                if last is not None and set(last[1]) & set(h_new.intruders):
                    self.counts["readvised"] = self.counts.get("readvised", 0) + 1
                    if len(last) > 2 and last[2]:  # (a state carried before has no flag)
                        self.counts["readvised_not_free"] = self.counts.get("readvised_not_free", 0) + 1
                        if len(last) > 3 and last[3]:  # ended for an aircraft not named before
                            self.counts["readvised_not_free_new_intruder"] = (
                                self.counts.get("readvised_not_free_new_intruder", 0) + 1)
                state = "new"
            else:
                now = set(res.intruders[k]) | set(res.keep_blockers[k] if res.keep_blockers else ())
                geometry = _geometry(snap, i, sorted(set(h.intruders) | now), self.horizon_s, rows())
                if now - set(h.intruders):
                    cause = "new intruder"
                elif _reversed(h.geometry, geometry):
                    cause = "reversal"
                else:
                    cause = "not free"
                    if HOLD_BEST_EFFORT and res.status[k] == 2 and _change_kind(h.orig, h.adv, h.kind, adv, choice) == 0:
                        # No free manoeuvre, and the best is the advice held, stronger or
                        # weaker: the crew keeps flying it (issue 13: one change at most).
                        # (No new intruder here, so the intruders and geometry held stand.)
                        self.counts["best_effort_held"] += 1
                        continue
                    blockers = set(res.keep_blockers[k]) if res.keep_blockers else set()
                    again = not blockers or blockers <= h.blamed
                    second = HOLD_SECOND and (h.encounter_not_free if ENCOUNTER_ENDS else h.changes_not_free) > 0
                    moved = bool(blockers) and all(b in self.held or b in self.resuming for b in blockers)
                    if (again or second) and HOLD_AGAIN and (moved or not HOLD_AGAIN_ADVISED_ONLY):
                        if not h.held_again:
                            self.counts["advisories_held_again"] += 1
                        h.held_again += 1
                        self.counts["again_held_steps"] += 1
                        continue
                    if (h.encounter_not_free if ENCOUNTER_ENDS else h.changes_not_free) > 0:
                        # A second change the holds did not keep back: why (SECOND_BECAUSE).
                        because = (SECOND_BECAUSE[3] if not ((again or second) and HOLD_AGAIN)
                                   else SECOND_BECAUSE[0] if res.status[k] == 2
                                   else SECOND_BECAUSE[1] if blockers else SECOND_BECAUSE[2])
                        body["second_because"] = because
                        key = second_because_key(because)
                        self.counts[key] = self.counts.get(key, 0) + 1
                    h.changes_not_free += 1
                    h.encounter_not_free += 1
                    h.max_encounter_not_free = max(h.max_encounter_not_free, h.encounter_not_free)
                    if again:
                        h.changes_again += 1
                        self.counts["changes_again"] += 1
                    h.blamed |= blockers
                    if res.status[k] == 2:
                        self.counts["changes_not_free_best_effort"] += 1
                self.counts["changes_" + cause.replace(" ", "_")] += 1
                self.counts["changes_" + CHANGE_NAMES[_change_kind(h.orig, h.adv, h.kind, adv, choice)]] += 1
                body["cause"] = cause
                h.given(choice, adv)
                if choice == VERTICAL:
                    h.level_ft = _level_of(res, k)
                h.changes += 1
                if "room_for" in body:
                    self.counts["changes_making_room"] += 1
                h.intruders = sorted(set(h.intruders) | now)
                h.geometry = geometry
                self.counts["advisory_changes"] += 1
                state = "updated"
            if res.status[k] == 2:
                self.counts["best_effort"] += 1
            events.append(self._event(state, t, h, body))
        return events

    def _advice(self, snap: Snapshot, res: Resolution, k: int, rules: AircraftRules) -> dict[str, Any]:
        i = int(res.owner[k])
        c = int(res.choice[k])
        kind = int(CAND_KIND[c])
        dtrk = float(CAND_DTRK_DEG[c])
        trk = round(float(res.track_deg[k])) % 360
        gs = round(float(res.gs_kt[k]))
        vs = int(round(float(res.vs_fpm[k]), -2))
        sense = _sense(kind, dtrk, float(snap.gs_kt[i]), float(res.gs_kt[k]), float(res.vs_fpm[k]))
        name = {TRACK: "track", SPEED: "speed", VERTICAL: "vertical"}.get(kind, "none")
        if kind == TRACK:
            text = f"{sense.capitalize()} {abs(int(dtrk))} deg, track {trk:03d}"
            if abs(gs - float(snap.gs_kt[i])) >= SAID_KT:  # a speed advised earlier still stands
                text += f", at {gs} kt"
        elif kind == SPEED:
            text = f"{sense.capitalize()} to {gs} kt"
            if abs((trk - float(snap.track_deg[i]) + 180.0) % 360.0 - 180.0) >= SAID_DEG:  # ... or a track
                text += f", track {trk:03d}"
        elif kind == VERTICAL:
            level = int(round(_level_of(res, k), -2))
            text = (f"Level off at {level:,} ft" if vs == 0
                    else f"{sense.capitalize()} to {level:,} ft at {abs(vs)} ft/min")
        else:
            text = "No manoeuvre available"
        body: dict[str, Any] = {
            "manoeuvre": name, "sense": sense, "track_deg": trk, "gs_kt": gs, "vs_fpm": vs,
            "change_deg": int(dtrk) if kind == TRACK else 0,
            "status": STATUS_NAMES[int(res.status[k])],
            "intruders": sorted(res.intruders[k]),
            "bands": _bands(snap, res, k),
            "text": text + (f", clear of {', '.join(sorted(res.intruders[k]))}" if res.intruders[k] else ""),
            "latitude": round(float(snap.lat_deg[i]), 5), "longitude": round(float(snap.lon_deg[i]), 5),
        }
        if kind == VERTICAL:
            body["alt_ft"] = level
        room = sorted(res.room_for[k]) if res.room_for else []
        if room:  # changed, not kept, to let an aircraft with nothing free out
            body["room_for"] = room
            body["text"] += f", making room for {', '.join(room)}"
        if snap.callsign is not None:
            body["callsign"] = str(snap.callsign[i])
        return body

    def _event(self, state: str, t: float, h: _Held, body: dict[str, Any]) -> dict[str, Any]:
        ev = {"kind": "advisory", "state": state, "t": t, "id": f"advisory-{h.id}-{h.serial}",
              "icao24": h.id, "party": h.party, "changes": h.changes,
              "changes_not_free": h.changes_not_free, "changes_again": h.changes_again,
              "encounter_not_free": h.max_encounter_not_free, **body}
        if self.frequencies_mhz:
            ev["frequencies_mhz"] = list(self.frequencies_mhz)
        return ev


def canonical(events: Sequence[dict[str, Any]]) -> bytes:
    """Canonical JSON of events (sorted keys, no spaces, UTF-8): the bytes both parties hash."""
    return json.dumps(list(events), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def digest(events: Sequence[dict[str, Any]]) -> str:
    """SHA-256 of the canonical JSON of `events`."""
    return hashlib.sha256(canonical(events)).hexdigest()
