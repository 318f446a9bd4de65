"""Separation: predict every loss of separation between pairs of aircraft.

Pure functions over one snapshot; no I/O, no clock.

Model. Each aircraft flies straight from its state (track, ground speed, vertical
rate). A pair is in conflict if, somewhere in [0, T], its horizontal distance is < H
and its vertical distance is < V at the same time. Both comparisons are strict and
the vertical one is decided exactly: two level aircraft exactly 1,000 ft apart are
separated (a zero relative vertical rate is handled by comparison, never by dividing).
Geometry: see `sharedsky.engine.geo` (ECEF on WGS84, tangent plane at the pair mid-point).

Cost. A broad phase hashes each aircraft's swept volume over [0, T] (an axis-aligned
box in ECEF, padded by half the horizontal minimum, and an altitude band padded by half
the vertical minimum) into a uniform 4-D grid; only pairs sharing a cell, with
overlapping boxes, reach the narrow phase, which solves both intervals in closed form,
vectorised over pairs. Nothing is quadratic in N and nothing loops per aircraft in
Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sharedsky.engine.geo import MEAN_RADIUS_NM, ecef_nm, up_vectors, velocity_ecef_nm_s
from sharedsky.engine.intervals import open_interval_horizontal, open_interval_vertical
from sharedsky.engine.parallel import map_ordered
from sharedsky.ingest.snapshot import Snapshot

F64 = NDArray[np.float64]
IDX = NDArray[np.intp]

DEFAULT_H_NM = 5.0
DEFAULT_V_FT = 1000.0
DEFAULT_T_S = 300.0


@dataclass(frozen=True)
class Minima:
    """One alert level: minima and look-ahead per pair of parties (symmetric matrices).

    A pair whose `h_nm`, `v_ft` is 0 (or `t_s` negative) is not checked at this level.
    `alt_unknown_h[pa, pb]`: when an aircraft's altitude is unknown, the pair is checked
    horizontally only (True, the default and the safe choice) or left out (False).
    """

    name: str
    h_nm: F64
    v_ft: F64
    t_s: F64
    alt_unknown_h: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        if self.alt_unknown_h is None:
            object.__setattr__(self, "alt_unknown_h", np.ones(self.h_nm.shape, dtype=bool))
        for label, m in (("h_nm", self.h_nm), ("v_ft", self.v_ft), ("t_s", self.t_s),
                         ("alt_unknown_h", np.asarray(self.alt_unknown_h))):
            if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape != self.h_nm.shape:
                raise ValueError(f"Minima {self.name!r}: {label} must be a square matrix")
            if not np.array_equal(m, m.T):
                raise ValueError(f"Minima {self.name!r}: {label} must be symmetric")

    @classmethod
    def uniform(
        cls,
        n_parties: int = 1,
        h_nm: float = DEFAULT_H_NM,
        v_ft: float = DEFAULT_V_FT,
        t_s: float = DEFAULT_T_S,
        *,
        same_party: bool = False,
        name: str = "conflict",
    ) -> Minima:
        """The same minima for every pair of parties; same-party pairs only if asked."""
        mask = np.ones((n_parties, n_parties))
        if not same_party:
            np.fill_diagonal(mask, 0.0)
        return cls(name, mask * h_nm, mask * v_ft, np.where(mask > 0, t_s, -1.0))

    def with_same_party(self) -> Minima:
        """These minima with same-party pairs checked too (where they were not), using
        the largest minima and look-ahead of this level."""
        diag = np.eye(self.n_parties, dtype=bool) & ~self.checked
        chk = self.checked
        h = np.where(diag, self.h_nm[chk].max(initial=0.0), self.h_nm)
        v = np.where(diag, self.v_ft[chk].max(initial=0.0), self.v_ft)
        t = np.where(diag, self.t_s[chk].max(initial=-1.0), self.t_s)
        return Minima(self.name, h, v, t, self.alt_unknown_h)

    @property
    def checked(self) -> NDArray[np.bool_]:
        return (self.h_nm > 0) & (self.v_ft > 0) & (self.t_s >= 0)

    @property
    def n_parties(self) -> int:
        return int(self.h_nm.shape[0])


@dataclass(frozen=True)
class Conflicts:
    """Predicted conflicts as columns, one row per pair, sorted by (id_a, id_b).

    `a`, `b` index the snapshot (with id[a] < id[b]); `level` indexes the levels given
    to `detect` and is the most severe (last) level whose minima the pair violates;
    the interval and closest approach are those of that level.
    """

    a: IDX
    b: IDX
    level: NDArray[np.int8]
    t_in_s: F64
    t_out_s: F64
    t_cpa_s: F64
    d_cpa_nm: F64
    dz_cpa_ft: F64
    d_now_nm: F64  # horizontal distance at t = 0
    dz_now_ft: F64  # vertical distance at t = 0 (NaN: an altitude is unknown)

    @property
    def altitude_unknown(self) -> NDArray[np.bool_]:
        """Pairs checked horizontally only, as an altitude is unknown."""
        return np.isnan(self.dz_now_ft)

    def __len__(self) -> int:
        return int(self.a.shape[0])

    @classmethod
    def empty(cls) -> Conflicts:
        z = np.zeros(0)
        i = np.zeros(0, dtype=np.intp)
        return cls(i, i, np.zeros(0, dtype=np.int8), z, z, z, z, z, z, z)

    def lost_now(self, levels: Sequence[Minima], snap: Snapshot, level: int = -1) -> NDArray[np.bool_]:
        """Pairs whose separation is lost now at `level` (default: the most severe)."""
        m = levels[level]
        pa, pb = snap.party[self.a], snap.party[self.b]
        return (
            m.checked[pa, pb]
            & (self.d_now_nm < m.h_nm[pa, pb])
            & ((self.dz_now_ft < m.v_ft[pa, pb]) | self.altitude_unknown)
        )

    def record(
        self, k: int, snap: Snapshot, levels: Sequence[Minima] | None = None
    ) -> dict[str, Any]:
        """Conflict `k` as a JSON-ready dict: ids, interval, closest approach, parties
        and level name."""
        a, b = int(self.a[k]), int(self.b[k])
        rec: dict[str, Any] = {
            "a": str(snap.id[a]),
            "b": str(snap.id[b]),
            "t_in_s": round(float(self.t_in_s[k]), 3),
            "t_out_s": round(float(self.t_out_s[k]), 3),
            "t_cpa_s": round(float(self.t_cpa_s[k]), 3),
            "d_cpa_nm": round(float(self.d_cpa_nm[k]), 4),
            "dz_cpa_ft": round(float(self.dz_cpa_ft[k]), 2),
        }
        if np.isnan(self.dz_now_ft[k]):
            rec["dz_cpa_ft"] = None
            rec["altitude_unknown"] = True
        if len(snap.parties) > 1:
            rec["party_a"] = snap.parties[int(snap.party[a])]
            rec["party_b"] = snap.parties[int(snap.party[b])]
        if levels is not None and len(levels) > 1:
            rec["level"] = levels[int(self.level[k])].name
        return rec

    def records(
        self, snap: Snapshot, levels: Sequence[Minima] | None = None
    ) -> list[dict[str, Any]]:
        """Every conflict as a JSON-ready dict (see `record`)."""
        return [self.record(k, snap, levels) for k in range(len(self))]


@dataclass(frozen=True)
class PairGeometry:
    """Relative state of pairs (i, j): horizontal vectors in the mid-point tangent plane."""

    i: IDX
    j: IDX
    rh: F64  # (3, K) relative position j - i, NM
    wh: F64  # (3, K) relative velocity, NM/s
    dz_ft: F64  # alt_j - alt_i
    dvz_fts: F64  # relative vertical rate, ft/s


@dataclass(frozen=True)
class Kinematics:
    """Per-aircraft ECEF position, velocity and normal, computed once per snapshot."""

    pos: F64  # (3, N) NM
    vel: F64  # (3, N) NM/s
    up: F64  # (3, N)
    alt_ft: F64
    vz_fts: F64

    @classmethod
    def of(cls, snap: Snapshot, index: IDX | None = None) -> Kinematics:
        """Kinematics of every aircraft of `snap`, or only of those at `index`."""
        sel = slice(None) if index is None else index
        lat, lon = snap.lat_deg[sel], snap.lon_deg[sel]
        pos = np.array(ecef_nm(lat, lon))
        vel = np.array(velocity_ecef_nm_s(lat, lon, snap.track_deg[sel], snap.gs_kt[sel]))
        up = np.array(up_vectors(lat, lon))
        return cls(pos, vel, up, snap.alt_ft[sel], snap.vs_fpm[sel] / 60.0)

    def pairs(self, i: IDX, j: IDX) -> PairGeometry:
        r = self.pos[:, j] - self.pos[:, i]
        w = self.vel[:, j] - self.vel[:, i]
        u = self.up[:, i] + self.up[:, j]
        u /= np.sqrt(np.einsum("ik,ik->k", u, u))
        rh = r - np.einsum("ik,ik->k", r, u) * u
        wh = w - np.einsum("ik,ik->k", w, u) * u
        return PairGeometry(
            i, j, rh, wh, self.alt_ft[j] - self.alt_ft[i], self.vz_fts[j] - self.vz_fts[i]
        )


@dataclass(frozen=True)
class PairConflict:
    """Narrow-phase result for K pairs at one level (all arrays of length K)."""

    hit: NDArray[np.bool_]
    t_in_s: F64
    t_out_s: F64
    t_cpa_s: F64
    d_cpa_nm: F64
    dz_cpa_ft: F64


def pair_conflicts(g: PairGeometry, h_nm: F64, v_ft: F64, t_s: F64,
                   alt_unknown_h: NDArray[np.bool_] | None = None) -> PairConflict:
    """Exact conflict test and geometry for pairs with their own minima (arrays of K).

    A pair with an unknown altitude (NaN) is checked horizontally only where
    `alt_unknown_h` says so (default: everywhere), and never hits elsewhere; its
    vertical distance at closest approach is NaN.
    """
    a = np.einsum("ik,ik->k", g.wh, g.wh)
    b = np.einsum("ik,ik->k", g.rh, g.wh)
    c = np.einsum("ik,ik->k", g.rh, g.rh) - h_nm * h_nm
    h_lo, h_hi = open_interval_horizontal(a, b, c)
    unknown = np.isnan(g.dz_ft)
    if unknown.any():
        v_lo, v_hi = open_interval_vertical(np.where(unknown, 0.0, g.dz_ft),
                                             np.where(unknown, 0.0, g.dvz_fts), v_ft)
        v_lo = np.where(unknown, -np.inf, v_lo)
        v_hi = np.where(unknown, np.inf, v_hi)
    else:
        v_lo, v_hi = open_interval_vertical(g.dz_ft, g.dvz_fts, v_ft)
    t_in = np.maximum(np.maximum(h_lo, v_lo), 0.0)
    t_out = np.minimum(np.minimum(h_hi, v_hi), t_s)
    # Open intervals intersected with the closed [0, T]: non-empty if it has length,
    # or if the single instant t_in lies strictly inside both open intervals.
    point = (t_in == t_out) & (h_lo < t_in) & (t_in < h_hi) & (v_lo < t_in) & (t_in < v_hi)
    hit = (t_in < t_out) | point
    hit &= t_s >= 0
    if unknown.any():
        hit &= ~unknown | (True if alt_unknown_h is None else alt_unknown_h)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = np.where(a > 0.0, -b / a, 0.0)
    t_cpa = np.clip(t_star, t_in, np.maximum(t_in, t_out))
    t_cpa = np.where(np.isfinite(t_cpa), t_cpa, 0.0)
    dx = g.rh + g.wh * t_cpa
    d_cpa = np.sqrt(np.einsum("ik,ik->k", dx, dx))
    dz_cpa = np.abs(g.dz_ft + g.dvz_fts * t_cpa)
    return PairConflict(hit, t_in, t_out, t_cpa, d_cpa, dz_cpa)


#: Candidate pairs expanded at once in the grid broad phase (bounds its memory).
PAIR_CHUNK = 1 << 16


def _cell_pairs(lo, hi, ilo, base, mult, key_s, own_s, pos, first, partners) -> tuple[IDX, IDX]:
    """Pairs formed by registrations `pos` with the later members of their cell from
    `first` on, kept when their boxes overlap and this cell is their home cell (`ilo`:
    the cell of each box's lower corner, per axis)."""
    npairs = int(partners.sum())
    p_idx = np.repeat(pos, partners)
    run_start = np.repeat(np.cumsum(partners) - partners, partners)
    q_idx = np.repeat(first, partners) + (np.arange(npairs, dtype=np.int64) - run_start)
    del run_start
    i = own_s[p_idx]
    j = own_s[q_idx]
    del q_idx
    # Overlap test one axis at a time, most selective (last: altitude) first, shrinking
    # the candidate list as we go; then keep each pair only in its home cell.
    for d in range(lo.shape[0] - 1, -1, -1):
        lo_d, hi_d = lo[d], hi[d]  # one row, then a gather: cheaper than lo[d, i]
        ok = np.maximum(lo_d[i], lo_d[j]) <= np.minimum(hi_d[i], hi_d[j])
        i, j, p_idx = i[ok], j[ok], p_idx[ok]
    # The home cell holds the lower corner of the intersection, max(lo_i, lo_j): floor
    # is monotone, so its cell is the larger of the two boxes' lower-corner cells.
    home = np.zeros(i.shape[0], dtype=np.int64)
    for d in range(lo.shape[0]):
        ilo_d = ilo[d]
        home += (np.maximum(ilo_d[i], ilo_d[j]) - base[d]) * mult[d]
    keep = home == key_s[p_idx]
    return i[keep], j[keep]


def grid_pairs(lo: F64, hi: F64, cell: F64, group: NDArray[np.integer[Any]] | None = None,
               within: NDArray[np.bool_] | None = None) -> tuple[IDX, IDX]:
    """All pairs (i < j) whose axis-aligned boxes [lo, hi] (shape (D, N)) overlap.

    Uniform-grid broad phase: each box is registered in every cell it touches; pairs
    are formed within cells and kept only in the cell holding the lower corner of their
    intersection, so each overlapping pair appears exactly once. Cost is linear in the
    number of registrations plus the number of pairs sharing a cell.

    With `group` (an integer per box, e.g. its party) and `within` (per group: are pairs
    inside it wanted), two boxes of a group whose `within` is false are never paired, nor
    even formed: a cell is ordered by group and each box is paired only with the later
    groups' boxes. So the cost of a crowd of one party's aircraft, whose pairs are not
    checked, does not grow as its square (issue 14, defect 3: one party's 10,000 aircraft
    packed together took the engine step to 4 s).
    """
    n = lo.shape[1]
    if n < 2:
        e = np.zeros(0, dtype=np.intp)
        return e, e
    ilo = np.floor(lo / cell[:, None]).astype(np.int64)
    ihi = np.floor(hi / cell[:, None]).astype(np.int64)
    span = ihi - ilo + 1
    base = ilo.min(axis=1)
    extent = ihi.max(axis=1) - base + 1
    mult = np.ones_like(extent)
    for d in range(1, extent.shape[0]):
        mult[d] = mult[d - 1] * extent[d - 1]
    if float(np.prod(extent.astype(np.float64))) >= 2.0**62:
        raise OverflowError("grid too fine for int64 cell keys")

    # Visit boxes in the order of their lower-corner cell: the registrations then come
    # out nearly sorted by cell (cheap to sort) and neighbours sit close in memory.
    corner = ((ilo - base[:, None]) * mult[:, None]).sum(axis=0)
    # With groups, boxes are visited group by group (each group in cell order): the stable
    # sort by cell below then leaves every cell's registrations ordered by group.
    perm = (np.argsort(corner, kind="stable") if group is None
            else np.lexsort((corner, np.asarray(group))))
    del corner
    lo, hi, ilo, span = lo[:, perm], hi[:, perm], ilo[:, perm], span[:, perm]
    count = np.prod(span, axis=0)
    total = int(count.sum())
    # Registrations: one per (box, cell touched); the cell key is built axis by axis so
    # no (D, total) array is ever held. Memory here is what bounds the whole pass.
    owner = np.repeat(np.arange(n, dtype=np.int32), count)
    k = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    key = np.zeros(total, dtype=np.int64)
    for d in range(lo.shape[0]):
        sd = span[d, owner]
        key += (ilo[d, owner] - base[d] + k % sd) * mult[d]
        k //= sd
    del k, sd
    order = np.argsort(key, kind="stable")  # nearly sorted already: a few merges
    key_s = key[order]
    del key
    own_s = owner[order]
    del order, owner

    new = np.empty(total, dtype=bool)
    new[0] = True
    np.not_equal(key_s[1:], key_s[:-1], out=new[1:])
    gstart = np.flatnonzero(new)
    gend = np.append(gstart[1:], total)
    pos = np.arange(total, dtype=np.int64)
    end = np.repeat(gend, gend - gstart)
    first = pos + 1
    if group is not None and within is not None:
        # Registrations of a group not paired within itself start past their group's run
        # in the cell: the first later registration of another group (or the cell's end).
        grp = np.asarray(group)[perm][own_s]
        run = new.copy()
        np.logical_or(run[1:], grp[1:] != grp[:-1], out=run[1:])
        rstart = np.flatnonzero(run)
        rend = np.append(rstart[1:], total)
        run_end = np.repeat(rend, rend - rstart)
        first = np.where(np.asarray(within, dtype=bool)[grp], first, run_end)
        del grp, run, rstart, rend, run_end
    partners = end - first
    del new, gstart, gend, end
    # Expand the within-cell pairs a slice of registrations at a time, so that memory
    # stays bounded by PAIR_CHUNK candidates per thread however crowded a cell is.
    bounds = np.searchsorted(np.cumsum(partners), np.arange(PAIR_CHUNK, int(partners.sum()), PAIR_CHUNK))
    # The slices are independent: on every core (`map_ordered`), in order.
    slices = [(a, b) for a, b in zip(np.r_[0, bounds], np.r_[bounds, total], strict=True) if b > a]

    def expand(ab: tuple[int, int]) -> tuple[IDX, IDX]:
        a, b = ab
        return _cell_pairs(lo, hi, ilo, base, mult, key_s, own_s, pos[a:b], first[a:b], partners[a:b])

    found = map_ordered(expand, slices)
    keep_i = [i for i, _ in found]
    keep_j = [j for _, j in found]
    i = perm[np.concatenate(keep_i)] if keep_i else np.zeros(0, dtype=np.int64)
    j = perm[np.concatenate(keep_j)] if keep_j else np.zeros(0, dtype=np.int64)
    swap = i > j
    return np.where(swap, j, i), np.where(swap, i, j)


#: Below this many aircraft, every pair is tested against the boxes directly: the grid's
#: fixed cost is larger than the O(N^2) of so few pairs.
SMALL_N = 96


def _box_pairs_all(lo: F64, hi: F64) -> tuple[IDX, IDX]:
    """All pairs (i < j) of a small set whose boxes overlap, without a grid."""
    i, j = np.triu_indices(lo.shape[1], k=1)
    ok = np.all((np.maximum(lo[:, i], lo[:, j]) <= np.minimum(hi[:, i], hi[:, j])), axis=0)
    return i[ok], j[ok]


def _envelope(levels: Sequence[Minima]) -> tuple[F64, F64, F64, NDArray[np.bool_]]:
    """Largest minima and look-ahead over all levels, per pair of parties."""
    h = np.zeros_like(levels[0].h_nm)
    v = np.zeros_like(h)
    t = np.full_like(h, -1.0)
    chk = np.zeros(h.shape, dtype=bool)
    for lv in levels:
        c = lv.checked
        h = np.where(c, np.maximum(h, lv.h_nm), h)
        v = np.where(c, np.maximum(v, lv.v_ft), v)
        t = np.where(c, np.maximum(t, lv.t_s), t)
        chk |= c
    return h, v, t, chk


def candidate_pairs(snap: Snapshot, kin: Kinematics, levels: Sequence[Minima]) -> tuple[IDX, IDX]:
    """Broad phase: pairs of checked parties whose swept volumes can meet within T."""
    h_env, v_env, t_env, chk = _envelope(levels)
    party = snap.party
    # Per-aircraft reach: the largest minima and look-ahead of any pair its party is in.
    h_row = np.where(chk, h_env, 0.0).max(axis=1)[party]
    v_row = np.where(chk, v_env, 0.0).max(axis=1)[party]
    t_row = np.where(chk, t_env, 0.0).max(axis=1)[party]
    active = np.asarray(chk.any(axis=1))[party]  # .any(axis=) is typed bool_ | ndarray
    idx = np.flatnonzero(active)
    if idx.size < 2:
        e = np.zeros(0, dtype=np.intp)
        return e, e
    pos = kin.pos[:, idx]
    end = pos + kin.vel[:, idx] * t_row[idx]
    reach = snap.gs_kt[idx] * t_row[idx] / 3600.0
    # Padding: half the horizontal minimum, plus a margin covering the drift of the
    # straight ECEF paths off the tangent plane (reach^2 / R plus reach * H / R).
    pad = h_row[idx] / 2.0 + reach * (reach + h_row[idx]) / MEAN_RADIUS_NM + 0.01
    alt0 = kin.alt_ft[idx]
    alt1 = alt0 + kin.vz_fts[idx] * t_row[idx]
    lo = np.vstack([np.minimum(pos, end) - pad, np.minimum(alt0, alt1) - v_row[idx] / 2.0])
    hi = np.vstack([np.maximum(pos, end) + pad, np.maximum(alt0, alt1) + v_row[idx] / 2.0])
    unknown = np.isnan(alt0)
    if unknown.any():
        # Altitude unknown: the box spans every altitude any other box reaches (a
        # horizontal-only check; the rule per pair is applied in the narrow phase).
        known = ~unknown
        lo[3, unknown] = lo[3, known].min(initial=0.0)
        hi[3, unknown] = hi[3, known].max(initial=0.0)
    if idx.size <= SMALL_N:
        i, j = _box_pairs_all(lo, hi)
    else:
        # Cells about the size of a typical box: few registrations per box, few false pairs.
        typical = ~unknown if (~unknown).any() else np.ones_like(unknown)
        cell = np.maximum((hi[:, typical] - lo[:, typical]).mean(axis=1), [1.0, 1.0, 1.0, 500.0])
        cell[:3] = cell[:3].max()
        i, j = grid_pairs(lo, hi, cell, party[idx], np.diagonal(chk))
    i, j = idx[i], idx[j]
    keep = chk[party[i], party[j]]
    return i[keep], j[keep]


def detect(snap: Snapshot, levels: Minima | Sequence[Minima]) -> Conflicts:
    """Every conflict in the snapshot, at the most severe level each pair reaches.

    `levels` are ordered from least to most severe (e.g. advisory, then warning).
    """
    lv: list[Minima] = [levels] if isinstance(levels, Minima) else list(levels)
    if not lv:
        raise ValueError("detect needs at least one level of minima")
    n_parties = len(snap.parties)
    for m in lv:
        if m.n_parties < n_parties or (len(snap) and int(snap.party.max()) >= m.n_parties):
            raise ValueError(f"minima {m.name!r} cover {m.n_parties} parties, snapshot has more")
    if len(snap) < 2:
        return Conflicts.empty()
    kin = Kinematics.of(snap)
    i, j = candidate_pairs(snap, kin, lv)
    if i.size == 0:
        return Conflicts.empty()
    g = kin.pairs(i, j)
    pa, pb = snap.party[i], snap.party[j]
    level = np.full(i.shape[0], -1, dtype=np.int8)
    cols: list[F64] | None = None
    for n, m in enumerate(lv):
        assert m.alt_unknown_h is not None
        r = pair_conflicts(g, m.h_nm[pa, pb], m.v_ft[pa, pb], m.t_s[pa, pb], m.alt_unknown_h[pa, pb])
        hit = r.hit & m.checked[pa, pb]
        if cols is None:
            cols = [r.t_in_s.copy(), r.t_out_s.copy(), r.t_cpa_s.copy(), r.d_cpa_nm.copy(),
                    r.dz_cpa_ft.copy()]
        else:
            for col, new in zip(
                cols, (r.t_in_s, r.t_out_s, r.t_cpa_s, r.d_cpa_nm, r.dz_cpa_ft), strict=True
            ):
                col[hit] = new[hit]
        level[hit] = n
    assert cols is not None
    found = level >= 0
    a, b = i[found], j[found]
    ids = snap.id
    swap = ids[a] > ids[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    order = np.lexsort((ids[b], ids[a]))
    sel = np.flatnonzero(found)[order]
    d_now = np.sqrt(np.einsum("ik,ik->k", g.rh[:, sel], g.rh[:, sel]))
    return Conflicts(
        a[order], b[order], level[sel], cols[0][sel], cols[1][sel], cols[2][sel],
        cols[3][sel], cols[4][sel], d_now, np.abs(g.dz_ft[sel]),
    )


#: Vertical "minimum" for horizontal-only proximity: larger than any altitude gap.
_ANY_ALTITUDE_FT = 1.0e7


def near_group(snap: Snapshot, group: NDArray[np.bool_], within_nm: float, within_s: float,
               v_ft: float | None = None) -> NDArray[np.bool_]:
    """Aircraft outside `group` within `within_nm` (horizontally; and less than `v_ft`
    vertically if given, else at any altitude) of one of the group's, now or on straight
    flight within `within_s`: the same broad and narrow phases as separation, with two
    parties ("other", "group")."""
    mask = np.zeros(len(snap), dtype=bool)
    if not group.any() or group.all():
        return mask
    two = replace(snap, party=group.astype(np.int32), parties=("other", "group"))
    off = np.array([[0.0, 1.0], [1.0, 0.0]])
    lv = Minima("near", off * within_nm, off * (_ANY_ALTITUDE_FT if v_ft is None else v_ft),
                np.where(off > 0, within_s, -1.0))
    c = detect(two, lv)
    mask[c.a] = True
    mask[c.b] = True
    return mask & ~group
