"""The dossier's figures (matplotlib, Agg): map, vertical profiles, separation against time.

Party colours are the agreement's, as on the map; times are UTC; units are in every axis label.
Predicted paths are each aircraft's reported state flown straight (great circle approximated by
a local flat projection, under 0.1 % error over the few tens of NM drawn) for the look-ahead the
warning states.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sharedsky.record.log import Entry
from sharedsky.reports.dossier_facts import Track, event_of, separation, tracks_of
from sharedsky.sim.plots import _borders, _colours, _plt

DPI = 110


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _party_of(entries: Sequence[Entry], tracks: dict[str, Track]) -> dict[str, str]:
    """Each aircraft's party, from the events that name it (or the party that reported it)."""
    out: dict[str, str] = {}
    for e in entries:
        ev = event_of(e)
        for k, p in (("a", "party_a"), ("b", "party_b"), ("icao24", "party")):
            if ev.get(k) in tracks and ev.get(p):
                out[str(ev[k])] = str(ev[p])
    for e in entries:
        if e.kind == "reports" and e.party:
            for i, tr in tracks.items():
                if e.seq in set(tr.seq.tolist()):
                    out.setdefault(i, e.party)
    return out


def _dates(t: np.ndarray) -> list[datetime]:
    return [datetime.fromtimestamp(float(x), UTC) for x in t]


def _time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))
    ax.set_xlabel("time (UTC)")


def _ahead(tr: Track, t: float, s: float) -> tuple[np.ndarray, np.ndarray]:
    """The straight path flown from the last report at or before `t` for `s` seconds."""
    k = max(0, int(np.searchsorted(tr.t, t, side="right")) - 1)
    lat, lon, gs, trk = tr.lat[k], tr.lon[k], tr.gs_kt[k], tr.trk_deg[k]
    if not np.isfinite(gs) or not np.isfinite(trk):
        return np.array([lon]), np.array([lat])
    dt = np.linspace(0.0, (t - tr.t[k]) + s, 20)
    d_nm = gs * dt / 3600.0
    la = lat + d_nm * np.cos(np.radians(trk)) / 60.0
    lo = lon + d_nm * np.sin(np.radians(trk)) / 60.0 / np.cos(np.radians(lat))
    return lo, la


def figures_png(entries: Sequence[Entry], ids: Sequence[str], parties: Sequence[str], agreement: Any) -> dict[str, str]:
    """Base64 PNGs of the map, the vertical profiles and (for a pair) the separation."""
    plt = _plt()
    tracks = tracks_of(entries, set(ids))
    party = _party_of(entries, tracks)
    colours = _colours(tuple(agreement.party_ids), agreement)
    warnings = [e for e in entries if (e.kind == "airspace" and event_of(e).get("state") in ("advisory", "warning"))
                or (e.kind == "conflict" and event_of(e).get("state") in ("new", "updated"))]
    out: dict[str, str] = {}

    # -- map
    fig, ax = plt.subplots(figsize=(9.5, 6.5))
    lons = np.concatenate([tr.lon for tr in tracks.values()]) if tracks else np.array([36.0])
    lats = np.concatenate([tr.lat for tr in tracks.values()]) if tracks else np.array([36.0])
    pad = max(0.05, 0.15 * max(np.nanmax(lons) - np.nanmin(lons), np.nanmax(lats) - np.nanmin(lats)))
    region = (np.nanmin(lons) - pad, np.nanmin(lats) - pad, np.nanmax(lons) + pad, np.nanmax(lats) + pad)
    # At least half as tall as wide (and the reverse), so a straight track is not a sliver.
    w, h = region[2] - region[0], region[3] - region[1]
    if h < 0.5 * w:
        mid = (region[1] + region[3]) / 2
        region = (region[0], mid - w / 4, region[2], mid + w / 4)
    elif w < 0.5 * h:
        mid = (region[0] + region[2]) / 2
        region = (mid - h / 4, region[1], mid + h / 4, region[3])
    from matplotlib.collections import LineCollection

    near = [r for r in _borders() if r[:, 0].max() >= region[0] - 1 and r[:, 0].min() <= region[2] + 1
            and r[:, 1].max() >= region[1] - 1 and r[:, 1].min() <= region[3] + 1]
    ax.add_collection(LineCollection(near, colors="#777777", linewidths=0.8, zorder=1))
    for a in agreement.airspaces:
        for g in getattr(a.geometry, "geoms", [a.geometry]):
            x, y = g.exterior.xy
            ax.fill(x, y, color=colours.get(a.owner, "#ff7f0e"), alpha=0.10, zorder=0)
            ax.plot(x, y, color=colours.get(a.owner, "#ff7f0e"), lw=1.2, zorder=1)
        c = a.geometry.representative_point()
        if region[0] <= c.x <= region[2] and region[1] <= c.y <= region[3]:
            ax.annotate(a.name or a.id, (c.x, c.y), fontsize=8, color="#555555")
    span = max(1.0, max((tr.t[-1] - tr.t[0]) for tr in tracks.values()) if tracks else 1.0)
    every = max(5.0, float(np.ceil(span / 8 / 5) * 5))
    for n, (i, tr) in enumerate(tracks.items()):
        col = colours.get(party.get(i, ""), "#333333")
        dy = (6, -12)[n % 2]  # one aircraft's times above its track, the other's below
        ax.plot(tr.lon, tr.lat, "-", color=col, lw=1.6, zorder=3, label=f"{tr.callsign or i} ({i}, {party.get(i, '?')})")
        ax.plot(tr.lon, tr.lat, ".", color=col, ms=3, zorder=3)
        last = -1e18
        for j in range(len(tr.t)):
            if tr.t[j] - last >= every:
                last = tr.t[j]
                ax.annotate(datetime.fromtimestamp(float(tr.t[j]), UTC).strftime("%H:%M:%SZ"),
                            (tr.lon[j], tr.lat[j]), fontsize=7, xytext=(4, dy), textcoords="offset points", color=col,
                            rotation=30 if n % 2 == 0 else -30)
    for w in warnings:
        ev = event_of(w)
        ahead = float(ev.get("t_cpa_s") or ev.get("time_to_entry_s") or 60.0)
        for i in ids:
            if i in tracks and i in (ev.get("a"), ev.get("b"), ev.get("icao24")):
                lo, la = _ahead(tracks[i], w.t, ahead)
                ax.plot(lo, la, "--", color=colours.get(party.get(i, ""), "#333333"), lw=0.9, alpha=0.8, zorder=2)
    ax.set_xlim(region[0], region[2])
    ax.set_ylim(region[1], region[3])
    ax.set_aspect(1.0 / np.cos(np.radians((region[1] + region[3]) / 2.0)))
    ax.set_xlabel("longitude (deg E)")
    ax.set_ylabel("latitude (deg N)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out["map"] = _png(fig)

    # -- vertical profiles
    fig, ax = plt.subplots(figsize=(9.5, 3.2))
    for i, tr in tracks.items():
        ax.plot(_dates(tr.t), tr.alt_ft, "-", color=colours.get(party.get(i, ""), "#333333"),
                label=f"{tr.callsign or i} ({i})")
    for w in warnings:
        ax.axvline(_dates(np.array([w.t]))[0], color="#d62728", lw=0.7, ls=":")
    ax.set_ylabel("altitude (ft)")
    _time_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    out["profile"] = _png(fig)

    # -- separation against time (a pair)
    if len(ids) == 2 and all(i in tracks for i in ids):
        s = separation(tracks[ids[0]], tracks[ids[1]])
        fig, (ah, av) = plt.subplots(2, 1, figsize=(9.5, 4.6), sharex=True)
        d = _dates(s["t"])
        ah.plot(d, s["h_nm"], color="#222222", label="horizontal")
        av.plot(d, s["v_ft"], color="#222222", label="vertical")
        pi = [agreement.party_index(p) for p in parties if p in agreement.party_ids]
        styles = ("--", "-.", ":")
        for n, lv in enumerate(agreement.minima_levels()):
            if len(pi) >= 2:
                ah.axhline(lv.h_nm[pi[0], pi[1]], color="#ff7f0e", ls=styles[n % 3], lw=1,
                           label=f"{lv.name} minimum {lv.h_nm[pi[0], pi[1]]:g} NM")
                av.axhline(lv.v_ft[pi[0], pi[1]], color="#ff7f0e", ls=styles[n % 3], lw=1,
                           label=f"{lv.name} minimum {lv.v_ft[pi[0], pi[1]]:g} ft")
        for e in entries:
            if e.kind in ("conflict", "loss_of_separation", "airspace", "request", "ack"):
                x = _dates(np.array([e.t]))[0]
                for a in (ah, av):
                    a.axvline(x, color="#d62728" if e.kind != "ack" else "#2ca02c", lw=0.7, ls=":")
                ah.annotate(f"{e.seq}", (x, 1.0), xycoords=("data", "axes fraction"), fontsize=6,
                            rotation=90, va="top", color="#d62728")
        ah.set_ylabel("horizontal (NM)")
        av.set_ylabel("vertical (ft)")
        ah.set_title("dotted: record entries (seq) of alerts, messages and acknowledgements", fontsize=8)
        for a in (ah, av):
            a.grid(alpha=0.3)
            a.legend(loc="upper right", fontsize=7)
            a.set_ylim(bottom=0)
        _time_axis(av)
        fig.tight_layout()
        out["separation"] = _png(fig)
    return out
