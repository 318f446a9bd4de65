"""Resolution: for every aircraft in a predicted conflict, the manoeuvres that keep it
clear of every other aircraft, and one recommended manoeuvre that both parties compute
alike.

Pure functions over one snapshot; no I/O, no clock.

Manoeuvres. Each candidate is one change of the aircraft's velocity, flown after a lead
time (`lead_s`, the crew's reaction: until then every aircraft keeps its present
velocity) as the crews fly it (`_flown`: a turn along its arc at BANK_DEG, as ARC_CHORDS
chords; a speed change at ACCEL_KT_S), and also as if at once (so that an aircraft turning
tighter is judged too): a new track (present track +/- 5..90 deg in 5 deg steps), a new
ground speed (present x 0.8, 0.9, 1.1, 1.2) or a level change (to the flight level nearest 1,000 ft at 1,000 ft/min
or 2,000 ft at 2,000 ft/min, up or down, then level; or level off where it is): two
segments, judged as flown, not a climb for as long as the advice lasts. A candidate is
*free* when, flown from the end of the lead time
to the end of the look-ahead, it loses no separation (the pair's agreed minima times
`buffer`) with any other aircraft, each flying its present velocity and, where it has
an advisory of its own, that advised velocity too (to its level, if vertical), and one
climbing or descending towards the level its crew has selected (`SEL_ALT_FT`, where the
feed gives it: SELECTED_LEVEL) levelling off there: a free manoeuvre keeps the aircraft
clear whether or not the other complies. The free candidates
of each dimension are the aircraft's guidance bands.

Coordination without talking. For a pair in conflict, let m be the position of the
other aircraft relative to this one at their closest approach (present velocities;
the heights with each vertical motion flown to its level, as the candidates are judged).
A manoeuvre is *coordinated* with the pair when it does not move the aircraft towards
m (dv . m <= 0 horizontally, dvz * dz_cpa <= 0 vertically). The other aircraft's m is
exactly -m, so the two senses are complementary by construction: neither aircraft's
advice undoes the other's. Ties are broken without randomness: |m| < 1e-6 NM (exactly
head-on, or on one line, but for rounding) uses the right-hand perpendicular of the
relative velocity (both turn right, as the rules of the air say for head-on
encounters); |dz_cpa| < 1e-3 ft makes
the aircraft first in the total order on ids (Python `str` order, i.e. code points, so
ids equal but for case differ) climb and the other descend; level with an aircraft that
never manoeuvres (exempt, or allowed nothing) either sense is coordinated.

Choice. Each aircraft's recommended manoeuvre is its cheapest candidate that is
allowed (by the agreement), free and coordinated with all its conflicts; failing
that, free; failing that (best effort), the one whose worst intrusion is shallowest among
those that leave no pair less separated than flying on against the same neighbour motions
does (BEST_EFFORT_FROM_NONE; for an aircraft holding advice, among the pairs it would be
judged on were it not advised: HARM_AS_NOT_ADVISED), a coordinated one or the advice held
counted as leaving BEST_EFFORT_COORD or BEST_EFFORT_KEEP more. Among free
candidates, one that stays clear of the aircraft in conflict over LASTING_FACTOR times the
look-ahead comes first (on slowly converging tracks the smallest free turn only moves the
loss past the look-ahead, and the advice would change again when it comes back into it),
then one with a margin (the next MARGIN_STEPS stronger
candidates of its kind and sense free too). Costs grow with
the size of the change (degrees of turn; a 10 % speed change costs as a 12 deg turn; a
1,000 ft level change at 1,000 ft/min as a 10 deg turn, 2,000 ft at 2,000 ft/min as a 20
deg one), ties broken by candidate order (right before
left, climb before descend): deterministic, so the same snapshot and rules give the
same advice on every machine.

Stability. An aircraft already advised keeps its advice while it stays free of the
agreed minima times KEEP_BUFFER (less than the buffer needed to choose it: hysteresis),
and is told to resume its course once its original velocity is free again, with
RESUME_MARGIN times the horizontal minima from every neighbour, both where it is and
back at its original altitude. The advice held is judged against an advised
neighbour's advised velocity, and against its present one only when that is still its
original one (late or not complying; KEEP_YIELDS_TO_RESUME): not against the original
velocity it would resume, since it resumes only once clear of the advice held, nor
against the one it has half-way through its own manoeuvre. When the advice held is no
longer free, a new choice prefers (below coordination and margin) the sense already
advised (`_same_sense`), and in that sense a turn or speed change at least STRENGTHEN_DEG
(or STRENGTHEN_GS_FRACTION) beyond the advice held (weighed as a margin): strengthened in
one step, not a few degrees more every few seconds.

Joint resolution. After the first choice, up to ROUNDS further rounds judge every
candidate also against the advice the neighbours now hold (accumulated over the rounds),
so two aircraft manoeuvring at once do not turn into each other when a manoeuvre free of
both exists; a choice that lasts (above) is judged lasting against the advice the aircraft
in conflict now holds too, so that two turns each lasting against the other flying on do
not together meet just past the look-ahead.

Cost. The neighbours of each aircraft to advise come from the same uniform-grid broad
phase as separation (boxes covering every candidate path), narrowed by `_apart` (an
exact test: flying on, the pair never comes within the horizontal minimum nor within the
vertical one, so no turn, which keeps the vertical speed, and no vertical manoeuvre, which
keeps the horizontal velocity, can lose separation) and `_near` to those that can come
within the minima of some candidate path (a conservative sampled test), and every
candidate of every remaining (aircraft, neighbour) pair is solved in closed form at once
(turns only where the vertical motion allows a loss, vertical manoeuvres only where the
horizontal one does): no Python loop per aircraft or pair. A joint round judges again only the pairs whose
neighbour's new advice can bring it near.

Arithmetic. Sums of products are written out term by term (no BLAS, no einsum), so the
same inputs give the same bits wherever numpy computes IEEE arithmetic the same way;
trigonometry may differ in the last bit between CPUs, which can change a decision only
when a candidate misses a minimum by less than about 1e-12 NM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.geo import MEAN_RADIUS_NM, ecef_nm, up_vectors, velocity_ecef_nm_s
from sharedsky.engine.intervals import open_interval_horizontal, open_interval_vertical
from sharedsky.engine.parallel import by_rows
from sharedsky.engine.separation import Minima, detect, grid_pairs
from sharedsky.ingest.snapshot import SEL_ALT_FT, Snapshot

F64 = NDArray[np.float64]
IDX = NDArray[np.intp]
BOOL = NDArray[np.bool_]

# -- the candidate manoeuvres --------------------------------------------------------------

NONE, TRACK, SPEED, VERTICAL, RESUME, KEEP = 0, 1, 2, 3, 4, 5
KIND_NAMES = ("none", "track", "speed", "vertical", "resume", "keep")
#: Columns of the candidate grid: present velocity, resume (original), keep (advised).
COL_NONE, COL_RESUME, COL_KEEP = 0, 1, 2
#: Misses smaller than these are ties (exactly head-on or level): senses then follow the
#: tie rules, never the rounding of the geometry.
TIE_NM = 1.0e-6
TIE_FT = 1.0e-3
#: Resume needs this many times the horizontal minima from every neighbour ahead.
RESUME_MARGIN = 2.0
#: ... over this fraction of the look-ahead (the agreed minima, buffered, are judged over
#: all of it as for every candidate). 1.0: the margin over the whole look-ahead. Half of it
#: was flown (seed 1 each, crews at once): 2-D 25, 676 advisories against 450, 115 given
#: again within 60 s of a resume against 22, 21 losses against 20; 3-D 25, 345 advisories
#: against 174 and 153 given again against 6. Resume is freed sooner and the advice comes
#: back: the margin over the whole look-ahead stays.
RESUME_MARGIN_T_FACTOR = 1.0
#: Resume is judged back at the original altitude when the aircraft will be at least this
#: far from it after the lead time (less is float noise). It was 100 ft: two aircraft
#: 1,000 ft apart, advised and each 65 ft into its level change, were judged clear of the
#: buffered 1,100 ft where they were, resumed, and were given the same advice again 2 s
#: later, back at 1,000 ft (3-D 25, seed 3: 58 advisories given again within 10 s of the
#: resume, for the same aircraft).
BACK_MIN_FT = 1.0
#: How the engine expects a manoeuvre to be flown: turns at this bank, speed changes at
#: this rate (an airliner's; faster aircraft only do better).
BANK_DEG = 25.0
ACCEL_KT_S = 1.0
G_MS2 = 9.80665
MS_PER_KT = 1852.0 / 3600.0
#: Advice given is kept while free of the agreed minima times this (chosen: `buffer`).
KEEP_BUFFER = 1.0
#: Without a free manoeuvre, the advice held is kept unless another leaves this much more
#: of the minima at closest approach.
BEST_EFFORT_KEEP = 0.1
#: ... and a coordinated one is preferred unless another leaves this much more. Chosen
#: first whatever it left (as before), a coordinated speed change leaving 0.38 of the
#: minima replaced a turn held that left 0.85, and the turn came back when the sense at
#: closest approach, ill-defined inside the minima, flipped again (best effort changed
#: four times in 7 s, 2-D 25 seed 1). Separation is judged against the neighbour's new
#: advice, and two aircraft manoeuvring at once are checked together, so a turn towards
#: the other's closest point is not a turn into it.
BEST_EFFORT_COORD = 0.1
#: A new choice for an aircraft already advised: in the dimension and sense of its
#: advisory, in another dimension, or reversing it (`_same_sense`).
SAME_SENSE, OTHER_DIMENSION, REVERSED, WEAK = 0, 1, 2, 3
#: WEAK: a turn or speed change in the sense of the advice held that goes less than this
#: far beyond it (deg; a fraction of the original speed). An aircraft whose advice is no
#: longer free, told a few degrees more each time (candidates are steps from the velocity
#: flown, mid-turn nearer the advice than the step), changed it again every few seconds;
#: strengthening in one step, as TCAS strengthens, is preferred (weighed as no margin).
STRENGTHEN_DEG = 10.0
STRENGTHEN_GS_FRACTION = 0.1
#: ... weighed in `_choose`'s unit `big` (not free 16, not coordinated 2, no margin 1/2,
#: then 1/4 ...; costs below 1): a reversal below any margin, above any difference of
#: cost; another dimension not penalised.
#: Measured (2-D, 25 per 10,000 NM^2, seed 1): putting the sense above the margin
#: (weight 1) or penalising another dimension (1/16) changed the figures by no more than
#: one seed's scatter, and added path.
REVERSED_WEIGHT = 0.125
OTHER_DIMENSION_WEIGHT = 0.0
#: A choice has a margin when this many stronger candidates of its kind and sense are
#: free too (preferred, so that it need not be strengthened as the encounter develops;
#: 2 measured no better than 1 on one seed).
MARGIN_STEPS = 1
#: Advice held is not changed for a neighbour's original velocity that the neighbour is
#: not flying (it resumes only once clear of the advice held).
KEEP_YIELDS_TO_RESUME = True
#: With nothing free, a candidate is harmless where it leaves no pair less separated than
#: flying on does against the same neighbour motions (its column NONE); off: than both
#: flying on (`base_sep`), which a neighbour's own choice could make no candidate meet,
#: flying on included, and the advice held then ended with resume and came back the next
#: second (2-D 25 seed 1: docs/resolution-stability.md, "Flying on judged harmful"). Flown
#: (five seeds): 2-D 25, 103 losses against 96 and 275 advisories given again after resume
#: against 442; crews 10 s late and 38 % not following, 319 against 310, and 1,751 against
#: 2,201.
BEST_EFFORT_FROM_NONE = True
#: ... to within this much of the normalised separation (floating-point: a pair eleven
#: minima apart was judged 2e-15 less separated under the advice held than flying on).
HARMLESS_TOL = 1.0e-9
#: ... and a pair counts as harmed only where it is left within the minima (normalised
#: separation below 1): an aircraft holding advice is judged against neighbours out to
#: RESUME_MARGIN times the minima, others not, so a turn judged harmless when first given
#: was "harmful" the next second to a pair left 3.7 minima apart (2-D 25 seed 1, crews 10 s
#: late: 100012 told to turn and to resume each second in turn). Off: flown with crews 10 s
#: late and 38 % not following (2-D 25), seeds 1 and 4 lost 67 and 97 against 67 and 66
#: without it, and the advice changed 1.5 times per advisory against 0.7 (the turn and
#: resume of one encounter became changes within it); at once (2-D 25), seeds 1 and 4 lost
#: 19 and 19 against 30 and 19.
HARM_WITHIN_MINIMA = False
#: ... and for an aircraft holding advice, over the pairs it would be judged against were it
#: not advised (`_near` from its present velocity, its forward half-disc, no advised or
#: original line): holding advice, it is judged against far more neighbours (the disc, and
#: RESUME_MARGIN), and a turn judged harmless when given was "harmful" the next second to a
#: pair out there (2-D 25 seed 1, crews 10 s late: 100012 told to turn right 90 and to resume
#: each second in turn, the turn bringing 100056 from 6.4 to 3.7 minima while taking 100034
#: from 0.24 to 1.5). Every pair so judged is still judged in full. Flown (2-D 25, five
#: seeds): crews 10 s late and 38 % not following, 336 losses against 319, 2,892 advisories
#: against 4,088, 614 given again after an end with no free manoeuvre against 1,669; at
#: once, 97 against 103, and 58 against 173 (docs/resolution-stability.md, "The same pairs,
#: advised or not").
HARM_AS_NOT_ADVISED = True
#: ... and so for the rule that two aircraft with nothing free, both manoeuvring and closing
#: on each other, leave the later id flying on: applied only on those pairs (a variant, off).
#: Without it, crews 10 s late (2-D 25 seed 1), 10003f's climb ended each other second,
#: "no free manoeuvre", for 100022 9.3 minima away, a pair only its advised search holds.
BOTH_AS_NOT_ADVISED = False
#: A choice free of the aircraft in conflict over this many times the look-ahead is
#: preferred (below coordination, above the margin): it lasts the encounter.
LASTING_FACTOR = 2.0
#: Rounds of joint resolution after the first choice.
ROUNDS = 4
TURNS_DEG = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0)
SPEED_FACTORS = (0.9, 1.1, 0.8, 1.2)
VS_TARGETS_FPM = (1000.0, -1000.0, 0.0, 2000.0, -2000.0)
#: ... each a level change: to this far from the altitude at the end of the lead time,
#: flown at the vertical speed above, then level there (0: level off where it is). Two
#: segments, judged as flown: a vertical advisory is a new level a flight level or two
#: away, as a controller or a TCAS crew would fly it, not a climb for as long as advice lasts.
LEVEL_CHANGE_FT = (1000.0, -1000.0, 0.0, 2000.0, -2000.0)
#: Levels advised are multiples of this (flight levels; a level change of 1,000 ft from
#: 24,500 ft ends at 26,000 ft, from 30,000 ft at 31,000 ft).
FLIGHT_LEVEL_FT = 1000.0
assert len(LEVEL_CHANGE_FT) == len(VS_TARGETS_FPM)
assert all(d * v > 0 or d == v == 0 for d, v in zip(LEVEL_CHANGE_FT, VS_TARGETS_FPM, strict=True))


def _grid() -> tuple[NDArray[np.int8], F64, F64, F64, F64, F64]:
    """The candidate grid: kind, track change (deg), speed factor, vertical speed target
    (ft/min; NaN keeps the present one), level change (ft; NaN: none) and cost, in order
    of preference at equal cost."""
    kind: list[int] = [NONE, RESUME, KEEP]
    dtrk: list[float] = [0.0, 0.0, 0.0]
    fac: list[float] = [1.0, 1.0, 1.0]
    vs: list[float] = [np.nan, np.nan, np.nan]
    dalt: list[float] = [np.nan, np.nan, np.nan]
    cost: list[float] = [0.0, 0.0, 0.0]
    for d in TURNS_DEG:
        for sign in (1.0, -1.0):  # right before left
            kind.append(TRACK)
            dtrk.append(sign * d)
            fac.append(1.0)
            vs.append(np.nan)
            dalt.append(np.nan)
            cost.append(d)
    for f in SPEED_FACTORS:
        kind.append(SPEED)
        dtrk.append(0.0)
        fac.append(f)
        vs.append(np.nan)
        dalt.append(np.nan)
        cost.append(abs(f - 1.0) * 120.0)
    for v, d in zip(VS_TARGETS_FPM, LEVEL_CHANGE_FT, strict=True):
        kind.append(VERTICAL)
        dtrk.append(0.0)
        fac.append(1.0)
        vs.append(v)
        dalt.append(d)
        cost.append(max(abs(v), 1000.0) / 100.0)
    return (np.array(kind, dtype=np.int8), np.array(dtrk), np.array(fac), np.array(vs),
            np.array(dalt), np.array(cost))


CAND_KIND, CAND_DTRK_DEG, CAND_GS_FACTOR, CAND_VS_FPM, CAND_DALT_FT, CAND_COST = _grid()
N_CAND = int(CAND_KIND.shape[0])


def _stronger() -> IDX:
    """For each candidate, the next stronger one of the same kind and sense (itself when
    it is the strongest): a choice whose stronger neighbour is also free has a margin."""
    out = np.arange(N_CAND)
    for c in range(N_CAND):
        k = CAND_KIND[c]
        if k not in (TRACK, SPEED, VERTICAL):
            continue
        best = None
        for d in range(N_CAND):
            if CAND_KIND[d] != k or CAND_COST[d] <= CAND_COST[c]:
                continue
            same = (np.sign(CAND_DTRK_DEG[d]) == np.sign(CAND_DTRK_DEG[c])
                    and np.sign(CAND_GS_FACTOR[d] - 1.0) == np.sign(CAND_GS_FACTOR[c] - 1.0)
                    and np.sign(np.nan_to_num(CAND_VS_FPM[d])) == np.sign(np.nan_to_num(CAND_VS_FPM[c])))
            if same and (best is None or CAND_COST[d] < CAND_COST[best]):
                best = d
        if best is not None:
            out[c] = best
    return out


CAND_STRONGER = _stronger()


@dataclass(frozen=True)
class AircraftRules:
    """What the agreement lets each aircraft of a snapshot be asked (arrays of N).

    `exempt`: never asked to manoeuvre (distress, refuelling, a rule); others still keep
    clear of it. `priority`: in a conflict, the aircraft of lower priority gives way;
    equal priorities both manoeuvre. `gs_max_kt`: the fastest each may be asked to fly
    (its type's envelope, where the picture knows it; NaN or None: not known, not bounded).
    """

    track: BOOL
    speed: BOOL
    vertical: BOOL
    exempt: BOOL
    priority: NDArray[np.int32]
    gs_max_kt: F64 | None = None

    @property
    def fixed(self) -> BOOL:
        """Aircraft that never manoeuvre: exempt, or allowed no manoeuvre at all."""
        return self.exempt | ~(self.track | self.speed | self.vertical)

    @classmethod
    def everyone(cls, n: int, *, vertical: bool = True) -> AircraftRules:
        """Every manoeuvre allowed to every aircraft, all of equal priority."""
        yes = np.ones(n, dtype=bool)
        return cls(yes, yes.copy(), yes.copy() if vertical else ~yes, ~yes, np.zeros(n, np.int32))


@dataclass(frozen=True)
class Advised:
    """Aircraft that hold an advisory (arrays of N; NaN where none): the velocity they
    were flying when first advised (to resume) and the velocity they are advised (in the
    dimensions the advice does not change: as last advised in the encounter, else as flown
    now; with LAST_ADVISED new manoeuvres keep those too);
    `orig_alt_ft`, the altitude they were at (resuming, they return to it), if known;
    `adv_kind`, the dimension each advice changes (TRACK, SPEED, VERTICAL; NONE: fly on),
    if known, else taken as the one it changes most from the original velocity;
    `adv_alt_ft`, the level a vertical advice held climbs or descends to (NaN: none; then
    its vertical speed is taken as flown to the end of the look-ahead).

    `resuming`: aircraft told to resume that are not yet flying their original velocity
    again (their `orig_*` and `adv_*` both hold it, `orig_alt_ft` the level they return
    to): no longer advised, but others judge them against that velocity as well as the
    one they fly, and advice held does not change for a velocity they only pass through
    turning back (as for an advised aircraft not yet flying its advice)."""

    orig_track_deg: F64
    orig_gs_kt: F64
    orig_vs_fpm: F64
    adv_track_deg: F64
    adv_gs_kt: F64
    adv_vs_fpm: F64
    orig_alt_ft: F64 | None = None
    adv_kind: NDArray[np.int8] | None = None
    adv_alt_ft: F64 | None = None
    resuming: BOOL | None = None

    @classmethod
    def none(cls, n: int) -> Advised:
        z = np.full(n, np.nan)
        return cls(z, z, z, z, z, z)

    @property
    def active(self) -> BOOL:
        """Aircraft holding advice."""
        act = np.isfinite(self.adv_track_deg)
        return act if self.resuming is None else act & ~self.resuming

    @property
    def known(self) -> BOOL:
        """Aircraft whose manoeuvre others know: holding advice, or resuming."""
        return np.isfinite(self.adv_track_deg)


@dataclass(frozen=True)
class Resolution:
    """Advice for the aircraft at `owner` (snapshot indices, sorted by id).

    `choice` indexes the candidate grid (`CAND_*`); `track_deg`, `gs_kt`, `vs_fpm` is the
    velocity advised; `free[k, c]`/`coordinated[k, c]` say which candidates of owner k
    are free of every neighbour / coordinated with every conflict; `status` is 0 when the
    advice is free and coordinated, 1 free only, 2 not free (least bad).
    `intruders[k]` lists the ids in conflict with owner k (present velocities).
    `alt_ft[k]`: the level a vertical advice climbs or descends to (or levels off at);
    NaN for other advice. `allowed[k, c]`: the candidates the agreement lets owner k be
    given; `levels_ft[k, c]`: the level each vertical candidate goes to (NaN for the
    others). With `free`, they give each owner's guidance bands as the engine judged them.
    """

    owner: IDX
    choice: NDArray[np.int16]
    track_deg: F64
    gs_kt: F64
    vs_fpm: F64
    free: BOOL
    coordinated: BOOL
    status: NDArray[np.int8]
    intruders: list[list[str]] = field(default_factory=list)
    #: Per owner holding advice: the ids of the aircraft its advice held would lose
    #: separation with (why it is no longer free; the tracker tells a new aircraft
    #: joining the encounter from the same intruders).
    keep_blockers: list[list[str]] = field(default_factory=list)
    #: Per owner: the ids of the aircraft with nothing free that its advice, changed rather
    #: than kept, makes room for (KEEP_UNLESS_FREES; empty otherwise): why a crew is told
    #: something new when nothing changed for its own aircraft.
    room_for: list[list[str]] = field(default_factory=list)
    #: Per owner holding advice with no free manoeuvre: the ids of the aircraft its advice
    #: held would leave less separated than flying on (why best effort does not keep it);
    #: the tracker tells an aircraft the encounter never named from the same ones.
    keep_harmed: list[list[str]] = field(default_factory=list)
    #: Per owner holding advice: the ids of the aircraft resuming is not free of (at the
    #: minima, or within RESUME_MARGIN of them): what holds the advice; the tracker keeps
    #: them in its encounter.
    resume_blockers: list[list[str]] = field(default_factory=list)
    alt_ft: F64 | None = None
    allowed: BOOL | None = None
    levels_ft: F64 | None = None

    def __len__(self) -> int:
        return int(self.owner.shape[0])

    @classmethod
    def empty(cls) -> Resolution:
        z = np.zeros(0)
        b = np.zeros((0, N_CAND), dtype=bool)
        return cls(np.zeros(0, np.intp), np.zeros(0, np.int16), z, z, z, b, b,
                   np.zeros(0, np.int8), [])


def buffered(minima: Minima, factor: float) -> Minima:
    """Minima widened by `factor` (horizontal and vertical) for resolution."""
    return Minima(minima.name, minima.h_nm * factor, minima.v_ft * factor, minima.t_s,
                  minima.alt_unknown_h)


def _dot(ax: F64, ay: F64, az: F64, bx: F64, by: F64, bz: F64) -> F64:
    """Dot products written out (deterministic order of operations)."""
    return ax * bx + ay * by + az * bz


def _give_way(snap: Snapshot, a: IDX, b: IDX, rules: AircraftRules) -> BOOL:
    """Aircraft that must manoeuvre: in a conflict with an aircraft of equal or higher
    priority, or with one that may not manoeuvre; never an exempt one."""
    n = len(snap)
    must = np.zeros(n, dtype=bool)
    pa, pb = rules.priority[a], rules.priority[b]
    fixed = rules.fixed
    must[a[(pa <= pb) | fixed[b]]] = True
    must[b[(pb <= pa) | fixed[a]]] = True
    return must & ~rules.exempt


def _neighbour_pairs(snap: Snapshot, owner: BOOL, minima: Minima, lead_s: float,
                     advised: BOOL | None = None, advised_vs_fpm: F64 | None = None,
                     advised_gs_kt: F64 | None = None) -> tuple[IDX, IDX]:
    """Directed pairs (o, j): o an aircraft to advise, j any aircraft whose path may come
    within the minima of any candidate path of o over the look-ahead.

    Every aircraft is a box (its straight path, padded by half the minima); an aircraft
    to advise is two: its turns and speed changes (the forward half-disc it can reach,
    at its present vertical speed) and its vertical manoeuvres (its straight path, over
    the heights it can reach), or one box holding both if it holds advice (its advised
    and original velocities may point anywhere); `advised` (holding advice, or resuming)
    also gives an aircraft not to advise that one box, for the same reason; its radius
    reaches `advised_gs_kt` too, where faster (the advised and original speeds: resuming
    450 kt after slowing to 290, it goes further than its speed changes), and an owner's
    reaches RESUME_MARGIN times the minima (the margin it must keep to resume)."""
    n = len(snap)
    advised = advised if advised is not None else np.zeros(n, dtype=bool)
    t_row = np.where(minima.checked, minima.t_s, 0.0).max(axis=1)[snap.party]
    h_row = np.where(minima.checked, minima.h_nm, 0.0).max(axis=1)[snap.party]
    v_row = np.where(minima.checked, minima.v_ft, 0.0).max(axis=1)[snap.party]
    x, y, z = ecef_nm(snap.lat_deg, snap.lon_deg)
    pos = np.vstack([x, y, z])
    vel = np.vstack(velocity_ecef_nm_s(snap.lat_deg, snap.lon_deg, snap.track_deg, snap.gs_kt))
    end = pos + vel * t_row
    reach = snap.gs_kt * t_row / 3600.0
    own_reach = reach * max(SPEED_FACTORS)
    if advised_gs_kt is not None:
        own_reach = np.fmax(own_reach, np.where(advised, advised_gs_kt, np.nan) * t_row / 3600.0)
    pad = h_row / 2.0 + own_reach * (own_reach + h_row) / MEAN_RADIUS_NM + 0.01
    # An owner holding advice resumes only RESUME_MARGIN times the minima clear of everyone.
    pad = pad + np.where(owner & advised, (RESUME_MARGIN - 1.0) * h_row, 0.0)
    lo = np.minimum(pos, end) - pad
    hi = np.maximum(pos, end) + pad
    alt = np.nan_to_num(snap.alt_ft, nan=0.0)
    vz = snap.vs_fpm / 60.0
    alt1 = alt + vz * t_row
    v_reach = np.maximum(np.abs(vz), max(abs(v) for v in VS_TARGETS_FPM) / 60.0) * t_row
    if advised_vs_fpm is not None:  # the advised or original vertical speed may be faster
        v_reach = np.maximum(v_reach, np.nan_to_num(np.abs(advised_vs_fpm)) / 60.0 * t_row)
    alo = np.minimum(alt, alt1) - v_row / 2.0
    ahi = np.maximum(alt, alt1) + v_row / 2.0
    unknown = np.isnan(snap.alt_ft)
    # Turns and speed changes: the forward half-disc of radius own_reach (no candidate
    # flies backwards); per ECEF axis e, with a = fwd.e and b = right.e, it spans
    # [-R (|(a, b)| if a < 0 else |b|), R (|(a, b)| if a > 0 else |b|)]. Held advice: the disc.
    fwd = np.vstack(velocity_ecef_nm_s(snap.lat_deg, snap.lon_deg, snap.track_deg, np.full(n, 3600.0)))
    right = np.vstack(velocity_ecef_nm_s(snap.lat_deg, snap.lon_deg, snap.track_deg + 90.0, np.full(n, 3600.0)))
    ab = np.hypot(fwd, right)
    full = advised[None, :]
    up = np.where(full | (fwd > 0.0), ab, np.abs(right))
    down = np.where(full | (fwd < 0.0), ab, np.abs(right))
    h_lo, h_hi = pos - own_reach * down - pad, pos + own_reach * up + pad
    h_alo = np.where(advised, alt - v_reach - v_row / 2.0, alo)
    h_ahi = np.where(advised, alt + v_reach + v_row / 2.0, ahi)
    own_idx = np.flatnonzero(owner)
    vert_idx = np.flatnonzero(owner & ~advised)
    # Boxes: every aircraft's straight path (owners: their horizontal manoeuvres instead),
    # then the vertical-manoeuvre box of each owner not holding advice.
    wide = owner | advised
    lo4 = np.vstack([np.where(wide, h_lo, lo), np.where(wide, h_alo, alo)])
    hi4 = np.vstack([np.where(wide, h_hi, hi), np.where(wide, h_ahi, ahi)])
    lo4 = np.hstack([lo4, np.vstack([lo[:, vert_idx], (alt - v_reach - v_row / 2.0)[vert_idx]])])
    hi4 = np.hstack([hi4, np.vstack([hi[:, vert_idx], (alt + v_reach + v_row / 2.0)[vert_idx]])])
    ac = np.concatenate([np.arange(n), vert_idx])
    unk = unknown[ac]
    lo4[3, unk] = -1.0e7
    hi4[3, unk] = 1.0e7
    # Cells sized on the owners' (large) boxes, both kinds: few registrations result.
    own_boxes = np.concatenate([own_idx, n + np.arange(vert_idx.size)])
    cell = np.maximum((hi4[:, own_boxes] - lo4[:, own_boxes]).mean(axis=1), [1.0, 1.0, 1.0, 500.0])
    cell[:3] = cell[:3].max()
    # Pairs of two aircraft not to advise are never formed (`group`, `within`).
    bi, bj = grid_pairs(lo4, hi4, cell, group=np.where(owner[ac], 0, 1), within=np.array([True, False]))
    i, j = ac[bi], ac[bj]
    keep = (i != j) & (owner[i] | owner[j]) & minima.checked[snap.party[i], snap.party[j]]
    bi, bj, i, j = bi[keep], bj[keep], i[keep], j[keep]
    if vert_idx.size:
        # Two aircraft may meet through several of their boxes: keep a pair once, through
        # the first of (path or half-disc, path or half-disc), (first's, second's vertical),
        # (first's vertical, second's), (vertical, vertical) that overlaps.
        swap = i > j
        i, j = np.where(swap, j, i), np.where(swap, i, j)
        bi, bj = np.where(swap, bj, bi), np.where(swap, bi, bj)
        vbox = np.full(n, -1, dtype=np.intp)
        vbox[vert_idx] = n + np.arange(vert_idx.size)

        def overlap(x: IDX, y: IDX) -> BOOL:
            return np.asarray(np.all(np.maximum(lo4[:, x], lo4[:, y]) <= np.minimum(hi4[:, x], hi4[:, y]), axis=0))

        rank = 2 * (bi >= n) + (bj >= n)
        dup = np.zeros(i.size, dtype=bool)
        r = np.flatnonzero(rank >= 1)
        dup[r] = overlap(i[r], j[r])
        r = r[(rank[r] >= 2) & ~dup[r] & (vbox[j[r]] >= 0)]
        dup[r] = overlap(i[r], vbox[j[r]])
        r = r[(rank[r] == 3) & ~dup[r]]
        dup[r] = overlap(vbox[i[r]], j[r])
        i, j = i[~dup], j[~dup]
    oi = owner[i]
    oj = owner[j]
    o = np.concatenate([i[oi], j[oj]])
    nb = np.concatenate([j[oi], i[oj]])
    key = o.astype(np.int64) * n + nb
    key.sort()
    return (key // n).astype(np.intp), (key % n).astype(np.intp)


@dataclass(frozen=True)
class _Pairs:
    """Relative geometry of directed pairs (o, j) after the lead time, in the tangent
    plane of the pair's mid-point (NM, NM/s, ft, ft/s)."""

    rx: F64
    ry: F64
    rz: F64
    ux: F64
    uy: F64
    uz: F64
    dz_ft: F64
    h_nm: F64
    v_ft: F64
    t_s: F64
    alt_unknown_h: BOOL

    def take(self, rows: IDX | slice) -> _Pairs:
        return _Pairs(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))

    def range_nm(self) -> F64:
        """Each pair's distance after the lead time (NM)."""
        return np.sqrt(_dot(self.rx, self.ry, self.rz, self.rx, self.ry, self.rz))


@dataclass(frozen=True)
class _Reach:
    """Where the owner of each directed pair can be, per row: its forward direction and
    speed in the pair's plane (NM/s), extra straight velocities it may be given (its
    advised and original ones, in the plane) and how fast it may change height (ft/s);
    its present vertical speed (ft/s) and whether it holds advice (`lines` then differ
    from its present velocity); whether its present vertical motion ends at a level
    within the look-ahead (`levels`: then it is not straight)."""

    fwd: tuple[F64, F64, F64]
    s_nm_s: F64
    lines: list[tuple[F64, F64, F64]]
    v_fts: F64
    dz_slack_ft: F64  # the height difference may also be this much less (returns to a level)
    vz_fts: F64
    advised: BOOL
    top_f: F64  # its fastest candidate speed over the present one
    wide: BOOL  # some candidate of it turns more than 90 deg from its present track
    levels: BOOL

    def take(self, rows: IDX | slice) -> _Reach:
        return _Reach((self.fwd[0][rows], self.fwd[1][rows], self.fwd[2][rows]), self.s_nm_s[rows],
                      [(a[rows], b[rows], c[rows]) for a, b, c in self.lines], self.v_fts[rows],
                      self.dz_slack_ft[rows], self.vz_fts[rows], self.advised[rows],
                      self.top_f[rows], self.wide[rows], self.levels[rows])


#: Instants at which `_near` samples the look-ahead: a coarse pass, then a fine one.
NEAR_SAMPLES = (5, 17)


def _clear(lo: F64, hi: F64, t_end: F64) -> BOOL:
    """Intervals that meet neither [0, t_end] nor 0 (no hit term of `_hits` can use them)."""
    return np.asarray(~(np.maximum(lo, 0.0) < np.minimum(hi, t_end)) & ~((lo < 0.0) & (hi > 0.0)))


#: Margins of `_apart`'s test over `_hits`'s minima (they are judged in another plane).
APART_H_FACTOR, APART_H_NM, APART_V_FT = 1.01, 0.01, 10.0


def _apart(p: _Pairs, own: _Reach, jv: tuple[F64, F64, F64], jvz_fts: F64, j_level_s: F64) -> BOOL:
    """Rows (o, j) where o, not advised, cannot lose separation with j flying `jv` by any
    candidate: flying their present velocities they never come within the horizontal
    minimum (so no vertical manoeuvre, which keeps o's horizontal velocity, can) nor
    within the vertical one (so no turn or speed change, which keeps its vertical speed,
    can). Exact but for a small margin, and cheaper than sampling (`_near_sampled`); never
    for an o or a j that levels off within the look-ahead (`own.levels`, `j_level_s` finite)."""
    s = own.s_nm_s
    wx, wy, wz = jv[0] - own.fwd[0] * s, jv[1] - own.fwd[1] * s, jv[2] - own.fwd[2] * s
    h = p.h_nm * APART_H_FACTOR + APART_H_NM
    a = _dot(wx, wy, wz, wx, wy, wz)
    lo, hi = open_interval_horizontal(a, _dot(p.rx, p.ry, p.rz, wx, wy, wz),
                                       _dot(p.rx, p.ry, p.rz, p.rx, p.ry, p.rz) - h * h)
    dz = p.dz_ft
    unknown = np.isnan(dz)
    vlo, vhi = open_interval_vertical(np.where(unknown, 0.0, dz), np.where(unknown, 0.0, jvz_fts - own.vz_fts),
                                       p.v_ft + APART_V_FT)
    return np.asarray(~own.advised & ~own.levels & (own.dz_slack_ft == 0.0) & ~unknown & np.isfinite(p.t_s)
                      & ~np.isfinite(j_level_s) & _clear(lo, hi, p.t_s) & _clear(vlo, vhi, p.t_s))


def _near(p: _Pairs, own: _Reach, jv: tuple[F64, F64, F64], jvz_fts: F64, j_level_s: F64) -> BOOL:
    """Rows (o, j) where j, flying `jv` (in the pair's plane) from the end of the lead
    time (its vertical speed until `j_level_s`, then level), may come within the minima of
    some candidate path of o (not `_apart`, then `_near_sampled`, first coarse, then fine
    on the rows left)."""
    rows = np.flatnonzero(~_apart(p, own, jv, jvz_fts, j_level_s))
    for n_samples in NEAR_SAMPLES:
        ok = _near_sampled(p.take(rows), own.take(rows), (jv[0][rows], jv[1][rows], jv[2][rows]),
                           jvz_fts[rows], j_level_s[rows], n_samples)
        rows = rows[ok]
    near = np.zeros(p.rx.shape[0], dtype=bool)
    near[rows] = True
    return near


def _near_as_not_advised(p: _Pairs, own: _Reach, motions: list[tuple[F64, F64, F64, F64, F64]],
                         j_known: BOOL) -> BOOL:
    """Rows (o, j) where j may come near a candidate path of o (`_near`) as o would be judged
    were it not holding advice: from its present velocity, over its forward half-disc, with no
    advised or original line (its vertical reach and height slack are kept: wider, so they
    drop no pair). `motions`: j's velocities (ECEF) and vertical motions, each
    (vx, vy, vz, vz_fts, level_s); the third and later only where `j_known` (j holds advice)."""
    n = p.rx.shape[0]
    plain = replace(own, lines=[], advised=np.zeros(n, dtype=bool), top_f=np.ones(n),
                    wide=np.zeros(n, dtype=bool))
    seen = np.zeros(n, dtype=bool)
    for k, (mx, my, mz, m_fts, m_lev) in enumerate(motions):
        rows = np.flatnonzero(~seen & (j_known if k >= 2 else True))
        if rows.size:
            pr = p.take(rows)
            seen[rows[_near(pr, plain.take(rows), _project(mx[rows], my[rows], mz[rows], pr), m_fts[rows],
                            m_lev[rows])]] = True
    return seen


def _near_sampled(p: _Pairs, own: _Reach, jv: tuple[F64, F64, F64], jvz_fts: F64, j_level_s: F64,
                  n_samples: int) -> BOOL:
    """Rows (o, j) where j, flying `jv` (in the pair's plane) from the end of the lead
    time, may come within the minima of some candidate path of o: a cheap, conservative
    test that spares judging every candidate against far neighbours.

    t s after the lead, o's candidate positions lie on the forward half-circle of radius
    s t (turns; flown along their arcs, inside the half-disc, which j cannot enter without
    crossing its edge first: it grows from a point), on the segment 0.8-1.2 s t ahead
    (speed changes; vertical manoeuvres keep the present velocity) or on the straight
    lines of `own.lines`; its height within `own.v_fts` t of its own. An owner holding
    advice may be given turns at the speed and speed changes on the track advised
    (`LAST_ADVISED`), and flies its resume and keep columns along their arcs: its positions
    are then anywhere in the half-disc of radius `own.top_f` s t ahead (in the disc if one of
    its candidates turns more than 90 deg from the present track, `own.wide`).
    The distance from j to that set changes by at most the sum of their speeds, so at
    NEAR_SAMPLES instants it is compared to the minima plus that speed times half the
    interval between samples (`n_samples` of them)."""
    rx, ry, rz = p.rx, p.ry, p.rz
    x0 = _dot(rx, ry, rz, *own.fwd)
    xv = _dot(*jv, *own.fwd)
    rr = _dot(rx, ry, rz, rx, ry, rz)
    rv = _dot(rx, ry, rz, *jv)
    vv = _dot(*jv, *jv)
    s = own.s_nm_s
    top = own.top_f * s
    fast = np.maximum(max(SPEED_FACTORS) * s, top)
    lw: list[tuple[F64, F64]] = []
    for lx, ly, lz in own.lines:
        wx, wy, wz = jv[0] - lx, jv[1] - ly, jv[2] - lz
        lw.append((_dot(rx, ry, rz, wx, wy, wz), _dot(wx, wy, wz, wx, wy, wz)))
        fast = np.maximum(fast, np.sqrt(_dot(lx, ly, lz, lx, ly, lz)))
    dt = p.t_s / (n_samples - 1)
    lim = p.h_nm + (np.sqrt(vv) + fast) * dt / 2.0
    lim2 = lim * lim
    vlim = p.v_ft + own.dz_slack_ft + (own.v_fts + np.abs(jvz_fts)) * dt / 2.0
    slow_f, fast_f = min(SPEED_FACTORS), max(SPEED_FACTORS)
    any_advised = bool(own.advised.any())
    near = np.zeros(rx.shape, dtype=bool)
    for k in range(n_samples):
        t = dt * k
        x = x0 + xv * t
        rho2 = np.maximum(rr + 2.0 * rv * t + vv * t * t, 0.0)
        y2 = np.maximum(rho2 - x * x, 0.0)
        big_r = s * t
        rho = np.sqrt(rho2)
        d_arc = np.where(x >= 0.0, rho - big_r, np.sqrt(y2) - big_r)
        d2 = np.where(x >= 0.0, d_arc * d_arc, x * x + d_arc * d_arc)
        dx = np.maximum(np.maximum(slow_f * big_r - x, x - fast_f * big_r), 0.0)
        d2 = np.minimum(d2, dx * dx + y2)
        if any_advised:
            # To the half-disc of radius top t ahead (to the disc for wide turns).
            ahead = (x >= 0.0) | own.wide
            d_top = np.maximum(np.where(ahead, rho, np.sqrt(y2)) - top * t, 0.0)
            d2 = np.where(own.advised, np.where(ahead, 0.0, x * x) + d_top * d_top, d2)
        for b, a in lw:
            d2 = np.minimum(d2, rr + 2.0 * b * t + a * t * t)
        dz = np.abs(p.dz_ft + jvz_fts * np.minimum(t, j_level_s))
        near |= (d2 < lim2) & (np.isnan(dz) | (dz - own.v_fts * t < vlim))
    return near | ~np.isfinite(p.t_s)


def _project(vx: F64, vy: F64, vz: F64, p: _Pairs) -> tuple[F64, F64, F64]:
    """Horizontal part of vectors in each pair's tangent plane (broadcast over extra axes)."""
    ux, uy, uz = p.ux, p.uy, p.uz
    if vx.ndim > ux.ndim:
        ux, uy, uz = ux[:, None], uy[:, None], uz[:, None]
    d = _dot(vx, vy, vz, ux, uy, uz)
    return vx - d * ux, vy - d * uy, vz - d * uz


#: Candidates whose horizontal velocity is the present one (vertical manoeuvres), and
#: those whose vertical speed is (horizontal ones): their intervals are computed once.
H_SRC = np.where(CAND_KIND == VERTICAL, 0, np.arange(N_CAND))
V_SRC = np.where((CAND_KIND == TRACK) | (CAND_KIND == SPEED), 0, np.arange(N_CAND))
H_COLS = np.unique(H_SRC)
V_COLS = np.unique(V_SRC)
assert np.array_equal(H_COLS, np.arange(H_COLS.size)), "horizontal candidates first"
assert np.array_equal(V_COLS[3:], np.arange(H_COLS.size, N_CAND)), "then the vertical ones"


@dataclass(frozen=True)
class _Plane:
    """Directed pairs in the advised aircraft's east/north plane after the lead time."""

    r_e: F64
    r_n: F64
    dz_ft: F64
    h_nm: F64
    v_ft: F64
    t_s: F64
    alt_unknown_h: BOOL

    def take(self, rows: IDX) -> _Plane:
        return _Plane(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def _v_segments(d0: F64, unk: BOOL, j_vz: F64, j_level_s: F64, own_vz: F64, own_level_s: F64,
                v_ft: F64) -> list[tuple[F64, F64, BOOL]]:
    """Where |dz| < v_ft, per straight piece of the relative vertical motion: the owner
    flies `own_vz` (ft/s) until `own_level_s`, the neighbour `j_vz` until `j_level_s`,
    each level after (inf: straight on). One interval per piece, clipped to it, with
    whether the height difference is not shrinking (first piece; the others start after
    a level-off, later than 0, so never "already inside"). Broadcast over (K, C)."""
    dz = np.where(unk, 0.0, d0)
    r0 = np.where(unk, 0.0, j_vz - own_vz)
    s1 = np.minimum(own_level_s, j_level_s)
    lo0, hi0 = open_interval_vertical(dz, r0, v_ft)
    out = [(np.where(unk, -np.inf, lo0), np.where(unk, np.inf, np.minimum(hi0, s1)), unk | (dz * r0 >= 0.0))]
    fin1 = np.isfinite(s1) & ~unk
    if not fin1.any():
        return out
    never = np.zeros(fin1.shape, dtype=bool)
    s2 = np.maximum(own_level_s, j_level_s)
    t1 = np.where(fin1, s1, 0.0)
    z1 = dz + r0 * t1
    r1 = np.where(own_level_s < j_level_s, j_vz, -own_vz)  # after the first level-off
    lo1, hi1 = open_interval_vertical(z1, np.where(fin1, r1, 0.0), v_ft)
    out.append((np.where(fin1, np.maximum(lo1 + t1, t1), np.inf), np.where(fin1, np.minimum(hi1 + t1, s2), -np.inf),
                never))
    fin2 = np.isfinite(s2) & ~unk
    if fin2.any():
        t2 = np.where(fin2, s2, 0.0)
        in2 = fin2 & (np.abs(z1 + np.where(fin2, r1, 0.0) * (t2 - t1)) < v_ft)
        out.append((np.where(in2, t2, np.inf), np.where(in2, np.inf, -np.inf), never))
    return out


#: Rows of (rows x candidates) work computed at once (`by_rows`): about 600 kB per array,
#: so that a piece's temporaries stay in a core's cache (10,000 aircraft: 13 % less time
#: than whole, on two threads; 1,024 and 3,072 rows were slower).
JUDGE_CHUNK_ROWS = 2048
#: Rows of the near test (one value per row, 22 samples) computed at once.
NEAR_CHUNK_ROWS = 32768

#: A turn is judged as flown along its arc, as this many chords (`_flown`).
ARC_CHORDS = 3


@dataclass(frozen=True)
class _Flown:
    """How the owner flies each candidate (O, C): the ARC_CHORDS pieces of its manoeuvre,
    piece k until `t_s * (k + 1) / ARC_CHORDS` after the lead time, as its present velocity
    minus the velocity of the piece (NM/s, east and north: `d_e[k]`, `d_n[k]`), then the
    candidate's velocity."""

    d_e: F64  # (ARC_CHORDS, O, C)
    d_n: F64
    t_s: F64  # (O, C)


def _flown(trk0_deg: F64, gs0_kt: F64, trk_deg: F64, gs_kt: F64) -> _Flown:
    """The candidates (O, C) of aircraft flying (trk0_deg, gs0_kt) (O,) as they are flown: a
    turn along the arc of radius v^2 / (g tan BANK_DEG), as ARC_CHORDS chords (each over an
    equal part of the turn, at the speed that covers the chord in that time), so that the
    aircraft is where the arc puts it once the turn is over and, meanwhile, within
    1 - cos(turn / (2 ARC_CHORDS)) radii of it (a 90 deg turn at 450 kt: 0.22 NM; straight
    for half the turn then on the new track, as before, put it 1.9 NM off, for good); a speed
    change at ACCEL_KT_S, at the mean of the two speeds. A manoeuvre of both turns through
    it over the longer of the two times."""
    rate_deg_s = np.degrees(G_MS2 * np.tan(np.radians(BANK_DEG)) / np.maximum(gs0_kt * MS_PER_KT, 1.0))
    turn_deg = _wrap180(trk_deg - trk0_deg[:, None])
    t_s = np.maximum(np.abs(turn_deg) / rate_deg_s[:, None], np.abs(gs_kt - gs0_kt[:, None]) / ACCEL_KT_S)
    q = np.radians(np.abs(turn_deg)) / (2.0 * ARC_CHORDS)
    with np.errstate(divide="ignore", invalid="ignore"):
        sinc = np.where(q > 0.0, np.sin(q) / q, 1.0)
    chord_nm_s = (gs0_kt[:, None] + gs_kt) / 2.0 * sinc / 3600.0
    v0 = gs0_kt[:, None] / 3600.0
    e0 = v0 * np.sin(np.radians(trk0_deg))[:, None]
    n0 = v0 * np.cos(np.radians(trk0_deg))[:, None]
    d_e, d_n = [], []
    for k in range(ARC_CHORDS):
        h = np.radians(trk0_deg[:, None] + turn_deg * ((2 * k + 1) / (2.0 * ARC_CHORDS)))
        d_e.append(e0 - chord_nm_s * np.sin(h))
        d_n.append(n0 - chord_nm_s * np.cos(h))
    return _Flown(np.stack(d_e), np.stack(d_n), t_s)


def _hits(p: _Plane, w_e: F64, w_n: F64, own_vz_fts: F64, j_vz_fts: F64, own_level_s: F64,
          j_level_s: F64, col_factor: F64, flown: _Flown, fk: IDX, h_held: BOOL | None = None) -> BOOL:
    """For relative velocities (K, C) of the candidate grid: loss of separation within
    the look-ahead, the minima of candidate c times col_factor[c], the owner flying its
    manoeuvre as `flown` models it (its turn as ARC_CHORDS chords of the arc, then the new
    velocity), or at once (the candidate must be free either way: an aircraft that turns
    tighter than BANK_DEG flies between the two). Vertically the owner flies
    own_vz_fts[k, c] until own_level_s[k, c] and the neighbour j_vz_fts[k] until
    j_level_s[k], each level after (a level change flown as two segments, `_v_segments`).
    Row k's owner is row fk[k] of `flown` (only the columns solved are taken from it).

    Horizontal manoeuvres keep the present vertical motion and vertical ones the present
    horizontal velocity, so the turns and speed changes are solved only for rows whose
    present vertical motion comes within the vertical minimum in the look-ahead, and the
    vertical manoeuvres only for rows whose present horizontal motion comes within the
    horizontal one: on the other rows they cannot lose separation (the same answer). An
    owner marked in `h_held` (O,) flies its vertical manoeuvres at the horizontal velocity of
    its advice held instead (`LAST_ADVISED`: the keep column's, turn included)."""
    k = p.r_e.shape[0]
    nh = H_COLS.size  # the candidate grid is laid out as H_COLS, then the vertical ones
    t_end = p.t_s[:, None]
    re0, rn0 = p.r_e[:, None], p.r_n[:, None]
    dz = p.dz_ft[:, None]
    unknown = np.isnan(dz)
    jvz, jlev = j_vz_fts[:, None], j_level_s[:, None]

    HSeg = tuple[F64, F64]

    def h_intervals(rows: IDX | slice, cols: slice, factor: float | None = None) -> tuple[list[HSeg], BOOL]:
        """Horizontal intervals of columns `cols`, each clipped to its piece of the path
        (the new velocity at once first; then the chords of the turn, then the new
        velocity), and whether the range is not shrinking (the new velocity at once); the
        minima times `factor` if given, else the columns' own."""
        we, wn = w_e[rows, cols], w_n[rows, cols]
        fr = fk[rows]
        t_all = flown.t_s[fr, cols]
        r_e, r_n = re0[rows], rn0[rows]
        hh = p.h_nm[rows, None] * (col_factor[cols][None, :] if factor is None else factor)
        hh2 = hh * hh

        def c_at(xe: F64, xn: F64) -> F64:
            return xe * xe + xn * xn - hh2

        # The new velocity at once and on the final piece share |w|^2; at once and the
        # first chord share the starting point's term.
        a_w = we * we + wn * wn
        b_now = r_e * we + r_n * wn
        c_now = c_at(r_e, r_n)
        segs = [open_interval_horizontal(a_w, b_now, c_now)]
        xe, xn, t0 = r_e, r_n, np.zeros(t_all.shape)
        for c in range(ARC_CHORDS):
            t1 = t_all * ((c + 1) / ARC_CHORDS)
            ae, an = w_e[rows, :1] + flown.d_e[c][fr, cols], w_n[rows, :1] + flown.d_n[c][fr, cols]
            lo, hi = open_interval_horizontal(ae * ae + an * an, xe * ae + xn * an,
                                               c_now if c == 0 else c_at(xe, xn))
            segs.append((np.maximum(lo + t0, t0), np.minimum(hi + t0, t1)))
            xe, xn, t0 = xe + ae * (t1 - t0), xn + an * (t1 - t0), t1
        lo, hi = open_interval_horizontal(a_w, xe * we + xn * wn, c_at(xe, xn))
        segs.append((np.maximum(lo + t0, t0), hi + t0))
        return segs, b_now >= 0.0

    Seg = tuple[F64, F64, BOOL]

    def v_intervals(rows: IDX | slice, cols: IDX) -> list[Seg]:
        """Vertical intervals of vertical-motion columns `cols`, per piece (`_v_segments`)."""
        v = p.v_ft[rows, None] * col_factor[cols][None, :]
        return _v_segments(dz[rows], unknown[rows], jvz[rows], jlev[rows], own_vz_fts[rows][:, cols],
                           own_level_s[rows][:, cols], v)

    def take(v: list[Seg], rows: IDX | slice, cols: slice) -> list[Seg]:
        return [(a[rows, cols], b[rows, cols], c[rows, cols]) for a, b, c in v]

    def combine(h: tuple[list[HSeg], BOOL], vs: list[Seg], n: tuple[F64, F64], te: F64) -> BOOL:
        """Loss of separation of horizontal pieces `h` with vertical ones `vs` (either
        may be the present velocity's single column). Already inside (or bound to be by
        the end of the lead time: `n`, the present velocity's interval), a manoeuvre
        cannot be free of that, so it is judged by whether it closes on neither axis
        (range and height difference not shrinking): then the separation never gets
        smaller (until a level-off: a later piece)."""
        h_segs, h_open = h
        n_lo, n_hi = n
        out: BOOL | None = None
        for vlo, vhi, v_open in vs:
            lo_v, hi_v = np.maximum(vlo, 0.0), np.minimum(vhi, te)
            hit: BOOL | None = None
            for h_lo, h_hi in h_segs:
                one = np.maximum(h_lo, lo_v) < np.minimum(h_hi, hi_v)
                hit = one if hit is None else hit | one
            assert hit is not None
            inside = (n_lo < 0.0) & (n_hi > 0.0) & (vlo < 0.0) & (vhi > 0.0)
            hit = np.asarray(np.where(inside, ~(h_open & v_open), hit))
            out = hit if out is None else out | hit
        assert out is not None
        return out

    out = np.zeros((k, N_CAND), dtype=bool)
    all_rows = slice(None)
    h3 = h_intervals(all_rows, slice(0, 3))  # present, resume, keep
    v3 = v_intervals(all_rows, V_COLS[:3])
    (now_lo, now_hi), h_open3 = h3[0][0], h3[1]  # each column flown at once
    n = (now_lo[:, :1], now_hi[:, :1])  # the present velocity
    h0: tuple[list[HSeg], BOOL] = ([n], h_open3[:, :1])  # it has no turn to fly
    v0 = take(v3, all_rows, slice(0, 1))
    out[:, :1] = combine(h0, v0, n, t_end)
    out[:, 1:3] = combine(([(a[:, 1:3], b[:, 1:3]) for a, b in h3[0]], h_open3[:, 1:3]),
                          take(v3, all_rows, slice(1, 3)), n, t_end)
    te0 = p.t_s
    v_clear = np.logical_and.reduce([_clear(lo[:, 0], hi[:, 0], te0) for lo, hi, _ in v0])
    h_clear = _clear(n[0][:, 0], n[1][:, 0], te0)
    rh = np.flatnonzero(~v_clear)
    if rh.size and nh > 3:
        hh = h_intervals(rh, slice(3, nh))
        out[rh, 3:nh] = combine(hh, take(v0, rh, slice(None)), (n[0][rh], n[1][rh]), t_end[rh])
    rh_held = np.flatnonzero(h_held[fk]) if h_held is not None else np.zeros(0, np.intp)
    if rh_held.size:
        # Vertical candidates of these rows fly the advice held's horizontal velocity, flown as
        # the keep column (its turn), at the minima (not the keep column's hysteresis).
        hk_segs, hk_open = h_intervals(rh_held, slice(COL_KEEP, COL_KEEP + 1), 1.0)
        h_clear[rh_held] = np.logical_and.reduce([_clear(lo[:, 0], hi[:, 0], te0[rh_held]) for lo, hi in hk_segs])
    rv = np.flatnonzero(~h_clear)
    if rv.size:
        vv = v_intervals(rv, V_COLS[3:])
        out[rv, nh:] = combine(([(a[rv], b[rv]) for a, b in h0[0]], h0[1][rv]), vv,
                               (n[0][rv], n[1][rv]), t_end[rv])
        at = np.flatnonzero(np.isin(rh_held, rv))
        if at.size:
            rk = rh_held[at]
            hv = np.searchsorted(rv, rk)
            out[rk, nh:] = combine(([(a[at], b[at]) for a, b in hk_segs], hk_open[at]),
                                   [(a[hv], b[hv], c[hv]) for a, b, c in vv], (n[0][rk], n[1][rk]), t_end[rk])
    return out & (~unknown | p.alt_unknown_h[:, None])


def _segment_any(x: BOOL, starts: IDX) -> BOOL:
    """Any over consecutive rows of (K, C) grouped by `starts` (every group non-empty)."""
    return np.logical_or.reduceat(x, starts, axis=0)


def resolve(
    snap: Snapshot,
    minima: Minima,
    rules: AircraftRules | None = None,
    advised: Advised | None = None,
    *,
    buffer: float = 1.1,
    lead_s: float = 5.0,
) -> Resolution:
    """Advice for every aircraft that must manoeuvre (or holds an advisory) in `snap`.

    `minima` is the one level resolved against (the agreed separation); pairs are
    resolved to `buffer` times it over its look-ahead.
    """
    n = len(snap)
    if n < 2:
        return Resolution.empty()
    rules = rules if rules is not None else AircraftRules.everyone(n)
    advised = advised if advised is not None else Advised.none(n)
    wide = buffered(minima, buffer)
    conf = detect(snap, wide)
    owner = np.zeros(n, dtype=bool)
    if len(conf):
        owner |= _give_way(snap, conf.a, conf.b, rules)
    owner |= advised.active
    if not owner.any():
        return Resolution.empty()
    known = advised.known
    o_idx, j_idx = _neighbour_pairs(snap, owner, wide, lead_s, known,
                                    np.fmax(np.abs(advised.adv_vs_fpm), np.abs(advised.orig_vs_fpm)),
                                    np.fmax(advised.adv_gs_kt, advised.orig_gs_kt))
    owners = np.flatnonzero(owner)
    # Order owners by id (a total order both parties share) for the output.
    owners = owners[np.argsort(snap.id[owners], kind="stable")]
    slot = np.full(n, -1, dtype=np.intp)
    slot[owners] = np.arange(owners.size)

    # Candidate velocities of every owner: (O, C) absolute track, speed, vertical speed.
    trk0 = snap.track_deg[owners]
    gs0 = snap.gs_kt[owners]
    vs0 = snap.vs_fpm[owners]
    trk = (trk0[:, None] + CAND_DTRK_DEG[None, :]) % 360.0
    gs = gs0[:, None] * CAND_GS_FACTOR[None, :]
    vs = np.where(np.isnan(CAND_VS_FPM)[None, :], vs0[:, None], CAND_VS_FPM[None, :])
    has = advised.active[owners]
    if LAST_ADVISED and has.any():
        # What a new manoeuvre leaves as it is, an aircraft holding advice flies as last
        # advised (`Advised.adv_*`), not as it passes through it mid-manoeuvre: a turn given
        # while it still slows to an advised speed is flown at that speed, a level change
        # given mid-turn on the track advised, as crews fly them (`_hits`' `h_held`).
        hk = has[:, None]
        trk = np.where(hk & ((CAND_KIND == SPEED) | (CAND_KIND == VERTICAL))[None, :],
                       advised.adv_track_deg[owners][:, None], trk)
        gs = np.where(hk & ((CAND_KIND == TRACK) | (CAND_KIND == VERTICAL))[None, :],
                      advised.adv_gs_kt[owners][:, None], gs)
    for col, (t_a, g_a, v_a) in ((COL_RESUME, (advised.orig_track_deg, advised.orig_gs_kt, advised.orig_vs_fpm)),
                                 (COL_KEEP, (advised.adv_track_deg, advised.adv_gs_kt, advised.adv_vs_fpm))):
        trk[:, col] = np.where(has, t_a[owners], trk0)
        gs[:, col] = np.where(has, g_a[owners], gs0)
        vs[:, col] = np.where(has, v_a[owners], vs0)
    allowed = _allowed(snap, owners, rules, has, vs0, gs)
    same = _same_sense(advised, owners, trk, gs, vs)
    vz_fts = snap.vs_fpm / 60.0
    # Where each aircraft's present vertical motion ends: the level its crew has selected,
    # where it climbs or descends towards it (SELECTED_LEVEL); at the end of the lead time
    # it is there, or that many seconds short of it.
    sel_ft = snap.extra.get(SEL_ALT_FT) if SELECTED_LEVEL else None
    alt_lead_all = snap.alt_ft + vz_fts * lead_s
    pres_level_s = np.full(n, np.inf)
    if sel_ft is not None:
        sel_ft = np.asarray(sel_ft, dtype=np.float64)
        toward = _toward(sel_ft, snap.alt_ft, snap.vs_fpm)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_sel = (sel_ft - alt_lead_all) / vz_fts
        pres_level_s = np.where(toward, np.maximum(t_sel, 0.0), np.inf)
        alt_lead_all = np.where(toward & ~(t_sel > 0.0), sel_ft, alt_lead_all)
    # Levels: each column's vertical motion ends at a level (a vertical candidate's, the
    # advice held's, or, for the present motion of an aircraft flying vertical advice, the
    # level advised, else the one selected), `level_s` after the lead time; `vs_flown` is 0
    # once there.
    alt_lead = alt_lead_all[owners]
    level_ft, held_level = _levels(advised, owners, has, snap.alt_ft[owners], alt_lead, vs0,
                                   None if sel_ft is None else sel_ft[owners])
    level_s, vs_flown = _level_off(level_ft, vs, alt_lead)
    adv_level = np.where(CAND_KIND[None, :] == VERTICAL, level_ft, np.nan)
    adv_level[:, COL_KEEP] = held_level

    def finish(res: Resolution) -> Resolution:
        """`res` with the level of each vertical advice, and what each owner may be given."""
        return replace(res, alt_ft=adv_level[np.arange(owners.size), res.choice], allowed=allowed,
                       levels_ft=adv_level)

    o_count = owners.size
    if o_idx.size == 0:
        free = np.ones((o_count, N_CAND), dtype=bool)
        coord = free.copy()
        return finish(_choose(snap, owners, trk, gs, vs, allowed, free, coord,
                              [[] for _ in range(o_count)]))

    lat_o = snap.lat_deg[owners]
    lon_o = snap.lon_deg[owners]
    cvx, cvy, cvz = velocity_ecef_nm_s(np.repeat(lat_o[:, None], N_CAND, 1),
                                       np.repeat(lon_o[:, None], N_CAND, 1), trk, gs)
    x, y, z = ecef_nm(snap.lat_deg, snap.lon_deg)
    ex, ey, ez = up_vectors(snap.lat_deg, snap.lon_deg)
    vx, vy, vz = velocity_ecef_nm_s(snap.lat_deg, snap.lon_deg, snap.track_deg, snap.gs_kt)
    # Per aircraft: when its present vertical motion ends, and its advice held's (inf: never).
    # (An owner at its level by the end of the lead time flies level from there: 0 s.)
    pres_level_s[owners] = np.where((vs_flown[:, COL_NONE] == 0.0) & (vs0 != 0.0), 0.0, level_s[:, COL_NONE])
    keep_level_s = np.full(n, np.inf)
    keep_level_s[owners] = level_s[:, COL_KEEP]
    keep_vz_fts = np.zeros(n)
    keep_vz_fts[owners] = vs_flown[:, COL_KEEP] / 60.0

    # Relative geometry after the lead time (present velocities meanwhile).
    ux, uy, uz = ex[o_idx] + ex[j_idx], ey[o_idx] + ey[j_idx], ez[o_idx] + ez[j_idx]
    un = np.sqrt(_dot(ux, uy, uz, ux, uy, uz))
    ux, uy, uz = ux / un, uy / un, uz / un
    pa, pb = snap.party[o_idx], snap.party[j_idx]
    rx0 = x[j_idx] - x[o_idx] + (vx[j_idx] - vx[o_idx]) * lead_s
    ry0 = y[j_idx] - y[o_idx] + (vy[j_idx] - vy[o_idx]) * lead_s
    rz0 = z[j_idx] - z[o_idx] + (vz[j_idx] - vz[o_idx]) * lead_s
    dz0 = alt_lead_all[j_idx] - alt_lead_all[o_idx]  # stopped at a level selected, if there
    base = _Pairs(rx0, ry0, rz0, ux, uy, uz, dz0, wide.h_nm[pa, pb], wide.v_ft[pa, pb],
                  np.maximum(wide.t_s[pa, pb] - lead_s, 0.0),
                  np.asarray(wide.alt_unknown_h)[pa, pb])
    p = _project(rx0, ry0, rz0, base)
    pairs = _Pairs(p[0], p[1], p[2], ux, uy, uz, dz0, base.h_nm, base.v_ft, base.t_s,
                   base.alt_unknown_h)
    # Narrow the neighbours to those that can matter (`_near`); the others stay aside
    # for the joint rounds, where a neighbour given advice flies another straight path.
    fwd0 = _project(vx[o_idx], vy[o_idx], vz[o_idx], pairs)
    s_nm_s = np.sqrt(_dot(*fwd0, *fwd0))
    with np.errstate(divide="ignore", invalid="ignore"):
        fwd = (np.where(s_nm_s > 0.0, fwd0[0] / s_nm_s, 0.0), np.where(s_nm_s > 0.0, fwd0[1] / s_nm_s, 0.0),
               np.where(s_nm_s > 0.0, fwd0[2] / s_nm_s, 0.0))
    slot_b = slot[o_idx]
    reach_fts = np.maximum(np.abs(vz_fts[o_idx]), max(abs(v) for v in VS_TARGETS_FPM) / 60.0)
    lines: list[tuple[F64, F64, F64]] = []
    if advised.active[o_idx].any():
        # An advised owner may also be given its advised or its original velocity.
        for col in (COL_RESUME, COL_KEEP):
            lines.append(_project(cvx[slot_b, col], cvy[slot_b, col], cvz[slot_b, col], pairs))
            reach_fts = np.maximum(reach_fts, np.abs(vs[slot_b, col]) / 60.0)
    # How far each aircraft holding an advisory will be, after the lead time, from the
    # altitude it was advised at (resuming, it returns there; every foot counts: BACK_MIN_FT).
    back_ft = np.zeros(n)
    if advised.orig_alt_ft is not None:
        back_ft = np.where(known, np.nan_to_num(alt_lead_all - advised.orig_alt_ft),
                           0.0)
        back_ft = np.where(np.abs(back_ft) >= BACK_MIN_FT, back_ft, 0.0)
    top_f = np.max(gs, axis=1) / np.maximum(gs0, 1.0)
    wide_turn = np.max(np.abs(_wrap180(trk - trk0[:, None])), axis=1) > 90.0
    reach = _Reach(fwd, s_nm_s, lines, reach_fts, np.abs(back_ft[o_idx]) + np.abs(back_ft[j_idx]),
                   vz_fts[o_idx], advised.active[o_idx], top_f[slot_b],
                   wide_turn[slot_b], np.isfinite(pres_level_s[o_idx]))

    def near_rows(rows: IDX, ivx: F64, ivy: F64, ivz: F64, ivs: F64, ilev: F64, h_factor: float = 1.0) -> IDX:
        """Of `rows` (sorted, unique), those whose neighbour, flying (ivx, ivy, ivz, ivs)
        (per row; level after `ilev` s), may come within the minima (horizontal ones times
        `h_factor`) of a candidate path of the owner."""
        every = rows.size == o_idx.size  # all rows, in order: no copy
        pr = pairs if every else pairs.take(rows)
        if h_factor != 1.0:
            pr = replace(pr, h_nm=pr.h_nm * h_factor)
        rc = reach if every else reach.take(rows)
        jv = _project(ivx, ivy, ivz, pr)

        def part(s: slice) -> BOOL:
            return _near(pr.take(s), rc.take(s), (jv[0][s], jv[1][s], jv[2][s]), ivs[s], ilev[s])
        return rows[by_rows(part, rows.size, NEAR_CHUNK_ROWS)]

    # Candidates are judged in the east/north plane of the aircraft advised: its own
    # candidate velocities are then plain (gs sin trk, gs cos trk), and only the
    # neighbour's position and velocity are projected (once per pair, not per candidate).
    # Against the mid-point plane of the separation engine this moves a distance of
    # 5 NM at 50 NM range by about 1e-5 NM.
    slat_o, clat_o = np.sin(np.radians(lat_o)), np.cos(np.radians(lat_o))
    slon_o, clon_o = np.sin(np.radians(lon_o)), np.cos(np.radians(lon_o))
    # Each owner's east and north unit vectors (ECEF), per owner: (O,) components.
    east_o = (-slon_o, clon_o, np.zeros(o_count))
    north_o = (-slat_o * clon_o, -slat_o * slon_o, clat_o)
    trk_rad = np.radians(trk)
    own_e = gs / 3600.0 * np.sin(trk_rad)
    own_n = gs / 3600.0 * np.cos(trk_rad)
    own_vs_fts = vs_flown / 60.0

    def judge(rows: IDX, ivx: F64, ivy: F64, ivz: F64, ivs: F64, ilev: F64, h_factor: float = 1.0,
              dz_shift_ft: F64 | None = None, t_factor: float = 1.0) -> BOOL:
        """(len(rows), C): candidates of the owners of `rows` that lose separation with
        the neighbour flying (ivx, ivy, ivz, ivs) (per row; level after `ilev` s), minima
        times `h_factor` (the owner `dz_shift_ft` lower, if given), look-ahead times
        `t_factor`. Row by row, so in parts on every core (`by_rows`)."""
        def part(s: slice) -> BOOL:
            return judge_rows(rows[s], ivx[s], ivy[s], ivz[s], ivs[s], ilev[s], h_factor,
                              None if dz_shift_ft is None else dz_shift_ft[s], t_factor)
        return np.asarray(by_rows(part, rows.size, JUDGE_CHUNK_ROWS))

    def judge_rows(rows: IDX, ivx: F64, ivy: F64, ivz: F64, ivs: F64, ilev: F64, h_factor: float,
                   dz_shift_ft: F64 | None, t_factor: float) -> BOOL:
        """`judge`, in one piece."""
        ks = slot_b[rows]
        east = (east_o[0][ks], east_o[1][ks], east_o[2][ks])
        north = (north_o[0][ks], north_o[1][ks], north_o[2][ks])
        pr = pairs.take(rows)
        dz = pr.dz_ft if dz_shift_ft is None else pr.dz_ft + dz_shift_ft
        plane = _Plane(_dot(pr.rx, pr.ry, pr.rz, *east), _dot(pr.rx, pr.ry, pr.rz, *north), dz,
                       pr.h_nm * h_factor, pr.v_ft, pr.t_s * t_factor, pr.alt_unknown_h)
        ie = _dot(ivx, ivy, ivz, *east)
        i_n = _dot(ivx, ivy, ivz, *north)
        return _hits(plane, ie[:, None] - own_e[ks], i_n[:, None] - own_n[ks], own_vs_fts[ks], ivs,
                     level_s[ks], ilev, col_factor, flown_all, ks, h_held)

    # Hysteresis: advice already given is kept while it stays free of the agreed minima
    # times KEEP_BUFFER, less than the buffer required to choose it, so that it is not
    # changed each time a neighbour's small move eats into the buffer.
    col_factor = np.ones(N_CAND)
    col_factor[COL_KEEP] = min(KEEP_BUFFER / buffer, 1.0) if buffer > 0 else 1.0

    # How each candidate is flown: its turn along the arc at BANK_DEG (ARC_CHORDS chords), its
    # speed change at ACCEL_KT_S (`_flown`).
    flown_all = _flown(trk0, gs0, trk, gs)
    # Owners whose vertical candidates fly the advice held's horizontal velocity (`_hits`).
    h_held = has if LAST_ADVISED and has.any() else None

    blocked = np.zeros((o_count, N_CAND), dtype=bool)

    keep_rows: list[IDX] = []  # rows whose neighbour the advice held loses separation with
    resume_rows: list[IDX] = []  # ... and those whose neighbour resuming is not free of

    def block(rows: IDX, hit_rows: BOOL) -> None:
        """Candidates that lose separation in any of `rows` (sorted) are not free."""
        if rows.size:
            ks = slot_b[rows]
            st = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
            blocked[ks[st]] |= _segment_any(hit_rows, st)
            keep_rows.append(rows[hit_rows[:, COL_KEEP] & has[ks]])
            resume_rows.append(rows[hit_rows[:, COL_RESUME] & has[ks]])

    def block_resume(rows: IDX) -> None:
        """Resuming is not free for the owners of `rows`."""
        blocked[slot_b[rows], COL_RESUME] = True
        resume_rows.append(rows)

    room: list[list[str]] = [[] for _ in range(o_count)]
    harm_rows: list[IDX] = []  # rows whose neighbour best effort finds the advice held harms

    def by_owner(rows_list: list[IDX]) -> list[list[str]]:
        """Per owner, the ids of the neighbours of `rows_list`'s rows."""
        out: list[list[str]] = [[] for _ in range(o_count)]
        if rows_list:
            kr = np.unique(np.concatenate(rows_list))
            for s_, jj_ in zip(slot_b[kr].tolist(), j_idx[kr].tolist(), strict=True):
                out[s_].append(str(snap.id[jj_]))
        return out

    def blockers(res: Resolution) -> Resolution:
        """`res` with the aircraft each owner's advice held is blocked by or harms, and
        those its changed advice makes room for."""
        return finish(replace(res, keep_blockers=by_owner(keep_rows), resume_blockers=by_owner(resume_rows),
                              room_for=room,
                              keep_harmed=by_owner(harm_rows)))

    all_rows = np.arange(o_idx.size)
    # Intruders holding advisories: judge against their advised velocity (to its level,
    # if vertical), and their original one (they may not comply, or may resume), as well.
    j_adv = known[j_idx]
    adv_vel: list[tuple[F64, F64, F64, F64, F64]] = []
    if j_adv.any():
        for t_a, g_a, vz_a, lev_a in ((advised.adv_track_deg, advised.adv_gs_kt, keep_vz_fts, keep_level_s),
                                      (advised.orig_track_deg, advised.orig_gs_kt,
                                       np.nan_to_num(advised.orig_vs_fpm) / 60.0, np.full(n, np.inf))):
            avx, avy, avz = velocity_ecef_nm_s(snap.lat_deg, snap.lon_deg, np.nan_to_num(t_a),
                                               np.nan_to_num(g_a))
            adv_vel.append((avx, avy, avz, vz_a, lev_a))

    def near_any(rows: IDX, h_factor: float = 1.0) -> IDX:
        """Of `rows`, those whose neighbour may come near flying its present velocity, or
        (holding advice) its advised or original one (`near_rows`)."""
        jr_ = j_idx[rows]
        found = np.zeros(o_idx.size, dtype=bool)
        found[near_rows(rows, vx[jr_], vy[jr_], vz[jr_], vz_fts[jr_], pres_level_s[jr_], h_factor)] = True
        for a in adv_vel:
            # Each row's test stands alone, and only the union counts: rows found near
            # already are not tested again.
            ja = rows[j_adv[rows] & ~found[rows]]
            if ja.size:
                jj_a = j_idx[ja]
                found[near_rows(ja, a[0][jj_a], a[1][jj_a], a[2][jj_a], a[3][jj_a], a[4][jj_a], h_factor)] = True
        return np.flatnonzero(found)

    rows0 = near_any(all_rows)
    judged = np.zeros(o_idx.size, dtype=bool)
    judged[rows0] = True
    jr = j_idx[rows0]
    hit = judge(rows0, vx[jr], vy[jr], vz[jr], vz_fts[jr], pres_level_s[jr])
    # Advice held is judged against an advised neighbour's advised and original velocity
    # (below), not against the one it has half-way through its own manoeuvre.
    # With KEEP_YIELDS_TO_RESUME, not against the original one either unless the
    # neighbour is flying it (late or not complying): a neighbour resumes only once clear
    # of the advice held (RESUME_MARGIN), so that is its task, not a reason to change.
    keep_hit = hit[:, COL_KEEP].copy()
    if KEEP_YIELDS_TO_RESUME:
        flying_orig = (known & (np.abs(_wrap180(snap.track_deg - advised.orig_track_deg)) < 1.0)
                       & (np.abs(snap.gs_kt - advised.orig_gs_kt) < 2.0)
                       & (np.abs(snap.vs_fpm - advised.orig_vs_fpm) < 100.0))
        hit[:, COL_KEEP] &= ~(known[jr] & ~flying_orig[jr])
    else:
        hit[:, COL_KEEP] &= ~known[jr]
    block(rows0, hit)
    hit[:, COL_KEEP] = keep_hit
    # Senses from the present geometry of the pairs in conflict (candidate NONE).
    conflict_rows = rows0[hit[:, COL_NONE]]
    o_c, j_c, k_c = o_idx[conflict_rows], j_idx[conflict_rows], slot_b[conflict_rows]
    sense_ok = _coordination(snap, pairs.take(conflict_rows), o_c, j_c, k_c, trk, gs, vs, cvx, cvy, cvz,
                             (vx, vy, vz, vz_fts, pres_level_s), rules.fixed)
    coord = np.ones((o_count, N_CAND), dtype=bool)
    lasting = np.ones((o_count, N_CAND), dtype=bool)
    in_conflict = np.zeros(o_idx.size, dtype=bool)
    in_conflict[conflict_rows] = True
    if conflict_rows.size:
        st = np.flatnonzero(np.r_[True, k_c[1:] != k_c[:-1]])
        coord[k_c[st]] = ~_segment_any(~sense_ok, st)
        if LASTING_FACTOR > 1.0:
            # Against the aircraft in conflict, a manoeuvre that stays clear over
            # LASTING_FACTOR times the look-ahead is preferred: on slowly converging
            # tracks the smallest free turn only pushes the loss past the look-ahead,
            # and it comes back into it a minute later (another change of advice).
            h_l = judge(conflict_rows, vx[j_c], vy[j_c], vz[j_c], vz_fts[j_c], pres_level_s[j_c],
                        t_factor=LASTING_FACTOR)
            lasting[k_c[st]] = ~_segment_any(h_l, st)
    if adv_vel:
        ra = rows0[j_adv[rows0]]
        ja = j_idx[ra]
        for v_i, (avx, avy, avz, avs, alev) in enumerate(adv_vel):
            h_a = judge(ra, avx[ja], avy[ja], avz[ja], avs[ja], alev[ja])
            if v_i == 1 and KEEP_YIELDS_TO_RESUME:
                h_a[:, COL_KEEP] = False
            block(ra, h_a)
        # ... and the original velocity back at its original altitude.
        rb = ra[back_ft[ja] != 0.0]
        jb = j_idx[rb]
        avx, avy, avz, avs, alev = adv_vel[1]
        h_b = judge(rb, avx[jb], avy[jb], avz[jb], avs[jb], alev[jb], dz_shift_ft=-back_ft[jb])
        if KEEP_YIELDS_TO_RESUME:
            h_b[:, COL_KEEP] = False
        block(rb, h_b)
    # Resume only once clear: the original velocity must also keep RESUME_MARGIN times
    # the horizontal minima from every neighbour still ahead, so that an aircraft going
    # back to its route (which converges on it) is not put straight back into conflict.
    # (Every neighbour within that margin, not only those near at the minima.)
    adv_rows = near_any(all_rows[has[slot_b]], RESUME_MARGIN) if RESUME_MARGIN > 1.0 else rows0[has[slot_b[rows0]]]
    if adv_rows.size:
        ja = j_idx[adv_rows]
        near = judge(adv_rows, vx[ja], vy[ja], vz[ja], vz_fts[ja], pres_level_s[ja], RESUME_MARGIN,
                     t_factor=RESUME_MARGIN_T_FACTOR)[:, COL_RESUME]
        block_resume(adv_rows[near])
        # Resuming, the crew also returns to the original altitude, and so does an
        # advised neighbour resuming too: the original velocities must be as clear there.
        jb = j_idx[adv_rows]
        back_o, back_j = back_ft[o_idx[adv_rows]], back_ft[jb]
        moved = (back_o != 0.0) | (back_j != 0.0)
        if moved.any():
            rm, jm = adv_rows[moved], jb[moved]
            if adv_vel:
                ovx, ovy, ovz, ovs, _ = adv_vel[1]
                adv_j = known[jm]
                ivx = np.where(adv_j, ovx[jm], vx[jm])
                ivy = np.where(adv_j, ovy[jm], vy[jm])
                ivz = np.where(adv_j, ovz[jm], vz[jm])
                ivs = np.where(adv_j, ovs[jm], vz_fts[jm])
                ilev = np.where(adv_j, np.inf, pres_level_s[jm])
            else:
                ivx, ivy, ivz, ivs, ilev = vx[jm], vy[jm], vz[jm], vz_fts[jm], pres_level_s[jm]
            shift_ft = back_o[moved] - back_j[moved]
            near = judge(rm, ivx, ivy, ivz, ivs, ilev, RESUME_MARGIN, shift_ft,
                         t_factor=RESUME_MARGIN_T_FACTOR)[:, COL_RESUME]
            if RESUME_RETURN_CLOSES:
                near |= _return_closes(pairs.take(rm), shift_ft, RESUME_MARGIN)
            block_resume(rm[near])
            if RESUME_CLEAR_OF_ADVICE and adv_vel:
                # ... and the owner's return must be as clear of an advised (or resuming)
                # neighbour where it is, flying its advice or what it flies now (part way
                # through a turn back): nothing says it is back first.
                back_om = back_o[moved]
                kept = known[jm] & (back_om != 0.0)
                rk, jk, shift_k = rm[kept], jm[kept], back_om[kept]
                kvx, kvy, kvz, kvs, klev = adv_vel[0]
                near = judge(rk, kvx[jk], kvy[jk], kvz[jk], kvs[jk], klev[jk], RESUME_MARGIN, shift_k,
                             t_factor=RESUME_MARGIN_T_FACTOR)[:, COL_RESUME]
                near |= judge(rk, vx[jk], vy[jk], vz[jk], vz_fts[jk], pres_level_s[jk], RESUME_MARGIN,
                              shift_k, t_factor=RESUME_MARGIN_T_FACTOR)[:, COL_RESUME]
                if RESUME_RETURN_CLOSES:
                    near |= _return_closes(pairs.take(rk), shift_k, RESUME_MARGIN)
                block_resume(rk[near])
    free = ~blocked
    intr: list[list[str]] = [[] for _ in range(o_count)]
    ids = snap.id
    for s, jj in zip(k_c.tolist(), j_c.tolist(), strict=True):
        intr[s].append(str(ids[jj]))
    first = _choose(snap, owners, trk, gs, vs, allowed, free, coord, intr, same_sense=same, lasting=lasting)

    # Further rounds: judge again against the advice the neighbours now hold; an owner
    # whose advice is no longer free, while another would be, chooses again. A candidate
    # must stay free of every velocity a neighbour has been given so far, so the rounds
    # settle; at most ROUNDS of them.
    rows = np.arange(o_count)
    cur = first.choice
    judged_j = np.full(j_idx.size, -1, dtype=np.int16)  # the neighbour's advice judged so far
    slot_j = slot[j_idx]
    keep_before_rounds = blocked[:, COL_KEEP].copy()
    for _ in range(ROUNDS):
        chosen = np.full(n, -1, dtype=np.int16)
        # With ROUNDS_FREE_ONLY, an owner with no free manoeuvre is judged flying on: its
        # choice here is only a placeholder, which best effort (below) replaces.
        chosen[owners] = np.where(free[rows, cur], cur, COL_NONE) if ROUNDS_FREE_ONLY else cur
        cj = chosen[j_idx]
        moving = (cj > COL_NONE) & (cj != COL_KEEP) & (cj != judged_j)
        if not moving.any():
            break
        judged_j = np.where(moving, cj, judged_j).astype(np.int16)
        mv_all = np.flatnonzero(moving)
        sj, c = slot_j[mv_all], cj[mv_all]
        mv = near_rows(mv_all, cvx[sj, c], cvy[sj, c], cvz[sj, c], own_vs_fts[sj, c], level_s[sj, c])
        sj, c = slot_j[mv], cj[mv]
        judged[mv] = True
        block(mv, judge(mv, cvx[sj, c], cvy[sj, c], cvz[sj, c], own_vs_fts[sj, c], level_s[sj, c]))
        free = ~blocked
        redo = ~free[rows, cur] & (free & allowed).any(axis=1)
        if LASTING_FACTOR > 1.0:
            # Lasting, too, against the advice the aircraft in conflict now holds: two
            # turns each lasting against the other flying on may together converge
            # slowly, and both would change again when the loss enters the look-ahead.
            # Every pair in conflict whose neighbour moved, not only those `_near` keeps:
            # that test looks as far as the look-ahead, and lasting looks further.
            mc = mv_all[in_conflict[mv_all]]
            if mc.size:
                sjc, cc = slot_j[mc], cj[mc]
                h_l = judge(mc, cvx[sjc, cc], cvy[sjc, cc], cvz[sjc, cc], own_vs_fts[sjc, cc], level_s[sjc, cc],
                            t_factor=LASTING_FACTOR)
                kc = slot_b[mc]
                stc = np.flatnonzero(np.r_[True, kc[1:] != kc[:-1]])
                lasting[kc[stc]] &= ~_segment_any(h_l, stc)
                ok_l = free & allowed & lasting & coord
                redo |= ~lasting[rows, cur] & (cur > COL_KEEP) & ok_l.any(axis=1)
        if not redo.any():
            break
        nxt = _choose(snap, owners, trk, gs, vs, allowed, free, coord, intr, same_sense=same,
                      lasting=lasting).choice
        cur = np.where(redo, nxt, cur).astype(np.int16)
    cur, kept_inside = _inside_keeps(pairs, o_idx, j_idx, slot_b, judged, has, allowed, cur, cvx, cvy, cvz,
                                     own_vs_fts, level_s, vx, vy, vz, vz_fts, pres_level_s, slot, flown_all,
                                     east_o, north_o)
    final = _choose(snap, owners, trk, gs, vs, allowed, free, coord, intr, forced=cur)
    worst = (final.status == 2) & ~kept_inside
    if not worst.any():
        return blockers(final)
    # No free manoeuvre: take the one that leaves the most separation while leaving no
    # pair less separated than if the aircraft flew on, or none at all (`_min_norm`, with
    # each aircraft's vertical motion flown to its level, as the candidates were judged).
    rows_k = np.flatnonzero(judged & worst[slot_b])
    pr = pairs.take(rows_k)
    chosen = np.full(n, -1, dtype=np.int16)
    chosen[owners] = cur
    jv_trk = snap.track_deg.copy()
    jv_gs = snap.gs_kt.copy()
    jv_trk[owners], jv_gs[owners] = trk[rows, cur], gs[rows, cur]
    ks_k = slot_b[rows_k]
    ox, oy, oz = cvx[ks_k], cvy[ks_k], cvz[ks_k]
    ovs = own_vs_fts[ks_k]
    jj = j_idx[rows_k]
    base_w = _project(vx[jj] - vx[o_idx[rows_k]], vy[jj] - vy[o_idx[rows_k]], vz[jj] - vz[o_idx[rows_k]], pr)
    o_k = o_idx[rows_k]
    base_sep = _min_norm(pr, base_w[0][:, None], base_w[1][:, None], base_w[2][:, None],
                         (vz_fts[jj] - vz_fts[o_k])[:, None], vz_fts[o_k][:, None],
                         pres_level_s[o_k][:, None], pres_level_s[jj][:, None])[:, 0]
    fvx, fvy, fvz = velocity_ecef_nm_s(snap.lat_deg[jj], snap.lon_deg[jj], jv_trk[jj], jv_gs[jj])
    # The neighbour's chosen vertical motion: an owner's as its candidate is flown (to its
    # level), another's as it flies now.
    sj_k = slot[jj]
    own_j = sj_k >= 0
    cj_k = cur[np.maximum(sj_k, 0)]
    jv_fts = np.where(own_j, own_vs_fts[np.maximum(sj_k, 0), cj_k], vz_fts[jj])
    jv_lev = np.where(own_j, level_s[np.maximum(sj_k, 0), cj_k], pres_level_s[jj])
    lev_k = level_s[ks_k]
    # Rows whose neighbour's choice is the motion it flies now (not advised, or flying on):
    # the second velocity is the first, bit for bit, so it is not judged twice.
    moved_j = ~((fvx == vx[jj]) & (fvy == vy[jj]) & (fvz == vz[jj]) & (jv_fts == vz_fts[jj])
                & (jv_lev == pres_level_s[jj]))

    def least_sep(s: slice) -> F64:
        """Rows `s`: each candidate's least separation against the neighbour flying on
        or flying its choice (row by row, so in parts on every core: `by_rows`)."""
        def against(rows: IDX | slice, ivx: F64, ivy: F64, ivz: F64, ivs: F64, ilev: F64) -> F64:
            prs = pr.take(rows)
            w = _project(ivx[:, None] - ox[rows], ivy[:, None] - oy[rows], ivz[:, None] - oz[rows], prs)
            return _min_norm(prs, w[0], w[1], w[2], ivs[:, None] - ovs[rows], ovs[rows], lev_k[rows],
                             ilev[:, None])

        j_s = jj[s]
        sep = against(s, vx[j_s], vy[j_s], vz[j_s], vz_fts[j_s], pres_level_s[j_s])
        here = np.flatnonzero(moved_j[s])  # rows of the part; `m`: the same rows of rows_k
        if here.size:
            m = here + (s.start or 0)
            sep[here] = np.minimum(sep[here], against(m, fvx[m], fvy[m], fvz[m], jv_fts[m], jv_lev[m]))
        return sep

    sep = by_rows(least_sep, rows_k.size, JUDGE_CHUNK_ROWS)
    ks = ks_k
    st = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    # Harmless: no pair less separated than if the aircraft flew on against the same
    # neighbour motions (its own column NONE, not `base_sep`, where the neighbour flies on
    # too: a neighbour's own choice closing on it made every candidate, flying on included,
    # "harmful", and an aircraft holding advice was told to resume; BEST_EFFORT_FROM_NONE),
    # to within HARMLESS_TOL (a pair many minima apart differs in the last bits).
    ref = sep[:, COL_NONE:COL_NONE + 1] if BEST_EFFORT_FROM_NONE else base_sep[:, None]
    harm = sep < ref - HARMLESS_TOL
    if HARM_WITHIN_MINIMA:
        harm &= sep < 1.0
    unseen = np.zeros(rows_k.size, dtype=bool)  # rows judged only because advice is held
    if HARM_AS_NOT_ADVISED:
        r_adv = np.flatnonzero(has[ks_k])  # positions in rows_k of owners holding advice
        if r_adv.size:
            rk = rows_k[r_adv]
            jk = j_idx[rk]
            motions = [(vx[jk], vy[jk], vz[jk], vz_fts[jk], pres_level_s[jk]),
                       (fvx[r_adv], fvy[r_adv], fvz[r_adv], jv_fts[r_adv], jv_lev[r_adv])]
            motions += [(a[0][jk], a[1][jk], a[2][jk], a[3][jk], a[4][jk]) for a in adv_vel]
            seen = _near_as_not_advised(pairs.take(rk), reach.take(rk), motions, known[jk])
            harm[r_adv[~seen]] = False
            unseen[r_adv[~seen]] = BOTH_AS_NOT_ADVISED
    harm_rows.append(rows_k[harm[:, COL_KEEP] & has[ks_k]])
    harmless = ~np.logical_or.reduceat(harm, st, axis=0)
    least = np.minimum.reduceat(sep, st, axis=0)
    o_w = ks[st]
    ok = harmless & allowed[o_w] & (coord[o_w] | (CAND_KIND != VERTICAL)[None, :])
    # The most separation left (a coordinated choice, and the advice held, weighed as
    # leaving BEST_EFFORT_COORD, BEST_EFFORT_KEEP more of the minima), so that it does not
    # change each second.
    bonus = (np.where(np.arange(N_CAND) == COL_KEEP, BEST_EFFORT_KEEP, 0.0)[None, :]
             + BEST_EFFORT_COORD * coord[o_w])
    pick = np.argmax(np.where(ok, least + bonus, -np.inf), axis=1).astype(np.int16)
    pick = np.where(ok.any(axis=1), pick, COL_NONE).astype(np.int16)
    cur = cur.copy()
    cur[o_w] = pick
    # Two such aircraft manoeuvring at once may still close on each other: then the one
    # later in the order of ids flies on (flying on is harmless by construction).
    slot_of_j = slot[jj]
    both = (slot_of_j >= 0) & worst[np.maximum(slot_of_j, 0)]
    both &= (cur[ks] != COL_NONE) & (cur[np.maximum(slot_of_j, 0)] != COL_NONE) & ~unseen
    if both.any():
        rb = np.flatnonzero(both)
        jc = cur[slot_of_j[rb]]
        sj = slot_of_j[rb]
        jvx, jvy, jvz = cvx[sj, jc], cvy[sj, jc], cvz[sj, jc]
        oc = cur[ks[rb]]
        prb = _Pairs(*(getattr(pr, f)[rb] for f in pr.__dataclass_fields__))
        w = _project(jvx - cvx[ks[rb], oc], jvy - cvy[ks[rb], oc], jvz - cvz[ks[rb], oc], prb)
        o_vz = own_vs_fts[ks[rb], oc]
        dvz = own_vs_fts[sj, jc] - o_vz
        s_both = _min_norm(prb, w[0][:, None], w[1][:, None], w[2][:, None], dvz[:, None], o_vz[:, None],
                           level_s[ks[rb], oc][:, None], level_s[sj, jc][:, None])[:, 0]
        later = snap.id[o_idx[rows_k[rb]]] > snap.id[jj[rb]]
        closer = s_both < base_sep[rb] - HARMLESS_TOL
        if HARM_WITHIN_MINIMA:
            closer &= s_both < 1.0
        cur[ks[rb][closer & later]] = COL_NONE
    if KEEP_PAST_PLACEHOLDERS:
        def frees_boxed(back: BOOL, cur: NDArray[np.int16]) -> BOOL:
            """(O,): owners in `back` whose advice held blocks a manoeuvre that a neighbour
            with nothing free (`worst`) would have free with every final choice as in `cur`:
            changing the advice, as chosen, makes room for that neighbour (named in `room`)."""
            out = np.zeros(o_count, dtype=bool)
            r_on = np.flatnonzero(back[slot_b] & (slot_j >= 0))
            r_on = r_on[worst[slot_j[r_on]]]
            if not r_on.size:
                return out
            boxed = np.zeros(o_count, dtype=bool)
            boxed[slot_j[r_on]] = True
            rn = np.flatnonzero(boxed[slot_b])  # the boxed neighbours' own rows, by slot
            sjn = slot_j[rn]
            own = sjn >= 0
            sj0 = np.maximum(sjn, 0)
            ivx, ivy, ivz, ivs, ilev = _as_chosen(sjn, j_idx[rn], cur, (cvx, cvy, cvz, own_vs_fts, level_s),
                                                  (vx, vy, vz, vz_fts, pres_level_s))
            ks = slot_b[rn]
            st = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
            open_n = np.zeros((o_count, N_CAND), dtype=bool)
            open_n[ks[st]] = ~_segment_any(judge(rn, ivx, ivy, ivz, ivs, ilev), st)
            open_n &= allowed & (coord | (CAND_KIND != VERTICAL)[None, :])
            # Rows (boxed neighbour, owner in `back`): the owner's advice held, judged.
            r_no = rn[own & back[sj0]]
            if r_no.size:
                so = slot_j[r_no]
                hit = judge(r_no, cvx[so, COL_KEEP], cvy[so, COL_KEEP], cvz[so, COL_KEEP],
                            own_vs_fts[so, COL_KEEP], level_s[so, COL_KEEP])
                frees = (hit & open_n[slot_b[r_no]]).any(axis=1)
                out[so[frees]] = True
                for s_, b_ in sorted(set(zip(so[frees].tolist(), slot_b[r_no[frees]].tolist(), strict=True))):
                    room[s_].append(str(snap.id[owners[b_]]))
            return out

        cur, free = _keep_past_placeholders(cur, blocked, keep_before_rounds, has, allowed, known,
                                            slot_b, slot_j, j_idx, judge, cvx, cvy, cvz, own_vs_fts,
                                            level_s, keep_rows,
                                            frees_boxed if KEEP_UNLESS_FREES else None)
    return blockers(_choose(snap, owners, trk, gs, vs, allowed, free, coord, intr, forced=cur))


#: In the joint rounds, judge the neighbours of an owner with no free manoeuvre against it
#: flying on, not against the placeholder choice best effort later replaces (a variant, off:
#: that placeholder, never given, made an advice held look no longer free and changed it;
#: flown, more losses in four of six cases: docs/resolution-stability.md, "The placeholder").
ROUNDS_FREE_ONLY = False

#: After best effort: advice held that only the joint rounds found no longer free is kept
#: if it is free of every neighbour's final choice (`_keep_past_placeholders`), unless
#: KEEP_UNLESS_FREES. On since 9c3da0a; alone it was a variant, off: fewer
#: changes made again but 10 % more losses at 2-D 100 over nine seeds, the traffic boxed in
#: (docs/resolution-stability.md, "The placeholder" and the bullets after it).
KEEP_PAST_PLACEHOLDERS = True

#: With KEEP_PAST_PLACEHOLDERS: the advice held is not kept where it blocks a manoeuvre that
#: a neighbour with nothing free would have free of every final choice once the advice is
#: changed as chosen (it makes room). On: at 2-D 100, seeds 6-9, 23 % fewer losses than
#: without either, and 38 % fewer changes made again (as many per advisory, the advice
#: lasting longer): docs/resolution-stability.md, "Keeping unless it makes room".
KEEP_UNLESS_FREES = True

#: A new manoeuvre given to an aircraft holding advice leaves what it does not change as last
#: advised in the encounter (the tracker's `Advised.adv_*`: a turn at the speed, a speed
#: change on the track, a level change at the horizontal velocity), as crews fly it, not as
#: the aircraft flies it mid-manoeuvre (docs/resolution-stability.md, "The speed lead").
LAST_ADVISED = True

#: Inside the minima already, keep the advice held unless the new choice leaves
#: BEST_EFFORT_KEEP more of them as flown (`_inside_keeps`). A variant, off: flown on the
#: safety tables but 2-D 100 (docs/resolution-stability.md, `INSIDE_KEEP`), fewer changes made again
#: at 25 and more losses there, on five seeds.
INSIDE_KEEP = False

#: Resume's return to the original altitudes is judged as if made at once (the height
#: difference shifted), and `_hits` passes a pair already inside that closes on neither
#: axis: two aircraft advised apart vertically, 1.2 NM apart horizontally and about to
#: pass, were both told to resume, flew back towards one level and were advised apart
#: again 7 s later (2-D 25 seed 2, t = 174 s). With this, a return that closes the height
#: difference to within the vertical minimum while within RESUME_MARGIN times the
#: horizontal one is not free (`_return_closes`). On: with HOLD_SECOND, advice given again
#: after resume fell from 222 to 126 over five seeds of 2-D 25 with crews at once (README,
#: "One change, and resume's return").
RESUME_RETURN_CLOSES = True


#: Resume's return to the original altitude is judged against an advised (or resuming)
#: neighbour returning too (its original velocity, back at its own original altitude)
#: and, with this, where it is, flying its advice or what it flies now. 10005d, advised
#: down to FL280 for another aircraft, was told to resume to FL300, where 100012 flew the
#: turn it held, 3.2 NM from 10005d's track in 271 s: judged only against 100012's
#: original track, the return was free, and 10005d was advised again a second later, told
#: to resume, advised again (2-D 25 seed 1, crews at once, t = 281 s). Kept at FL280, it
#: was told to resume once 100012 resumed, and advised again a second later: 100012, part
#: way through its turn back, passed 2.8 NM from its return (t = 297 s).
RESUME_CLEAR_OF_ADVICE = True
#: An aircraft climbing or descending towards the level its crew has selected (the
#: snapshot's `SEL_ALT_FT`, where the feed gives it) is judged levelling off there, as one
#: flying vertical advice levels off at the level advised, not climbing on through it
#: (2-D 25 seed 3, t = 665 s: 100019's turn was strengthened three seconds running for
#: 10003f, levelling off 2,850 ft below it after a resume and judged climbing on).
SELECTED_LEVEL = True
#: An aircraft this close to the level it climbs or descends to (selected, or advised) is
#: capturing it, whichever side it is: levelling off there. The last feet of a capture come
#: with some vertical speed left, and one at or just past its level is not climbing on.
#: (2-D 25 seed 3, t = 422 s: 10005f, back at FL300 after a resume, 0.4 ft above it at
#: 319 ft/min, was judged climbing on through FL320, where 10003e's climb went: the climb
#: advised 3 s before was changed to a turn. 100 ft: Mode C's step, a tenth of the minima.)
#: Off (0): flown at 100 ft, crews at once gained (2-D 25, five seeds: 94 losses against 95,
#: advisories changed twice for neither a new intruder nor a reversal 11 against 15), but
#: crews 10 s late and 38 % not following lost separation more (twelve seeds: 752 against
#: 707, ten seeds worse), the same capturing only at 500 ft/min or less: the last feet of
#: captures, for a cause not traced (docs/resolution-stability.md, "A level being captured").
LEVEL_CAPTURE_FT = 0.0


def _return_closes(pr: _Pairs, shift_ft: F64, h_factor: float) -> BOOL:
    """Pairs whose return to the original altitudes (`shift_ft` added to the height
    difference) closes it to within the vertical minimum while within `h_factor` times the
    horizontal one after the lead time: a return flown over a minute, not at once
    (RESUME_RETURN_CLOSES)."""
    after_ft = np.abs(pr.dz_ft + shift_ft)
    return np.asarray((pr.range_nm() < pr.h_nm * h_factor) & (after_ft < pr.v_ft) & (after_ft < np.abs(pr.dz_ft)))


def _as_chosen(sj: IDX, jj: IDX, cur: NDArray[np.int16], cand: tuple[F64, F64, F64, F64, F64],
               present: tuple[F64, F64, F64, F64, F64]) -> tuple[F64, F64, F64, F64, F64]:
    """Neighbours `jj` (their owner slots `sj`, -1 for none) as chosen: an owner's candidate
    `cur` from `cand` (vx, vy, vz, vs ft/s, level s; (O, C) each), another's `present`
    motion ((N,) each)."""
    own = sj >= 0
    sj0 = np.maximum(sj, 0)
    c = cur[sj0]
    vx, vy, vz, vs, lev = (np.where(own, a[sj0, c], p[jj]) for a, p in zip(cand, present, strict=True))
    return vx, vy, vz, vs, lev


def _keep_past_placeholders(cur: NDArray[np.int16], blocked: BOOL, keep_before_rounds: BOOL, has: BOOL,
                            allowed: BOOL, known: BOOL, slot_b: IDX, slot_j: IDX, j_idx: IDX,
                            judge: Callable[..., BOOL], cvx: F64, cvy: F64, cvz: F64,
                            own_vs_fts: F64, level_s: F64, keep_rows: list[IDX],
                            frees_boxed: Callable[[BOOL, NDArray[np.int16]], BOOL] | None = None,
                            ) -> tuple[NDArray[np.int16], BOOL]:
    """Advice held that only the joint rounds found no longer free is kept if it is free of
    every neighbour's final choice. The rounds judge a neighbour with nothing free by its
    placeholder choice, which best effort then replaces (often by flying on): the advice
    held was changed for a manoeuvre never given (2-D 25 seed 1, t = 1,575 s).

    Present velocities and advice held were judged before the rounds; a neighbour's final
    manoeuvre is judged here. `frees_boxed` (KEEP_UNLESS_FREES), given the owners that would
    be kept and every final choice, says which of them are in the way of a neighbour with
    nothing free: those are not kept. Mutates `blocked` and `keep_rows` (the blockers
    reported)."""
    back = (has & allowed[:, COL_KEEP] & ~keep_before_rounds & blocked[:, COL_KEEP]
            & (cur != COL_RESUME) & (cur != COL_KEEP))
    if back.any():
        rows = np.flatnonzero(back[slot_b] & (slot_j >= 0))  # neighbours that were given a choice
        nb = j_idx[rows]
        fc = cur[np.maximum(slot_j[rows], 0)]
        judged_before = ((fc == COL_NONE) & ~known[nb]) | ((fc == COL_KEEP) & known[nb])
        need = rows[~judged_before]
        if need.size:
            sj, c = slot_j[need], cur[slot_j[need]]
            hit = judge(need, cvx[sj, c], cvy[sj, c], cvz[sj, c], own_vs_fts[sj, c], level_s[sj, c])
            back[slot_b[need[hit[:, COL_KEEP]]]] = False
    if frees_boxed is not None and back.any():
        back &= ~frees_boxed(back, cur)
    if not back.any():
        return cur, ~blocked
    blocked[back, COL_KEEP] = False
    keep_rows[:] = [r[~back[slot_b[r]]] for r in keep_rows]
    return np.where(back, COL_KEEP, cur).astype(np.int16), ~blocked


def _inside_keeps(pairs: _Pairs, o_idx: IDX, j_idx: IDX, slot_b: IDX, judged: BOOL, has: BOOL,
                  allowed: BOOL, cur: NDArray[np.int16], cvx: F64, cvy: F64, cvz: F64, own_vs_fts: F64,
                  level_s: F64, vx: F64, vy: F64, vz: F64, vz_fts: F64, pres_level_s: F64,
                  slot: IDX, flown: _Flown, east_o: tuple[F64, F64, F64],
                  north_o: tuple[F64, F64, F64]) -> tuple[NDArray[np.int16], BOOL]:
    """Owners holding advice that are already within the (buffered) minima of a neighbour,
    where a free manoeuvre only means one that opens the range at once: keep the advice
    held unless the new choice leaves BEST_EFFORT_KEEP more of the minima, each judged by
    its least separation over every neighbour judged (flying on, or flying its choice) as
    flown (`_flown`: the turn along its arc), not at once. Also (O,): the owners kept."""
    o_count = cur.size
    kept = np.zeros(o_count, dtype=bool)
    if not INSIDE_KEEP:
        return cur, kept
    rows_o = np.arange(o_count)
    cand = has & (cur != COL_KEEP) & allowed[rows_o, COL_KEEP]
    if not cand.any():
        return cur, kept
    inside = judged & (pairs.range_nm() < pairs.h_nm) & ~(np.abs(pairs.dz_ft) >= pairs.v_ft)
    in_o = np.zeros(o_count, dtype=bool)
    in_o[slot_b[inside]] = True
    cand &= in_o
    if not cand.any():
        return cur, kept
    rk = np.flatnonzero(judged & cand[slot_b])
    pr = pairs.take(rk)
    ks = slot_b[rk]
    jj = j_idx[rk]
    oo = o_idx[rk]
    cols = np.stack([np.full(ks.size, COL_KEEP), cur[ks]], axis=1)

    def pick(a: F64) -> F64:
        return np.take_along_axis(a[ks], cols, axis=1)

    ox, oy, oz = pick(cvx), pick(cvy), pick(cvz)
    ovs, olev = pick(own_vs_fts), pick(level_s)
    t_turn = np.minimum(pick(flown.t_s), pr.t_s[:, None])
    # The owner's east and north at its position (ECEF), for the chords' velocities.
    east = tuple(e[ks][:, None] for e in east_o)
    north = tuple(e[ks][:, None] for e in north_o)
    fvx, fvy, fvz, fvs, flev = _as_chosen(slot[jj], jj, cur, (cvx, cvy, cvz, own_vs_fts, level_s),
                                          (vx, vy, vz, vz_fts, pres_level_s))
    sep = np.full((rk.size, 2), np.inf)
    for ivx, ivy, ivz, ivs, ilev in ((vx[jj], vy[jj], vz[jj], vz_fts[jj], pres_level_s[jj]),
                                     (fvx, fvy, fvz, fvs, flev)):
        # The pieces as flown: ARC_CHORDS chords over the turn, then the new velocity.
        pieces: list[tuple[F64, F64, F64, F64, F64]] = []
        for c in range(ARC_CHORDS):
            de, dn = pick(flown.d_e[c]), pick(flown.d_n[c])
            pieces.append((vx[oo][:, None] - de * east[0] - dn * north[0],
                           vy[oo][:, None] - de * east[1] - dn * north[1],
                           vz[oo][:, None] - de * east[2] - dn * north[2],
                           t_turn * (c / ARC_CHORDS), t_turn * ((c + 1) / ARC_CHORDS)))
        pieces.append((ox, oy, oz, t_turn, np.broadcast_to(pr.t_s[:, None], t_turn.shape)))
        rx, ry, rz = pr.rx[:, None], pr.ry[:, None], pr.rz[:, None]
        for px, py, pz, lo, hi in pieces:
            w = _project(ivx[:, None] - px, ivy[:, None] - py, ivz[:, None] - pz, pr)
            # r + w (t - lo) over [lo, hi], as `_min_norm_window`'s r' + w t.
            shifted = replace(pr, rx=(rx - w[0] * lo), ry=(ry - w[1] * lo), rz=(rz - w[2] * lo))
            sep = np.minimum(sep, _min_norm_window(shifted, w[0], w[1], w[2], ivs[:, None] - ovs, ovs, olev,
                                                   ilev[:, None], lo, hi))
            rx, ry, rz = rx + w[0] * (hi - lo), ry + w[1] * (hi - lo), rz + w[2] * (hi - lo)
    st = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    least = np.minimum.reduceat(sep, st, axis=0)
    keep = least[:, 0] >= least[:, 1] - BEST_EFFORT_KEEP
    out = cur.copy()
    out[ks[st][keep]] = COL_KEEP
    kept[ks[st][keep]] = True
    return out, kept


def _min_norm_window(p: _Pairs, wx: F64, wy: F64, wz: F64, dvz_fts: F64, own_vz_fts: F64,
                     own_level_s: F64, j_level_s: F64, lo: F64, hi: F64) -> F64:
    """`_min_norm` over [lo, hi] (K, C) only (inf where empty); the horizontal position is
    p.r + w t (p.rx... may be (K, C)), the height difference as flown to each level."""
    s1 = np.minimum(own_level_s, j_level_s)
    s2 = np.maximum(own_level_s, j_level_s)
    dz0 = np.broadcast_to(p.dz_ft[:, None], np.broadcast_shapes(lo.shape, wx.shape))
    j_vz = dvz_fts + own_vz_fts
    r1 = np.where(own_level_s < j_level_s, j_vz, -own_vz_fts)
    f1 = np.isfinite(s1)
    f2 = np.isfinite(s2)
    s1_0 = np.where(f1, s1, 0.0)
    z1 = dz0 + dvz_fts * s1_0
    z2 = z1 + r1 * np.where(f2, s2 - s1_0, 0.0)  # s2 finite: s1 too
    out = np.full(dz0.shape, np.inf)
    zero = np.zeros(dz0.shape)
    for ok, dz, dv, a, b in ((lo <= np.minimum(hi, s1), dz0, dvz_fts, lo, np.minimum(hi, s1)),
                             (f1 & (np.maximum(lo, s1) <= np.minimum(hi, s2)), z1 - r1 * s1_0, r1,
                              np.maximum(lo, s1), np.minimum(hi, s2)),
                             (f2 & (np.maximum(lo, s2) <= hi), z2, zero, np.maximum(lo, s2), hi)):
        ok = np.broadcast_to(ok, out.shape)
        if not ok.any():
            continue
        a_ = np.where(ok, a, 0.0)
        b_ = np.where(ok, b, 0.0)
        piece = _min_norm_piece(p, wx, wy, wz, np.broadcast_to(dz, out.shape), np.broadcast_to(dv, out.shape),
                                   a_, b_)
        out = np.where(ok, np.minimum(out, piece), out)
    return out


def _toward(level_ft: F64, alt_ft: F64, vs_fpm: F64) -> BOOL:
    """Aircraft climbing or descending towards `level_ft` (NaN: none) from `alt_ft`, or
    capturing it (within LEVEL_CAPTURE_FT of it, either side)."""
    with np.errstate(invalid="ignore"):
        near = np.abs(level_ft - alt_ft) <= LEVEL_CAPTURE_FT if LEVEL_CAPTURE_FT > 0.0 else False
        return np.asarray((vs_fpm != 0.0) & ((np.sign(vs_fpm) == np.sign(level_ft - alt_ft)) | near))


def _levels(advised: Advised, owners: IDX, has: BOOL, alt_ft: F64, alt_lead_ft: F64, vs0: F64,
            sel_ft: F64 | None = None) -> tuple[F64, F64]:
    """(O, C): the level at which each column's vertical motion ends (NaN: flown on): a
    vertical candidate's (LEVEL_CHANGE_FT from the altitude at the end of the lead time, to
    a flight level: `_flight_level`),
    the advice held's, and, for the present motion (and the turns and speed changes that
    keep it) of an aircraft climbing or descending (from `alt_ft`, now) to the level of its
    vertical advice, that level, else to the level selected (`sel_ft`, NaN: not known), that
    one. Also (O,): the level of each vertical advice held (NaN: none)."""
    o = owners.size
    lvl = np.full(o, np.nan) if advised.adv_alt_ft is None else np.where(has, advised.adv_alt_ft[owners], np.nan)
    vertical = np.isfinite(lvl)
    if advised.adv_kind is not None:
        vertical &= advised.adv_kind[owners] == VERTICAL
    pres = np.where(_toward(lvl, alt_ft, vs0), lvl, np.nan)
    if sel_ft is not None:
        pres = np.where(np.isnan(pres) & _toward(sel_ft, alt_ft, vs0), sel_ft, pres)
    level = np.repeat(pres[:, None], N_CAND, axis=1)
    vert = CAND_KIND == VERTICAL
    level[:, vert] = _flight_level(alt_lead_ft[:, None], CAND_DALT_FT[None, vert])
    level[:, COL_RESUME] = np.nan
    held = np.where(vertical, lvl, np.nan)
    level[:, COL_KEEP] = np.where(vertical, held, pres)
    return level, held


def _flight_level(alt_ft: F64, change_ft: F64) -> F64:
    """The level a change of `change_ft` from `alt_ft` ends at: the nearest multiple of
    FLIGHT_LEVEL_FT to `alt_ft + change_ft` (a half-way altitude goes further, the way of the
    change), so that a crew is told a flight level (24,500 ft climbing 1,000: FL260); a
    change of 0 (level off) is where the aircraft is."""
    target = alt_ft + change_ft
    q = target / FLIGHT_LEVEL_FT
    snapped = np.where(change_ft > 0.0, np.floor(q + 0.5), np.ceil(q - 0.5)) * FLIGHT_LEVEL_FT
    return np.where(change_ft == 0.0, target, snapped)


def _level_off(level_ft: F64, vs_fpm: F64, alt_lead_ft: F64) -> tuple[F64, F64]:
    """(O, C): seconds after the lead time until each column's level is reached (inf:
    no level, or never), and the vertical speed flown meanwhile (0 at or past its level)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (level_ft - alt_lead_ft[:, None]) / (vs_fpm / 60.0)
        there = np.isfinite(level_ft) & ~(t > 0.0)
        level_s = np.where(np.isfinite(level_ft) & (t > 0.0) & np.isfinite(t), t, np.inf)
    return level_s, np.where(there, 0.0, vs_fpm)


def _min_norm(p: _Pairs, wx: F64, wy: F64, wz: F64, dvz_fts: F64,
              own_vz_fts: F64 | None = None, own_level_s: F64 | None = None,
              j_level_s: F64 | None = None) -> F64:
    """(K, C): the smallest max(d/H, |dz|/V) over the look-ahead (vertical unknown: d/H),
    with the relative vertical speed `dvz_fts` (the neighbour's minus the owner's) flown
    straight, or, given the owner's vertical speed and when each of the two levels off
    (`own_level_s`, `j_level_s`: seconds, inf never), as flown: piecewise.

    On each piece both terms are convex in time (a norm of an affine function, the
    absolute value of an affine one), so their maximum is convex and its minimum lies at
    an end of the piece, at the minimum of one term, or where the two terms are equal (the
    roots of one quadratic): evaluating at those instants gives it exactly."""
    t_end = np.broadcast_to(p.t_s[:, None], np.broadcast_shapes(wx.shape, p.rx[:, None].shape))
    zero = np.zeros(t_end.shape)
    dz0 = np.broadcast_to(p.dz_ft[:, None], t_end.shape)
    if own_vz_fts is None or own_level_s is None or j_level_s is None:
        return _min_norm_piece(p, wx, wy, wz, dz0, dvz_fts, zero, t_end)
    # Where a level-off falls inside the look-ahead, the first piece ends there and the
    # relative vertical speed changes: judge each piece on its own.
    s1 = np.minimum(own_level_s, j_level_s)
    s2 = np.maximum(own_level_s, j_level_s)
    out = _min_norm_piece(p, wx, wy, wz, dz0, dvz_fts, zero, np.minimum(s1, t_end))
    fin1 = np.broadcast_to(np.isfinite(s1), t_end.shape)
    if not fin1.any():
        return out
    shape = t_end.shape
    j_vz = dvz_fts + own_vz_fts
    t1 = np.where(fin1, np.minimum(s1, t_end), 0.0)
    z1 = p.dz_ft[:, None] + dvz_fts * t1
    r1 = np.where(own_level_s < j_level_s, j_vz, -own_vz_fts)  # after the first level-off
    r1 = np.broadcast_to(np.where(fin1, r1, 0.0), shape)
    fin2 = fin1 & np.isfinite(s2)
    hi1 = np.where(fin2, np.minimum(s2, t_end), t_end)
    out = out.copy()

    def later(mask: BOOL, dz: F64, dvz: F64, lo: F64, hi: F64) -> None:
        """The piece [lo, hi] of the elements in `mask` only (most have no level-off)."""
        ri, ci = np.nonzero(mask)

        def e(a: F64) -> F64:
            return np.broadcast_to(a, shape)[ri, ci][:, None]

        piece = _min_norm_piece(p.take(ri), e(wx), e(wy), e(wz), e(dz), e(dvz), e(lo), e(hi))[:, 0]
        out[ri, ci] = np.minimum(out[ri, ci], piece)

    # dz on the second piece, as an affine function of t: z1 + r1 (t - t1).
    later(fin1, z1 - r1 * t1, r1, t1, hi1)
    if fin2.any():
        t2 = np.where(fin2, hi1, 0.0)
        z2 = z1 + r1 * (t2 - t1)
        later(fin2, z2, zero, t2, t_end)
    return out


def _min_norm_piece(p: _Pairs, wx: F64, wy: F64, wz: F64, dz: F64, dvz_fts: F64, t_lo: F64, t_hi: F64) -> F64:
    """(K, C): the smallest max(d/H, |dz + dvz_fts t|/V) for t in [t_lo, t_hi] (`_min_norm`);
    the position at 0 p.rx... per pair (K,), or per candidate (K, C)."""
    rx, ry, rz = (p.rx, p.ry, p.rz) if p.rx.ndim > 1 else (p.rx[:, None], p.ry[:, None], p.rz[:, None])
    h, v = p.h_nm[:, None], p.v_ft[:, None]

    # NaN where the height difference (or a vertical speed) is unknown: judged on d alone.
    unknown = bool(np.isnan(dz).any() or np.isnan(dvz_fts).any())

    def worse(d: F64, vv: F64) -> F64:
        return np.where(np.isnan(vv), d, np.maximum(d, vv)) if unknown else np.maximum(d, vv)

    def f(t: F64) -> F64:
        dx, dy, dzh = rx + wx * t, ry + wy * t, rz + wz * t
        return worse(np.sqrt(_dot(dx, dy, dzh, dx, dy, dzh)) / h, np.abs(dz + dvz_fts * t) / v)

    ww = _dot(wx, wy, wz, wx, wy, wz)
    rw = _dot(rx, ry, rz, wx, wy, wz)
    rr = _dot(rx, ry, rz, rx, ry, rz)
    dzv = np.nan_to_num(dz)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_h = np.where(ww > 0.0, -rw / ww, 0.0)
        t_v = np.where(dvz_fts != 0.0, -dzv / dvz_fts, 0.0)
        qa = ww / (h * h) - dvz_fts * dvz_fts / (v * v)
        qb = 2.0 * rw / (h * h) - 2.0 * dzv * dvz_fts / (v * v)
        qc = rr / (h * h) - dzv * dzv / (v * v)
        disc = np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0))
        lin = np.abs(qa) < 1e-18
        r1 = np.where(lin, np.where(qb != 0.0, -qc / qb, 0.0), (-qb - disc) / (2.0 * qa))
        r2 = np.where(lin, r1, (-qb + disc) / (2.0 * qa))
    out = np.minimum(f(t_lo), f(t_hi))
    for t in (t_h, t_v, r1, r2):
        t = np.clip(np.nan_to_num(t), t_lo, t_hi)
        out = np.minimum(out, f(t))
    return out


def _wrap180(a: F64) -> F64:
    return (a + 180.0) % 360.0 - 180.0


def advised_dimension(orig: tuple[F64, F64, F64], adv: tuple[F64, F64, F64],
                      kind: NDArray[np.int8] | None = None) -> tuple[IDX, F64]:
    """The dimension (0 track, 1 speed, 2 vertical speed) in which advice `adv` changes the
    original velocity `orig` (track_deg, gs_kt, vs_fpm arrays) and the sense of that change
    (-1, 0, 1; NaN counts as none): the one of `kind` (TRACK, SPEED, VERTICAL) where given
    (a turn given while climbing is not a climb), else the one it changes most, in units of
    10 deg, 10 % and 1,000 ft/min."""
    d = np.vstack([_wrap180(adv[0] - orig[0]) / 10.0, (adv[1] - orig[1]) / np.maximum(0.1 * orig[1], 1.0),
                   (adv[2] - orig[2]) / 1000.0])
    dim = np.argmax(np.abs(np.nan_to_num(d)), axis=0)
    if kind is not None:
        given = (kind >= TRACK) & (kind <= VERTICAL)
        dim = np.where(given, kind.astype(np.intp) - TRACK, dim)
    return dim, np.sign(np.nan_to_num(d[dim, np.arange(d.shape[1])]))


def _same_sense(advised: Advised, owners: IDX, trk: F64, gs: F64, vs: F64) -> NDArray[np.int8]:
    """(O, C): how the candidate relates to the aircraft's advisory: SAME_SENSE (it changes
    the original velocity in the dimension and sense the advisory already does, stronger
    or weaker; all for aircraft without one), OTHER_DIMENSION (another kind of manoeuvre,
    the advised dimension left in its sense) or REVERSED (the advised dimension back past
    the original value), so that advice is kept in kind rather than switched or reversed."""
    out = np.full(trk.shape, SAME_SENSE, dtype=np.int8)
    rows = np.flatnonzero(advised.active[owners])  # only aircraft holding advice
    if rows.size == 0:
        return out
    owners, trk, gs, vs = owners[rows], trk[rows], gs[rows], vs[rows]
    o_trk, o_gs, o_vs = (advised.orig_track_deg[owners], advised.orig_gs_kt[owners],
                         advised.orig_vs_fpm[owners])
    a_trk, a_gs, a_vs = (advised.adv_track_deg[owners], advised.adv_gs_kt[owners],
                         advised.adv_vs_fpm[owners])
    dim, sgn = advised_dimension((o_trk, o_gs, o_vs), (a_trk, a_gs, a_vs),
                                 None if advised.adv_kind is None else advised.adv_kind[owners])
    d_c = np.stack([_wrap180(trk - o_trk[:, None]), gs - o_gs[:, None], vs - o_vs[:, None]])
    pick = np.take_along_axis(np.nan_to_num(d_c), dim[None, :, None], axis=0)[0]
    same = np.sign(pick) == sgn[:, None]
    kind_of_dim = np.array([TRACK, SPEED, VERTICAL])[dim]
    in_dim = CAND_KIND[None, :] == kind_of_dim[:, None]
    code = np.where(same, np.where(in_dim, SAME_SENSE, OTHER_DIMENSION), REVERSED)
    # Beyond the advice held, in its sense: a step at least, or WEAK.
    held = np.take_along_axis(np.nan_to_num(np.stack([_wrap180(a_trk - o_trk), a_gs - o_gs, a_vs - o_vs])),
                              dim[None, :], axis=0)[0]
    beyond = sgn[:, None] * (pick - held[:, None])
    step = np.array([STRENGTHEN_DEG, 0.0, 0.0])[dim] + np.array([0.0, STRENGTHEN_GS_FRACTION, 0.0])[dim] * o_gs
    weak = same & in_dim & ((CAND_KIND == TRACK) | (CAND_KIND == SPEED))[None, :] & (beyond < step[:, None])
    out[rows] = np.where(weak, WEAK, code)
    return out


def _allowed(snap: Snapshot, owners: IDX, rules: AircraftRules, has: BOOL, vs0: F64, gs: F64) -> BOOL:
    """Candidates each owner may be given: the agreement's manoeuvres (speeds `gs`, (O, C),
    within the aircraft's envelope where known), and resume/keep only for aircraft that
    hold an advisory."""
    kind = CAND_KIND[None, :]
    allowed = np.zeros((owners.size, N_CAND), dtype=bool)
    allowed |= (kind == TRACK) & rules.track[owners][:, None]
    speed_ok = rules.speed[owners][:, None]
    if rules.gs_max_kt is not None:
        speed_ok = speed_ok & ~(gs > rules.gs_max_kt[owners][:, None])  # NaN: not bounded
    allowed |= (kind == SPEED) & speed_ok
    vert = rules.vertical[owners] & ~np.isnan(snap.alt_ft[owners])
    allowed |= (kind == VERTICAL) & vert[:, None]
    # A vertical target equal to the present vertical speed is no manoeuvre.
    same_vs = np.abs(np.nan_to_num(CAND_VS_FPM)[None, :] - vs0[:, None]) < 100.0
    allowed &= ~((kind == VERTICAL) & same_vs)
    allowed |= ((kind == RESUME) | (kind == KEEP)) & has[:, None]
    allowed &= ~rules.exempt[owners][:, None]
    return allowed


def _coordination(snap: Snapshot, pairs: _Pairs, o_idx: IDX, j_idx: IDX, k_slot: IDX,
                  trk: F64, gs: F64, vs: F64, cvx: F64, cvy: F64, cvz: F64,
                  present: tuple[F64, F64, F64, F64, F64], fixed: BOOL | None = None) -> BOOL:
    """(K, C): candidate c of owner o does not move o towards the other aircraft's
    position at closest approach (see the module's docstring for the tie rules; `fixed`,
    (N,): aircraft that never manoeuvre). `present`: each aircraft's velocity, vertical
    speed and when its vertical motion ends at a level (inf: never), as it is judged."""
    vx, vy, vz, vz_fts, level_s = present
    w = _project(vx[j_idx] - vx[o_idx], vy[j_idx] - vy[o_idx], vz[j_idx] - vz[o_idx], pairs)
    a = _dot(*w, *w)
    b = _dot(pairs.rx, pairs.ry, pairs.rz, *w)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = np.where(a > 0.0, -b / a, 0.0)
    t_star = np.clip(t_star, 0.0, pairs.t_s)
    mx, my, mz = pairs.rx + w[0] * t_star, pairs.ry + w[1] * t_star, pairs.rz + w[2] * t_star
    # A tie is a miss below TIE_NM (2 mm): rounding in the geometry must not pick a side.
    tie = _dot(mx, my, mz, mx, my, mz) < TIE_NM * TIE_NM
    if tie.any():
        # Right-hand perpendicular of the relative velocity: w x up.
        px = w[1] * pairs.uz - w[2] * pairs.uy
        py = w[2] * pairs.ux - w[0] * pairs.uz
        pz = w[0] * pairs.uy - w[1] * pairs.ux
        still = tie & (px == 0.0) & (py == 0.0) & (pz == 0.0)
        if still.any():
            # Same velocity, same place: the first by id keeps right, the other left.
            ov = _project(vx[o_idx], vy[o_idx], vz[o_idx], pairs)
            lx = -(ov[1] * pairs.uz - ov[2] * pairs.uy)
            ly = -(ov[2] * pairs.ux - ov[0] * pairs.uz)
            lz = -(ov[0] * pairs.uy - ov[1] * pairs.ux)
            first = snap.id[o_idx] < snap.id[j_idx]
            sgn = np.where(first, 1.0, -1.0)
            px = np.where(still, sgn * lx, px)
            py = np.where(still, sgn * ly, py)
            pz = np.where(still, sgn * lz, pz)
        mx, my, mz = np.where(tie, px, mx), np.where(tie, py, my), np.where(tie, pz, mz)
    dv = _project(cvx[k_slot] - vx[o_idx][:, None], cvy[k_slot] - vy[o_idx][:, None],
                  cvz[k_slot] - vz[o_idx][:, None], pairs)
    horiz = _dot(dv[0], dv[1], dv[2], mx[:, None], my[:, None], mz[:, None]) <= 0.0
    # A vertical manoeuvre is coordinated by its sense alone (the horizontal velocity it keeps
    # is the present one, or the advice held's: `LAST_ADVISED`).
    horiz |= (CAND_KIND == VERTICAL)[None, :]
    # Heights at closest approach with each vertical motion flown to its level (the two
    # climbs differenced first, so that (j, o) gets exactly minus (o, j)'s).
    climb_o = vz_fts[o_idx] * np.minimum(t_star, level_s[o_idx])
    climb_j = vz_fts[j_idx] * np.minimum(t_star, level_s[j_idx])
    dzc = pairs.dz_ft + (climb_j - climb_o)
    first = snap.id[o_idx] < snap.id[j_idx]
    tie_v = np.abs(dzc) < TIE_FT
    dzc = np.where(tie_v, np.where(first, -1.0, 1.0), dzc)
    dvs = vs[k_slot] - snap.vs_fpm[o_idx][:, None]
    vert = np.where(np.isnan(dzc)[:, None], True, dvs * dzc[:, None] <= 0.0)
    if fixed is not None:
        # Level with an aircraft that never manoeuvres: no sense to share, either is
        # coordinated (the one free is chosen, not the one the ids would give).
        vert |= (tie_v & fixed[j_idx])[:, None]
    return np.asarray(horiz & vert)


def _choose(snap: Snapshot, owners: IDX, trk: F64, gs: F64, vs: F64, allowed: BOOL,
            free: BOOL, coord: BOOL, intr: list[list[str]],
            forced: NDArray[np.int16] | None = None,
            same_sense: NDArray[np.int8] | None = None, lasting: BOOL | None = None) -> Resolution:
    """The advice of every owner: keep, else resume, else the cheapest allowed candidate
    that is free and coordinated, else free, else the least deep intrusion."""
    o_count = owners.size
    rows = np.arange(o_count)
    if forced is None:
        big = 1.0e5  # larger than any candidate's cost
        # Lexicographic preference: free; coordinated; with a margin (the next
        # MARGIN_STEPS stronger manoeuvres of its kind and sense free too, the more of
        # them the better); not reversing the sense already advised (REVERSED_WEIGHT;
        # another dimension: OTHER_DIMENSION_WEIGHT); then the smallest change.
        # (An aircraft with no free manoeuvre is given the least harmful one afterwards.)
        score = (CAND_COST[None, :] + np.where(free, 0.0, 16 * big)
                 + np.where(coord, 0.0, 2 * big))
        if lasting is not None:
            score = score + np.where(lasting, 0.0, big)
        step = np.arange(N_CAND)
        margin = free.copy()
        for depth in range(MARGIN_STEPS):
            step = CAND_STRONGER[step]
            margin &= free[:, step]
            score = score + np.where(margin, 0.0, big / 2 ** (depth + 1))
        if same_sense is not None:
            score = (score + np.where(same_sense == REVERSED, REVERSED_WEIGHT * big, 0.0)
                     + np.where(same_sense == WEAK, big / 2, 0.0)
                     + np.where(same_sense == OTHER_DIMENSION, OTHER_DIMENSION_WEIGHT * big, 0.0))
        # A vertical manoeuvre towards an aircraft in conflict is never given (two
        # aircraft must never be sent the same vertical sense); a turn may be, if no
        # coordinated one is free.
        score = np.where(allowed & (coord | (CAND_KIND != VERTICAL)[None, :]), score, np.inf)
        # Resume as soon as the original course is free; keep while the advice is free.
        resume_ok = allowed[:, COL_RESUME] & free[:, COL_RESUME]
        keep_ok = allowed[:, COL_KEEP] & free[:, COL_KEEP]
        best = np.argmin(score, axis=1).astype(np.int16)
        none_ok = ~np.isfinite(score[rows, best])
        best = np.where(none_ok, COL_NONE, best).astype(np.int16)
        choice = np.where(resume_ok, COL_RESUME, np.where(keep_ok, COL_KEEP, best)).astype(np.int16)
        # Not advised and nothing to resolve (already getting out): no advice.
        quiet = free[:, COL_NONE] & ~allowed[:, COL_KEEP]
        choice = np.where(quiet, COL_NONE, choice).astype(np.int16)
    else:
        choice = forced.astype(np.int16)
    f = free[rows, choice]
    c = coord[rows, choice]
    status = np.where(f & c, 0, np.where(f, 1, 2)).astype(np.int8)
    return Resolution(owners, choice, trk[rows, choice], gs[rows, choice], vs[rows, choice],
                      free, coord, status, intr)
