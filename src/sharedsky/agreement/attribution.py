"""Attribution: which party an aircraft belongs to, for a whole snapshot at once.

Rules, by precedence (the first that matches decides):

1. an explicit ICAO address (`icao`),
2. an ICAO address block (`icao_ranges`),
3. a callsign prefix (`callsign_prefixes`, case-insensitive),
4. a callsign pattern (`callsign_patterns`, a regex matched against the whole
   upper-case callsign),
5. the feed or party that reported it (`sources`),
6. otherwise the agreement's default party.

Loading refuses two parties claiming one aircraft at the same precedence (overlapping
lists, blocks or prefixes, a shared source). Two regular expressions cannot be compared
in general: an aircraft whose callsign matches patterns of two parties (and no rule of
higher precedence) goes to the default party, and `ambiguous_patterns` finds them.

Cost: every step is a numpy operation over all aircraft; the Python loops run over
rules (prefixes, patterns), never over aircraft. ICAO hex is parsed by a lookup table
over the UTF-32 code units, and blocks are found by `searchsorted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

I32 = NDArray[np.int32]

_HEX_LUT = np.full(128, -1, dtype=np.int64)
for _c in "0123456789":
    _HEX_LUT[ord(_c)] = int(_c)
for _k, _c in enumerate("abcdef"):
    _HEX_LUT[ord(_c)] = 10 + _k
    _HEX_LUT[ord(_c.upper())] = 10 + _k
_WEIGHTS = 16 ** np.arange(5, -1, -1, dtype=np.int64)


def parse_icao(icao24: Sequence[str] | np.ndarray) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Vectorised hex parse of 6-digit ICAO addresses: (values, valid).

    Anything that is not exactly six hex digits (track ids such as '~1a2b3c', empty
    strings, None) is invalid and gets value -1.
    """
    a = _as_str(icao24)
    n = a.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    codes = np.ascontiguousarray(a.astype("U7")).view(np.uint32).reshape(n, 7)
    digits = _HEX_LUT[np.minimum(codes[:, :6], 127)]
    valid = (digits >= 0).all(axis=1) & (codes[:, 6] == 0)
    values = np.where(valid, digits @ _WEIGHTS, -1)
    return values, valid


def _as_str(a: Sequence[str] | np.ndarray | None) -> NDArray[np.str_]:
    """A numpy unicode array; None and NaN become empty strings."""
    arr = np.asarray(a if a is not None else [])
    if arr.dtype.kind == "U":
        return arr
    if arr.dtype.kind == "S":
        return arr.astype("U")
    s = pd.Series(arr, dtype=object).fillna("").astype(str)
    return s.to_numpy(dtype=str) if len(s) else np.zeros(0, dtype="U1")


def normalise_callsign(callsign: Sequence[str] | np.ndarray) -> NDArray[np.str_]:
    """Upper-case callsigns without surrounding blanks, as numpy strings.

    Upper-casing works on the UTF-32 code units (ASCII a-z only: callsigns are ASCII),
    some 200 times faster than `np.strings.upper`; stripping runs only if a blank exists.
    """
    c = _as_str(callsign)
    if c.size == 0:
        return c
    units = np.ascontiguousarray(c).view(np.uint32)
    if ((units == 32) | (units == 9)).any():
        c = np.strings.strip(c)
        units = np.ascontiguousarray(c).view(np.uint32)
    lower = (units >= 97) & (units <= 122)
    if lower.any():
        c = (units - 32 * lower.astype(np.uint32)).view(c.dtype)
    return c


@dataclass
class Attributor:
    """Compiled attribution rules; call it with columns of one snapshot."""

    default: int
    icao_values: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    icao_party: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    range_lo: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    range_hi: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    range_party: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    prefixes: list[tuple[str, int]] = field(default_factory=list)
    patterns: list[tuple[str, int]] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        default: int,
        icao: Sequence[tuple[str, int]] = (),
        ranges: Sequence[tuple[str, str, int]] = (),
        prefixes: Sequence[tuple[str, int]] = (),
        patterns: Sequence[tuple[str, int]] = (),
        sources: Sequence[tuple[str, int]] = (),
    ) -> Attributor:
        """Compile rules given as (value, party index); ranges as (first, last, party).

        Overlaps between parties must have been refused already (see `load`); here,
        overlapping blocks of one party are merged.
        """
        iv = np.array([int(h, 16) for h, _ in icao], dtype=np.int64)
        ip = np.array([p for _, p in icao], dtype=np.int32)
        order = np.argsort(iv, kind="stable")
        iv, ip = iv[order], ip[order]
        keep = np.ones(iv.shape[0], dtype=bool)
        keep[1:] = iv[1:] != iv[:-1]
        merged: list[list[int]] = []
        for lo, hi, p in sorted((int(a, 16), int(b, 16), p) for a, b, p in ranges):
            if merged and merged[-1][2] == p and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi, p])
        m = np.array(merged, dtype=np.int64).reshape(-1, 3)
        return cls(
            default=default,
            icao_values=iv[keep],
            icao_party=ip[keep],
            range_lo=m[:, 0].copy(),
            range_hi=m[:, 1].copy(),
            range_party=m[:, 2].astype(np.int32),
            prefixes=[(s.strip().upper(), p) for s, p in prefixes],
            patterns=[(s, p) for s, p in patterns],
            sources={s: p for s, p in sources},
        )

    def __call__(
        self,
        icao24: Sequence[str] | np.ndarray,
        callsign: Sequence[str] | np.ndarray | None = None,
        source: Sequence[str] | np.ndarray | None = None,
    ) -> I32:
        """Party index of every aircraft (vectorised over the arrays)."""
        values, valid = parse_icao(icao24)
        n = values.shape[0]
        out = np.full(n, -1, dtype=np.int32)
        if n == 0:
            return out
        # 1. explicit addresses
        if self.icao_values.size:
            k = np.searchsorted(self.icao_values, values)
            kc = np.minimum(k, self.icao_values.size - 1)
            hit = valid & (self.icao_values[kc] == values)
            out[hit] = self.icao_party[kc[hit]]
        # 2. address blocks (disjoint between parties, sorted by first address)
        if self.range_lo.size:
            k = np.searchsorted(self.range_lo, values, side="right") - 1
            kc = np.maximum(k, 0)
            hit = (out < 0) & valid & (k >= 0) & (values <= self.range_hi[kc])
            out[hit] = self.range_party[kc[hit]]
        need_cs = (self.prefixes or self.patterns) and callsign is not None
        if need_cs and (out < 0).any():
            cs = normalise_callsign(callsign)  # type: ignore[arg-type]
            if cs.shape[0] != n:
                raise ValueError(f"callsign has {cs.shape[0]} rows, icao24 has {n}")
            # 3. prefixes (never overlapping between parties)
            for prefix, p in self.prefixes:
                hit = (out < 0) & np.strings.startswith(cs, prefix)
                out[hit] = p
            # 4. patterns: a callsign matching two parties' patterns goes to the default
            if self.patterns:
                open_rows = np.flatnonzero(out < 0)
                sub = pd.Series(cs[open_rows])
                first = np.full(open_rows.size, -1, dtype=np.int32)
                for pattern, p in self.patterns:
                    m = sub.str.fullmatch(pattern).to_numpy(dtype=bool)
                    clash = m & (first >= 0) & (first != p)
                    first[m & (first < 0)] = p
                    first[clash] = -2
                first[first == -2] = self.default
                out[open_rows] = first
        # 5. reporting feed or party
        if self.sources and source is not None and (out < 0).any():
            src = _as_str(source)
            if src.shape[0] != n:
                raise ValueError(f"source has {src.shape[0]} rows, icao24 has {n}")
            for name, p in self.sources.items():
                hit = (out < 0) & (src == name)
                out[hit] = p
        out[out < 0] = self.default
        return out

    def ambiguous_patterns(self, callsign: Sequence[str] | np.ndarray) -> NDArray[np.bool_]:
        """Callsigns matched by the patterns of two different parties."""
        cs = pd.Series(normalise_callsign(callsign))
        first = np.full(len(cs), -1, dtype=np.int32)
        amb = np.zeros(len(cs), dtype=bool)
        for pattern, p in self.patterns:
            m = cs.str.fullmatch(pattern).to_numpy(dtype=bool)
            amb |= m & (first >= 0) & (first != p)
            first[m & (first < 0)] = p
        return amb
