"""Mode S / ADS-B frames to track reports, in batches, with state kept between batches.

Who does what, and why:

* numpy checks every frame first (hex, length, CRC-24 parity, downlink format) because
  rs1090 panics on malformed hex, and recovers the address of the surveillance replies
  (DF0/4/5/16/20/21: address/parity field), their altitude (AC13, 25 ft steps) and their
  squawk (ID13). These fixed bit fields are cheaper in numpy than through a decoder
  that also infers every Comm-B register.
* rs1090 (MIT) decodes the extended squitters (DF17/18: identification, airborne and
  surface position, velocity, emergency status, target state and status), only those whose
  type code we use.
* Comm-B replies (DF20/21) whose 56-bit MB field has the layout of BDS 4,0 (selected
  vertical intention: `bds40_layout`, checked in numpy) go through rs1090 too, one frame
  per distinct MB field, for the level the crew has selected. Comm-B registers do not name
  themselves: a reply rs1090 also reads as another register with a checkable layout
  (BDS 1,0, 1,7, 2,0, 3,0, 4,4, 4,5, 5,0, 6,0) is ambiguous and left out.
* CPR positions are decoded here, vectorised over the batch, from the `lat_cpr`,
  `lon_cpr` and parity rs1090 returns: global decoding from the latest even/odd pair
  of the same aircraft (10 s apart at most, airborne; 25 s surface), then local
  decoding against the aircraft's own last position (or the receiver's reference).
  We do it here rather than in rs1090 because its CPR state does not persist between
  calls, and a live feed is a sequence of calls.

Frames whose address cannot be confirmed (a surveillance reply whose recovered
address was never seen in an extended squitter or an all-call reply) are counted as
`unknown_address`, never emitted: a bit error in such a reply gives a random address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sharedsky.ingest.feeds.base import FeedStats, reports_from_columns

# --- CRC-24 (Mode S parity, polynomial 0xFFF409) -----------------------------------


def _crc_table() -> NDArray[np.uint32]:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        crc = i << 16
        for _ in range(8):
            crc = ((crc << 1) ^ 0xFFF409) if crc & 0x800000 else (crc << 1)
        table[i] = crc & 0xFFFFFF
    return table


_CRC = _crc_table()
# Integer bit fields. numpy's stubs type `uint32_array >> int` as signedinteger; at run
# time (NEP 50) it stays uint32, so helpers take and give any integer array.
Bits = NDArray[np.integer[Any]]
_HEXVAL = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEXVAL[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEXVAL[_c] = 10 + _i


def crc_residual(msg: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """CRC-24 of each row's data bytes XOR its parity field (0 for a clean DF17)."""
    n_bytes = msg.shape[1]
    crc = np.zeros(msg.shape[0], dtype=np.uint32)
    for k in range(n_bytes - 3):
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC[((crc >> 16) ^ msg[:, k]) & 0xFF]
    parity = (msg[:, -3].astype(np.uint32) << 16) | (msg[:, -2].astype(np.uint32) << 8) | msg[:, -1]
    return (crc ^ parity).astype(np.uint32, copy=False)  # a no-op: already uint32


def hex_to_bytes(frames: Sequence[str], n_chars: int) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Frames of exactly `n_chars` hex characters -> (bytes matrix, valid-hex mask)."""
    n = len(frames)
    raw = np.frombuffer("".join(frames).encode("latin-1", "replace"), dtype=np.uint8)
    nib = _HEXVAL[raw].reshape(n, n_chars)
    ok = (nib != 255).all(axis=1)
    nib = np.where(nib == 255, 0, nib)
    return (nib[:, 0::2] << 4 | nib[:, 1::2]).astype(np.uint8), ok


# --- fixed fields of surveillance replies ------------------------------------------


def _gray_to_binary(g: Bits) -> Bits:
    b = g.copy()
    for shift in (1, 2, 4, 8):
        b ^= b >> shift
    return b


def decode_ac13(ac: Bits) -> NDArray[np.float64]:
    """AC13 altitude code -> ft: 25 ft steps (Q=1) or Gillham 100 ft code (Q=0).

    Bit order of the field: C1 A1 C2 A2 C4 A4 M B1 Q(D1) B2 D2 B4 D4. Metric
    altitudes (M=1) and invalid Gillham codes give NaN.
    """
    ac = ac.astype(np.uint32)
    q = (ac >> 4) & 1
    m = (ac >> 6) & 1
    n = ((ac & 0x1F80) >> 2) | ((ac & 0x0020) >> 1) | (ac & 0x000F)
    alt25 = n.astype(np.float64) * 25.0 - 1000.0

    def bit(k: int) -> Bits:
        return (ac >> k) & 1

    c1, a1, c2, a2, c4, a4, b1, d1, b2, d2, b4, d4 = (bit(k) for k in (12, 11, 10, 9, 8, 7, 5, 4, 3, 2, 1, 0))
    g500 = (d1 << 8) | (d2 << 7) | (d4 << 6) | (a1 << 5) | (a2 << 4) | (a4 << 3) | (b1 << 2) | (b2 << 1) | b4
    n500 = _gray_to_binary(g500)
    n100 = _gray_to_binary((c1 << 2) | (c2 << 1) | c4)
    n100 = np.where(n100 == 7, 5, n100)
    valid_g = (n100 >= 1) & (n100 <= 5)
    n100 = np.where(n500 % 2 == 1, 6 - n100, n100)
    alt_g = n500.astype(np.float64) * 500.0 + n100.astype(np.float64) * 100.0 - 1300.0
    alt = np.where(q == 1, alt25, np.where(valid_g, alt_g, np.nan))
    return np.where((ac != 0) & (m == 0), alt, np.nan)


def decode_id13(idc: Bits) -> NDArray[np.str_]:
    """ID13 identity code -> 4-digit squawk strings."""

    def bit(k: int) -> Bits:
        return (idc >> k) & 1

    a = bit(7) * 4 + bit(9) * 2 + bit(11)
    b = bit(1) * 4 + bit(3) * 2 + bit(5)
    c = bit(8) * 4 + bit(10) * 2 + bit(12)
    d = bit(0) * 4 + bit(2) * 2 + bit(4)
    code = a * 1000 + b * 100 + c * 10 + d
    if code.size == 0:  # np.char.zfill raises on an empty array (numpy 2)
        return np.empty(0, dtype="<U4")
    return np.char.zfill(code.astype(str), 4)


# --- CPR ------------------------------------------------------------------------------

_CPR_SCALE = float(1 << 17)


def cpr_nl(lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """Number of longitude zones at each latitude (the NL function of DO-260B)."""
    a = 1.0 - np.cos(np.pi / 30.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.cos(np.radians(np.abs(lat))) ** 2
        x = 1.0 - a / b
        nl = np.floor(2.0 * np.pi / np.arccos(np.clip(x, -1.0, 1.0)))
    nl = np.where(np.abs(lat) >= 87.0, 1.0, nl)
    nl = np.where(np.abs(lat) == 87.0, 2.0, nl)
    nl = np.where(lat == 0.0, 59.0, nl)
    return np.where(np.isfinite(nl), nl, 1.0)


def cpr_global(
    lat_e: NDArray[np.float64], lon_e: NDArray[np.float64],
    lat_o: NDArray[np.float64], lon_o: NDArray[np.float64],
    latest_odd: NDArray[np.bool_], surface: NDArray[np.bool_],
    ref_lat: NDArray[np.float64], ref_lon: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Global CPR decoding of even/odd pairs (fractions of a zone); NaN where it fails.

    Surface positions have four solutions 90 deg apart in longitude and two in latitude;
    the one nearest the reference (which may be hundreds of NM away) is chosen.
    """
    span = np.where(surface, 90.0, 360.0)
    dlat_e, dlat_o = span / 60.0, span / 59.0
    j = np.floor(59.0 * lat_e - 60.0 * lat_o + 0.5)
    la_e = dlat_e * (np.mod(j, 60.0) + lat_e)
    la_o = dlat_o * (np.mod(j, 59.0) + lat_o)
    air = ~surface
    la_e = np.where(air & (la_e >= 270.0), la_e - 360.0, la_e)
    la_o = np.where(air & (la_o >= 270.0), la_o - 360.0, la_o)
    # Surface: the northern solution is in [0, 90); take the southern one if nearer.
    south = surface & np.isfinite(ref_lat) & (np.abs(ref_lat - (la_e - 90.0)) < np.abs(ref_lat - la_e))
    la_e = np.where(south, la_e - 90.0, la_e)
    la_o = np.where(south, la_o - 90.0, la_o)
    nl_e, nl_o = cpr_nl(la_e), cpr_nl(la_o)
    ok = nl_e == nl_o
    lat = np.where(latest_odd, la_o, la_e)
    nl = nl_e
    ni = np.maximum(nl - latest_odd, 1.0)
    m = np.floor(lon_e * (nl - 1.0) - lon_o * nl + 0.5)
    lon = (span / ni) * (np.mod(m, ni) + np.where(latest_odd, lon_o, lon_e))
    lon = np.where(air & (lon >= 180.0), lon - 360.0, lon)
    # Surface: pick lon + k*90 nearest the reference.
    k = np.arange(4.0)[None, :]
    cand = np.mod(lon[:, None] + 90.0 * k + 180.0, 360.0) - 180.0
    diff = np.abs(np.mod(cand - np.nan_to_num(ref_lon)[:, None] + 180.0, 360.0) - 180.0)
    best = cand[np.arange(cand.shape[0]), np.argmin(diff, axis=1)] if cand.shape[0] else lon
    lon = np.where(surface, best, lon)
    bad = ~ok | (surface & ~np.isfinite(ref_lat))
    return np.where(bad, np.nan, lat), np.where(bad, np.nan, lon)


def cpr_local(
    lat_c: NDArray[np.float64], lon_c: NDArray[np.float64], odd: NDArray[np.bool_],
    surface: NDArray[np.bool_], ref_lat: NDArray[np.float64], ref_lon: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Local CPR decoding against a reference less than half a zone away."""
    span = np.where(surface, 90.0, 360.0)
    dlat = span / (60.0 - odd)
    j = np.floor(ref_lat / dlat) + np.floor(0.5 + np.mod(ref_lat, dlat) / dlat - lat_c)
    lat = dlat * (j + lat_c)
    ni = np.maximum(cpr_nl(lat) - odd, 1.0)
    dlon = span / ni
    m = np.floor(ref_lon / dlon) + np.floor(0.5 + np.mod(ref_lon, dlon) / dlon - lon_c)
    lon = dlon * (m + lon_c)
    lon = np.mod(lon + 180.0, 360.0) - 180.0
    return lat, lon


def _hex_ids(addr: NDArray[np.uint32]) -> NDArray[Any]:
    """6-digit lowercase hex strings of addresses (formatted once per distinct address)."""
    if addr.size == 0:
        return np.empty(0, dtype=object)
    uniq, inv = np.unique(addr, return_inverse=True)
    return np.array([f"{a:06x}" for a in uniq.tolist()], dtype=object)[inv]


def _ffill_index(valid: NDArray[np.bool_], group_start: NDArray[np.intp]) -> NDArray[np.intp]:
    """For each row, the index of the last earlier valid row of its group (or -1).

    Rows are sorted by group; `group_start[i]` is the first row of row i's group.
    """
    n = valid.shape[0]
    idx = np.where(valid, np.arange(n), -1)
    acc = np.maximum.accumulate(idx) if n else idx
    prev = np.empty(n, dtype=np.intp)
    if n:
        prev[0] = -1
        prev[1:] = acc[:-1]
    return np.where(prev >= group_start, prev, -1)


# --- the decoder ---------------------------------------------------------------------

#: DF17/18 type codes worth decoding: identification, positions, velocity, emergency, target
#: state and status (the level selected)
_USED_TC = np.zeros(32, dtype=bool)
_USED_TC[[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 28, 29]] = True

_EMERGENCY_NONE = {"none", "", None}

#: BDS 4,0 fields (ICAO Doc 9871, table A-2-64; MB bits numbered 1-56 from the first sent):
#: (status bit, first and last bit of the field it validates). A field whose status is 0
#: must be all zeros.
_BDS40_STATUS = ((1, 2, 13), (14, 15, 26), (27, 28, 39), (48, 49, 51), (54, 55, 56))
#: ... and its reserved bits, always zero.
_BDS40_RESERVED = ((40, 47), (52, 53))
#: Registers rs1090 may also read a BDS 4,0 layout as. BDS 2,1 (registration, six-bit
#: characters) reads almost any MB field: every BDS 4,0 reply of the full-flight
#: recording also decodes as 2,1, to text such as "#LXR". The others have layouts of
#: their own; a reply that fits one of them too is ambiguous.
_BDS40_ALSO = {"bds40", "bds21"}


def _mb_field(mb: NDArray[np.uint64], first: int, last: int) -> NDArray[np.uint64]:
    """Bits `first`..`last` (1-based, first sent first) of 56-bit MB fields."""
    return (mb >> np.uint64(56 - last)) & np.uint64((1 << (last - first + 1)) - 1)


def bds40_layout(msg: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Which Comm-B replies (rows of 14 bytes) could carry BDS 4,0 with a selected level:
    every field whose status bit is 0 is zero, the reserved bits are zero, and the MCP/FCU
    or the FMS selected altitude is given."""
    mb = np.zeros(msg.shape[0], dtype=np.uint64)
    for k in range(4, 11):
        mb = (mb << np.uint64(8)) | msg[:, k].astype(np.uint64)
    ok = mb != 0
    for status, first, last in _BDS40_STATUS:
        ok &= (_mb_field(mb, status, status) == 1) | (_mb_field(mb, first, last) == 0)
    for first, last in _BDS40_RESERVED:
        ok &= _mb_field(mb, first, last) == 0
    return ok & ((_mb_field(mb, 1, 1) == 1) | (_mb_field(mb, 14, 14) == 1))


class FrameDecoder:
    """Decodes batches of hex frames into report tables, remembering what it needs.

    State kept between batches: confirmed addresses, each aircraft's last even and odd
    CPR message (for global decoding across batch boundaries) and last position (for
    local decoding). `reference` is the receiver's (lat, lon) if known.
    """

    def __init__(self, reference: tuple[float, float] | None = None, source: str = "") -> None:
        self.reference = reference
        self.source = source
        self.stats = FeedStats()
        #: confirmed addresses (ints): heard in a clean all-call reply or extended squitter
        self.known: set[int] = set()
        # last CPR message per (icao24, surface, odd): (t_s, lat_c, lon_c)
        self._cpr: dict[tuple[str, bool, bool], tuple[float, float, float]] = {}
        # last decoded position per icao24: (t_s, lat, lon)
        self._pos: dict[str, tuple[float, float, float]] = {}
        self.max_pair_s = 10.0
        self.max_pair_surface_s = 25.0
        self.max_local_age_s = 60.0

    # -- public ----------------------------------------------------------------------
    def decode(self, frames: Sequence[str], t_s: Sequence[float] | NDArray[np.float64]) -> pd.DataFrame:
        """Decode frames (hex strings) received at `t_s` (epoch seconds) into reports."""
        frames = list(frames)
        t = np.asarray(t_s, dtype=np.float64)
        if t.shape[0] != len(frames):
            raise ValueError("frames and timestamps differ in length")
        self.stats.items += len(frames)
        cols = self._decode_columns(frames, t)
        out = reports_from_columns(cols, self.source)
        self.stats.reports += out.shape[0]
        return out

    # -- internals -------------------------------------------------------------------
    def _decode_columns(self, frames: list[str], t: NDArray[np.float64]) -> dict[str, Any]:
        lens = np.fromiter((len(f) for f in frames), dtype=np.int64, count=len(frames))
        parts: list[dict[str, Any]] = []
        bad_len = ~np.isin(lens, (14, 28))
        self.stats.reject("bad_length", int(bad_len.sum()),
                          frames[int(np.argmax(bad_len))] if bad_len.any() else None)
        bad_time = ~np.isfinite(t)
        self.stats.reject("bad_timestamp", int((bad_time & ~bad_len).sum()))
        groups = []
        for n_chars in (14, 28):
            sel = np.flatnonzero((lens == n_chars) & ~bad_time)
            if sel.size == 0:
                continue
            msg, ok = hex_to_bytes([frames[i] for i in sel], n_chars)
            self.stats.reject("bad_hex", int((~ok).sum()), frames[int(sel[~ok][0])] if (~ok).any() else None)
            sel, msg = sel[ok], msg[ok]
            if n_chars == 28:
                # Short formats (DF0-15) are 56 bits; some recorders pad them to 112.
                short = (msg[:, 0] >> 3) < 16
                if short.any():
                    groups.append((sel[short], np.ascontiguousarray(msg[short, :7])))
                sel, msg = sel[~short], msg[~short]
            else:
                long_df = (msg[:, 0] >> 3) >= 16
                self.stats.reject("bad_length", int(long_df.sum()))
                sel, msg = sel[~long_df], msg[~long_df]
            groups.append((sel, msg))
        # First pass: which addresses are confirmed (clean DF11/17/18)?
        pending = []
        for sel, msg in groups:
            df = msg[:, 0] >> 3
            res = crc_residual(msg)
            icao_int = (msg[:, 1].astype(np.uint32) << 16) | (msg[:, 2].astype(np.uint32) << 8) | msg[:, 3]
            clean_es = np.isin(df, (17, 18)) & (res == 0)
            clean_11 = (df == 11) & ((res & 0xFFFF80) == 0)
            confirmed = clean_es | clean_11
            if confirmed.any():
                self.known.update(np.unique(icao_int[confirmed]).tolist())
            pending.append((sel, msg, df, res, icao_int, clean_es))
        for sel, msg, df, res, icao_int, clean_es in pending:
            es = np.isin(df, (17, 18))
            self.stats.reject("crc", int((es & ~clean_es).sum()))
            self.stats.reject("crc", int(((df == 11) & ((res & 0xFFFF80) != 0)).sum()))
            surv = np.isin(df, (0, 4, 5, 16, 20, 21))
            unsupported = ~(es | surv | (df == 11))
            self.stats.reject("unsupported_df", int(unsupported.sum()))
            allcall = (df == 11) & ((res & 0xFFFF80) == 0)
            if allcall.any():
                # An all-call reply: the aircraft is there; it starts or refreshes a track.
                s11 = sel[allcall]
                parts.append({"timestamp": t[s11], "icao24": _hex_ids(icao_int[allcall]),
                              "onground": (msg[allcall, 0] & 0x7) == 4})
            if surv.any():
                parts.append(self._surveillance(sel[surv], msg[surv], df[surv], res[surv], t, frames))
            if clean_es.any():
                tc = msg[clean_es, 4] >> 3
                used = _USED_TC[tc]
                self.stats.reject("ignored_type_code", int((~used).sum()))
                s = sel[clean_es][used]
                if s.size:
                    parts.append(self._squitters(s, [frames[i] for i in s], icao_int[clean_es][used], t))
        if not parts:
            return {"timestamp": np.empty(0)}
        keys = set().union(*(p.keys() for p in parts))
        cols: dict[str, Any] = {}
        for k in keys:
            arrs = []
            for p in parts:
                n = len(p["timestamp"])
                if k in p:
                    arrs.append(np.asarray(p[k]))
                elif k in ("callsign", "squawk", "emergency", "icao24"):
                    arrs.append(np.full(n, "", dtype=object))
                elif k == "onground":
                    arrs.append(np.zeros(n, dtype=bool))
                else:
                    arrs.append(np.full(n, np.nan))
            cols[k] = np.concatenate([a.astype(object) if a.dtype.kind in "OUS" else a for a in arrs])
        return cols

    def _surveillance(self, sel: NDArray[np.intp], msg: NDArray[np.uint8], df: Bits,
                      res: NDArray[np.uint32], t: NDArray[np.float64], frames: list[str]) -> dict[str, Any]:
        """Altitude (DF0/4/16/20) and squawk (DF5/21) replies whose address is confirmed,
        with the selected level of the Comm-B replies (DF20/21) that carry BDS 4,0."""
        known = np.isin(res, np.fromiter(self.known, dtype=np.uint32, count=len(self.known)))
        addr = _hex_ids(res)
        self.stats.reject("unknown_address", int((~known).sum()))
        sel, msg, df, addr = sel[known], msg[known], df[known], addr[known]
        field13 = ((msg[:, 2].astype(np.uint32) & 0x1F) << 8) | msg[:, 3]
        is_id = np.isin(df, (5, 21))
        alt = np.where(is_id, np.nan, decode_ac13(field13))
        squawk = np.where(is_id, decode_id13(field13), "").astype(object)
        # Vertical status (DF0/16: VS bit; DF4/5/20/21: flight status 1 or 3 = on ground).
        fs = msg[:, 0] & 0x7
        vs = (msg[:, 0] >> 2) & 1
        onground = np.where(np.isin(df, (0, 16)), vs == 1, np.isin(fs, (1, 3)))
        sel_alt = np.full(sel.shape[0], np.nan)
        comm_b = np.flatnonzero(np.isin(df, (20, 21)))
        if comm_b.size:
            sel_alt[comm_b] = self._selected_level(msg[comm_b], [frames[i] for i in sel[comm_b]])
        keep = ~np.isnan(alt) | is_id | ~np.isnan(sel_alt)
        self.stats.reject("no_content", int((~keep).sum()))
        return {
            "timestamp": t[sel][keep], "icao24": addr[keep].astype(object),
            "altitude": alt[keep], "squawk": squawk[keep], "onground": onground[keep],
            "selected_altitude": sel_alt[keep],
        }

    def _selected_level(self, msg: NDArray[np.uint8], frames: list[str]) -> NDArray[np.float64]:
        """The selected level (ft; NaN: none) of Comm-B replies: BDS 4,0's MCP/FCU selected
        altitude, else its FMS one, read by rs1090 once per distinct MB field (the same
        selection is replied again and again) from those with its layout that fit no other
        register."""
        out = np.full(msg.shape[0], np.nan)
        cand = np.flatnonzero(bds40_layout(msg))
        if cand.size == 0:
            return out
        mb = np.ascontiguousarray(msg[cand, 4:11]).view(np.dtype((np.void, 7))).ravel()
        uniq, first, inv = np.unique(mb, return_index=True, return_inverse=True)
        decoded = self._rs1090([frames[int(cand[i])] for i in first])
        level = np.full(uniq.shape[0], np.nan)
        for u, d in enumerate(decoded):
            reg = d.get("bds40") if d is not None and not (set(k for k in d if k.startswith("bds")) - _BDS40_ALSO) else None
            if reg is not None:
                v = reg.get("selected_mcp")
                v = reg.get("selected_fms") if v is None else v
                level[u] = np.nan if v is None else float(v)
        out[cand] = level[inv.ravel()]
        return out

    def _rs1090(self, frames: list[str]) -> list[Any]:
        """rs1090's messages for `frames` (None where it failed: counted)."""
        import rs1090

        try:
            # rs1090 types a message as a union of TypedDicts; fields are read by BDS code.
            return cast(list[Any], rs1090.decode(frames, batch=max(len(frames), 1)))
        except BaseException as exc:  # rs1090 panics are BaseException; never crash a reader
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            return self._one_by_one(frames)

    def _squitters(self, sel: NDArray[np.intp], frames: list[str], icao_int: NDArray[np.uint32],
                   t: NDArray[np.float64]) -> dict[str, Any]:
        """Extended squitters through rs1090, then CPR positions in numpy."""
        out = self._rs1090(frames)
        ok = np.array([d is not None for d in out], dtype=bool)
        if not ok.all():
            self.stats.reject("undecodable", int((~ok).sum()))
            out = [d for d in out if d is not None]
            sel, icao_int = sel[ok], icao_int[ok]
        n = len(out)
        ts = t[sel]
        icao = _hex_ids(icao_int)
        bds = np.array([d.get("bds", "") for d in out], dtype=object)
        # Read each field only from the messages that carry it (Python work per field).
        pos_i = np.flatnonzero((bds == "05") | (bds == "06")).tolist()
        vel_i = np.flatnonzero((bds == "09") | (bds == "06")).tolist()

        def num(key: str, rows: list[int]) -> NDArray[np.float64]:
            a = np.full(n, np.nan)
            if rows:
                a[rows] = np.array([np.nan if (v := out[i].get(key)) is None else v for i in rows], dtype=np.float64)
            return a

        alt = num("altitude", pos_i)
        gs, trk = num("groundspeed", vel_i), num("track", vel_i)
        vr = num("vertical_rate", np.flatnonzero(bds == "09").tolist())
        # Target state and status (TC 29): the level selected on the MCP/FCU or the FMS.
        sel_alt = num("selected_altitude", np.flatnonzero(bds == "62").tolist())
        lat_c, lon_c = num("lat_cpr", pos_i) / _CPR_SCALE, num("lon_cpr", pos_i) / _CPR_SCALE
        odd = np.zeros(n, dtype=bool)
        if pos_i:
            odd[pos_i] = [out[i].get("parity") == "odd" for i in pos_i]
        callsign = np.full(n, "", dtype=object)
        for i in np.flatnonzero(bds == "08").tolist():
            callsign[i] = (out[i].get("callsign") or "").strip("_ #")
        emerg = np.full(n, "", dtype=object)
        squawk = np.full(n, "", dtype=object)
        for i in np.flatnonzero(bds == "61").tolist():
            state = out[i].get("emergency_state")
            emerg[i] = "" if state in _EMERGENCY_NONE else str(state)
            squawk[i] = out[i].get("squawk") or ""
        # GNSS-height positions (TC 20-22) are not barometric: leave altitude out.
        tc = np.array([d.get("tc", 0) or 0 for d in out], dtype=np.int64)
        alt = np.where(tc >= 20, np.nan, alt)
        surface = bds == "06"
        is_pos = np.isin(bds, ("05", "06")) & np.isfinite(lat_c) & np.isfinite(lon_c)
        lat, lon = self._cpr_decode(icao, ts, lat_c, lon_c, odd, surface, is_pos)
        no_pos = is_pos & ~np.isfinite(lat)
        self.stats.reject("cpr_undecided", int(no_pos.sum()))
        useful = (
            np.isfinite(lat) | np.isfinite(alt) | np.isfinite(gs) | np.isfinite(trk) | np.isfinite(vr)
            | np.isfinite(sel_alt)
            | (callsign != "") | (emerg != "") | (squawk != "")
        )
        self.stats.reject("no_content", int((~useful).sum()))
        k = useful
        return {
            "timestamp": ts[k], "icao24": icao[k], "callsign": callsign[k], "latitude": lat[k],
            "longitude": lon[k], "altitude": alt[k], "groundspeed": gs[k], "track": trk[k],
            "vertical_rate": vr[k], "selected_altitude": sel_alt[k], "squawk": squawk[k],
            "emergency": emerg[k], "onground": surface[k],
        }

    def _one_by_one(self, frames: list[str]) -> list[Any]:
        """Decode frames one at a time after a batch failed; failures counted, not raised."""
        import rs1090

        out: list[Any] = []
        for f in frames:
            try:
                out.append(rs1090.decode(f))
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                self.stats.reject("decoder_error", 1, f"{f}: {exc}")
                out.append(None)
        return out

    def _cpr_decode(self, icao: NDArray[Any], ts: NDArray[np.float64], lat_c: NDArray[np.float64],
                    lon_c: NDArray[np.float64], odd: NDArray[np.bool_], surface: NDArray[np.bool_],
                    is_pos: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Positions for the CPR messages of a batch (NaN elsewhere), updating the state."""
        n = ts.shape[0]
        lat_out = np.full(n, np.nan)
        lon_out = np.full(n, np.nan)
        rows = np.flatnonzero(is_pos)
        if rows.size == 0:
            return lat_out, lon_out
        # Context rows from the state: last even/odd CPR message of each aircraft seen here.
        ids = pd.unique(icao[rows])
        ctx = [(a, s, o, *v) for a in ids for s in (False, True) for o in (False, True)
               if (v := self._cpr.get((a, s, o))) is not None]
        c_id = np.array([c[0] for c in ctx] + list(icao[rows]), dtype=object)
        c_sf = np.array([c[1] for c in ctx] + list(surface[rows]), dtype=bool)
        c_odd = np.array([c[2] for c in ctx] + list(odd[rows]), dtype=bool)
        c_t = np.concatenate([np.array([c[3] for c in ctx], dtype=np.float64), ts[rows]])
        c_la = np.concatenate([np.array([c[4] for c in ctx], dtype=np.float64), lat_c[rows]])
        c_lo = np.concatenate([np.array([c[5] for c in ctx], dtype=np.float64), lon_c[rows]])
        n_ctx = len(ctx)
        m = c_t.shape[0]
        codes, uniq = pd.factorize(c_id)
        order = np.lexsort((c_t, c_sf, codes))
        key = codes[order] * 2 + c_sf[order]
        start = np.zeros(m, dtype=np.intp)
        brk = np.r_[True, key[1:] != key[:-1]]
        start = np.maximum.accumulate(np.where(brk, np.arange(m), 0))
        o_t, o_odd, o_la, o_lo, o_sf = c_t[order], c_odd[order], c_la[order], c_lo[order], c_sf[order]
        prev_even = _ffill_index(~o_odd, start)
        prev_odd = _ffill_index(o_odd, start)
        partner = np.where(o_odd, prev_even, prev_odd)
        has = partner >= 0
        pi = np.where(has, partner, 0)
        max_dt = np.where(o_sf, self.max_pair_surface_s, self.max_pair_s)
        has &= (o_t - o_t[pi]) <= max_dt
        lat_e = np.where(o_odd, o_la[pi], o_la)
        lon_e = np.where(o_odd, o_lo[pi], o_lo)
        lat_o = np.where(o_odd, o_la, o_la[pi])
        lon_o = np.where(o_odd, o_lo, o_lo[pi])
        # Coarse reference for surface solutions: receiver, else any position known.
        coarse = self._coarse_reference()
        ref_lat = np.full(m, coarse[0])
        ref_lon = np.full(m, coarse[1])
        # Prefer the aircraft's own last position as the reference when known.
        own = np.array([self._pos.get(a, (np.nan, np.nan, np.nan)) for a in uniq], dtype=np.float64).reshape(-1, 3)
        own_lat, own_lon = own[codes[order], 1], own[codes[order], 2]
        air_first = ~o_sf & has
        g_lat = np.full(m, np.nan)
        g_lon = np.full(m, np.nan)
        if air_first.any():
            a = np.flatnonzero(air_first)
            g_lat[a], g_lon[a] = cpr_global(lat_e[a], lon_e[a], lat_o[a], lon_o[a], o_odd[a],
                                            np.zeros(a.size, bool), ref_lat[a], ref_lon[a])
            if not np.isfinite(coarse[0]) and np.isfinite(g_lat[a]).any():
                ref_lat[:] = np.nanmedian(g_lat[a])
                ref_lon[:] = np.nanmedian(g_lon[a])
        s = np.flatnonzero(o_sf & has)
        if s.size:
            rl = np.where(np.isfinite(own_lat[s]), own_lat[s], ref_lat[s])
            rn = np.where(np.isfinite(own_lon[s]), own_lon[s], ref_lon[s])
            g_lat[s], g_lon[s] = cpr_global(lat_e[s], lon_e[s], lat_o[s], lon_o[s], o_odd[s],
                                            np.ones(s.size, bool), rl, rn)
        # Local decoding against the aircraft's last decoded position (either class).
        need = ~np.isfinite(g_lat)
        if need.any():
            ac_start = np.maximum.accumulate(np.where(np.r_[True, codes[order][1:] != codes[order][:-1]], np.arange(m), 0))
            # positions of an aircraft are grouped by class; order by time within the aircraft
            by_t = np.lexsort((o_t, codes[order]))
            inv = np.empty(m, dtype=np.intp)
            inv[by_t] = np.arange(m)
            t2 = o_t[by_t]
            st2 = ac_start  # aircraft blocks have the same boundaries in both orders
            got = np.isfinite(g_lat[by_t])
            prev = _ffill_index(got, st2)
            pj = np.where(prev >= 0, prev, 0)
            r_lat = np.where(prev >= 0, g_lat[by_t][pj], own_lat[by_t])
            r_lon = np.where(prev >= 0, g_lon[by_t][pj], own_lon[by_t])
            r_t = np.where(prev >= 0, t2[pj], own[codes[order][by_t], 0])
            fresh = (t2 - r_t) <= self.max_local_age_s
            r_lat = np.where(fresh, r_lat, np.nan)
            r_lon = np.where(fresh, r_lon, np.nan)
            if self.reference is not None:
                r_lat = np.where(np.isfinite(r_lat), r_lat, self.reference[0])
                r_lon = np.where(np.isfinite(r_lon), r_lon, self.reference[1])
            r_lat, r_lon = r_lat[inv], r_lon[inv]
            loc = np.flatnonzero(need & np.isfinite(r_lat))
            if loc.size:
                la, lo = cpr_local(o_la[loc], o_lo[loc], o_odd[loc], o_sf[loc], r_lat[loc], r_lon[loc])
                g_lat[loc], g_lon[loc] = la, lo
        # Back to batch rows (drop the context rows).
        res_lat = np.empty(m)
        res_lon = np.empty(m)
        res_lat[order], res_lon[order] = g_lat, g_lon
        lat_out[rows] = res_lat[n_ctx:]
        lon_out[rows] = res_lon[n_ctx:]
        self._remember(c_id[n_ctx:], c_sf[n_ctx:], c_odd[n_ctx:], c_t[n_ctx:], c_la[n_ctx:], c_lo[n_ctx:],
                       res_lat[n_ctx:], res_lon[n_ctx:])
        return lat_out, lon_out

    def _coarse_reference(self) -> tuple[float, float]:
        if self.reference is not None:
            return float(self.reference[0]), float(self.reference[1])
        if self._pos:
            arr = np.array(list(self._pos.values()), dtype=np.float64)
            return float(np.nanmedian(arr[:, 1])), float(np.nanmedian(arr[:, 2]))
        return float("nan"), float("nan")

    def _remember(self, ids: NDArray[Any], sf: NDArray[np.bool_], odd: NDArray[np.bool_], t: NDArray[np.float64],
                  la: NDArray[np.float64], lo: NDArray[np.float64], lat: NDArray[np.float64],
                  lon: NDArray[np.float64]) -> None:
        """Keep, per aircraft, the last CPR message of each kind and the last position."""
        key = pd.Series(np.arange(ids.shape[0]))
        frame = pd.DataFrame({"id": ids, "sf": sf, "odd": odd, "t": t})
        last = key.groupby([frame["id"], frame["sf"], frame["odd"]]).max()
        for (a, s, o), i in last.items():
            self._cpr[(a, bool(s), bool(o))] = (float(t[i]), float(la[i]), float(lo[i]))
        ok = np.isfinite(lat)
        if ok.any():
            pos_last = key[ok].groupby(frame["id"][ok]).max()
            for a, i in pos_last.items():
                self._pos[a] = (float(t[i]), float(lat[i]), float(lon[i]))
