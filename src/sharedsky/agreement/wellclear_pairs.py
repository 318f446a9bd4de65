"""Well-clear alerters per pair of parties: `[minima.wellclear]` resolved to typed configs.

Why here: a pair of parties may agree on DO-365's well clear beside (or instead of) its
cylinder minima, as a DAIDALUS `.conf` file or as inline keys. This module turns either
into the `WellClearConfig` the alerting reads (`alerting.wellclear`), checks what the
shape check cannot (a readable `.conf`, a known alerter, levels least severe first, a
corrective region some level has), and keeps, per pair of parties, which config applies.
Inline defaults are DO-365B without SUM (Phase I alerter of DAIDALUS's DO_365B_no_SUM.conf).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sharedsky.agreement.daa_conf import DaaConfError, load_conf
from sharedsky.agreement.model import PairMinima, WellClear
from sharedsky.alerting.wellclear import REGIONS, Alerter, AlertLevel, WellClearConfig
from sharedsky.engine.bands import BandsConfig
from sharedsky.engine.wellclear import WcvTaumod

Loc = tuple[str | int, ...]
AddIssue = Callable[[Loc, str], None]


@dataclass(frozen=True)
class WellClearPairs:
    """Which well-clear config (and alerter) applies to each pair of parties."""

    party_ids: tuple[str, ...] = ()
    configs: tuple[WellClearConfig, ...] = ()
    alerters: tuple[int, ...] = ()  # 1-based alerter index of each config
    sources: tuple[str, ...] = ()  # the .conf path, or "inline", per config
    index: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))

    def __bool__(self) -> bool:
        return bool(self.configs)

    def describe(self) -> list[dict[str, Any]]:
        """Per pair of parties with an alerter: where it comes from and its levels (for `check`)."""
        out: list[dict[str, Any]] = []
        for a in range(len(self.party_ids)):
            for b in range(a, len(self.party_ids)):
                c = int(self.index[a, b])
                if not c:
                    continue
                cfg, al = self.configs[c - 1], self.alerters[c - 1]
                alerter = cfg.alerters[al - 1]
                out.append({
                    "a": self.party_ids[a], "b": self.party_ids[b], "source": self.sources[c - 1],
                    "alerter": alerter.name, "lookahead_s": cfg.lookahead_s,
                    "corrective_region": cfg.corrective_region,
                    "levels": [{"region": lv.region, "volume": lv.volume.kind, "alerting_time_s": lv.alerting_time_s,
                                "early_alerting_time_s": lv.early_alerting_time_s} for lv in alerter.levels],
                })
        return out

    def matrix_for(self, parties: tuple[str, ...]) -> NDArray[np.int64]:
        """Config number (1-based, 0: none) per pair of the given party ids (a snapshot's)."""
        pos = {p: k for k, p in enumerate(self.party_ids)}
        idx = np.array([pos.get(p, -1) for p in parties], dtype=np.int64)
        out = np.zeros((len(parties), len(parties)), dtype=np.int64)
        ok = idx >= 0
        if ok.any() and self.index.size:
            sub = idx[ok]
            out[np.ix_(ok, ok)] = self.index[np.ix_(sub, sub)]
        return out


def inline_config(wc: WellClear) -> WellClearConfig:
    """A `WellClearConfig` from `[minima.wellclear]`'s inline keys (already checked)."""
    levels = tuple(
        AlertLevel(lv.region, lv.alerting_time_s,
                   max(lv.alerting_time_s, lv.early_alerting_time_s or lv.alerting_time_s),
                   WcvTaumod(lv.dthr_nm, lv.zthr_ft, lv.tthr_s, lv.tcoa_s))
        for lv in wc.level)
    bands = BandsConfig(
        lookahead_s=wc.lookahead_s, turn_rate_degs=wc.turn_rate_deg_s, vertical_rate_fpm=wc.vertical_rate_fpm,
        hysteresis_time_s=wc.hysteresis_s, persistence_time_s=wc.persistence_s, bands_persistence=True,
        alerting_m=wc.alerting_m, alerting_n=wc.alerting_n,
        persistence_preferred=(15.0, 100.0, 250.0, 250.0))  # DO-365B's
    return WellClearConfig(
        alerters=(Alerter("inline", levels),), lookahead_s=wc.lookahead_s,
        hysteresis_time_s=wc.hysteresis_s, persistence_time_s=wc.persistence_s,
        alerting_m=wc.alerting_m, alerting_n=wc.alerting_n, ownship_centric=False,
        corrective_region=wc.corrective_region, bands=bands)


def _check_inline(loc: Loc, wc: WellClear, add: AddIssue) -> bool:
    ok = True
    rank = [REGIONS.index(lv.region) for lv in wc.level]
    for k, lv in enumerate(wc.level):
        if lv.early_alerting_time_s is not None and lv.early_alerting_time_s < lv.alerting_time_s:
            add(loc + ("level", k, "early_alerting_time_s"),
                f"early alerting time {lv.early_alerting_time_s:g} s is shorter than the alerting time "
                f"{lv.alerting_time_s:g} s")
            ok = False
        if k and rank[k] < rank[k - 1]:
            add(loc + ("level", k, "region"),
                f"region {lv.region} is less severe than level {k}'s {wc.level[k - 1].region}: levels go "
                "least severe first (NONE, FAR, MID, NEAR)")
            ok = False
    if not any(r >= REGIONS.index(wc.corrective_region) for r in rank):
        add(loc + ("corrective_region",),
            f"no level's region is {wc.corrective_region} or more severe: no alert would ever be corrective")
        ok = False
    if wc.alerting_m > wc.alerting_n:
        add(loc + ("alerting_m",), f"M ({wc.alerting_m}) is more than N ({wc.alerting_n})")
        ok = False
    return ok


def _from_conf(loc: Loc, wc: WellClear, base_dir: Path, add: AddIssue,
               cache: dict[tuple[str, str | None], tuple[WellClearConfig, int, str]]
               ) -> tuple[WellClearConfig, int, str] | None:
    assert wc.conf is not None
    others = sorted(wc.model_fields_set - {"conf", "alerter"})
    if others:
        add(loc + (others[0],), f"{others[0]} is given beside conf: say either conf (a DAIDALUS file) "
                                "or inline keys, not both")
        return None
    path = (base_dir / wc.conf).resolve()
    key = (str(path), wc.alerter)
    if key in cache:
        return cache[key]
    if not path.is_file():
        add(loc + ("conf",), f"no such DAIDALUS configuration: {wc.conf} (looked for {path})")
        return None
    try:
        cfg = load_conf(path)
    except DaaConfError as exc:
        add(loc + ("conf",), f"bad DAIDALUS configuration: {exc}")
        return None
    names = [a.name for a in cfg.alerters]
    alerter = 1
    if wc.alerter is not None:
        if wc.alerter not in names:
            add(loc + ("alerter",), f"no alerter {wc.alerter!r} in {wc.conf} (it has {', '.join(names)})")
            return None
        alerter = names.index(wc.alerter) + 1
    if cfg.corrective_level(alerter) == 0:
        add(loc + ("conf",), f"{wc.conf}: alerter {names[alerter - 1]!r} has no level of region "
                             f"{cfg.corrective_region} or more severe: no alert would ever be corrective")
        return None
    cfg = replace(cfg, bands=replace(cfg.bands, lookahead_s=cfg.lookahead_s))
    cache[key] = (cfg, alerter, wc.conf)
    return cache[key]


def resolve_wellclear(entries: list[PairMinima], party_index: dict[str, int], base_dir: Path,
                      add: AddIssue) -> WellClearPairs:
    """Every `[minima.wellclear]` of the agreement's pairs, checked, as one `WellClearPairs`."""
    n = len(party_index)
    index = np.zeros((n, n), dtype=np.int64)
    configs: list[WellClearConfig] = []
    alerters: list[int] = []
    sources: list[str] = []
    cache: dict[tuple[str, str | None], tuple[WellClearConfig, int, str]] = {}
    seen: dict[int, int] = {}  # id(config) -> config number
    for k, entry in enumerate(entries):
        wc = entry.wellclear
        if wc is None:
            continue
        loc: Loc = ("minima", k, "wellclear")
        got: tuple[WellClearConfig, int, str] | None
        if wc.conf is not None:
            got = _from_conf(loc, wc, base_dir, add, cache)
        elif wc.alerter is not None:
            add(loc + ("alerter",), "alerter names one of a conf file's alerters: give conf too")
            got = None
        else:
            got = (inline_config(wc), 1, "inline") if _check_inline(loc, wc, add) else None
        if got is None or not all(p in party_index for p in entry.parties):
            continue
        cfg, alerter, source = got
        number = seen.get(id(cfg))
        if number is None:
            configs.append(cfg)
            alerters.append(alerter)
            sources.append(source)
            number = seen[id(cfg)] = len(configs)
        a, b = party_index[entry.parties[0]], party_index[entry.parties[1]]
        index[a, b] = index[b, a] = number
    ids = tuple(sorted(party_index, key=party_index.__getitem__))
    return WellClearPairs(ids, tuple(configs), tuple(alerters), tuple(sources), index)
