"""Plots of a simulated day (matplotlib, Agg backend, imported only when plotting):
a map of tracks and events over country borders and airspaces, a histogram of the
notice each loss of separation had, and separation over time for the worst encounters.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.engine.geo import M_PER_NM

_FALLBACK = ("#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#7f7f7f", "#9467bd", "#8c564b")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _borders() -> list[np.ndarray]:
    """Rings (lon, lat) of the simplified world borders bundled with the package."""
    try:
        raw = resources.files("sharedsky.data").joinpath("world-countries-simplified.geojson.gz")
        data = json.loads(gzip.decompress(raw.read_bytes()))
    except (FileNotFoundError, OSError, ValueError):
        return []
    rings = []
    for f in data.get("features", []):
        g = f.get("geometry") or {}
        polys = [g["coordinates"]] if g.get("type") == "Polygon" else g.get("coordinates", [])
        for poly in polys:
            for ring in poly:
                rings.append(np.asarray(ring, dtype=float))
    return rings


def _colours(parties: tuple[str, ...], agreement: Any | None) -> dict[str, str]:
    out = {p: _FALLBACK[n % len(_FALLBACK)] for n, p in enumerate(parties)}
    for p in getattr(agreement, "parties", []) or []:
        if getattr(p, "colour", None):
            out[p.id] = p.colour
    return out


def plot_map(traffic: pd.DataFrame, metrics: dict[str, Any], path: Path, *,
             parties: tuple[str, ...], agreement: Any | None = None,
             region: tuple[float, float, float, float] | None = None,
             bases: dict[str, Any] | None = None) -> Path:
    """Tracks coloured by party, losses of separation and incursions marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 8))
    if region is None and len(traffic):
        region = (traffic.longitude.min() - 0.5, traffic.latitude.min() - 0.5,
                  traffic.longitude.max() + 0.5, traffic.latitude.max() + 0.5)
    for ring in _borders():
        ax.plot(ring[:, 0], ring[:, 1], color="#999999", lw=0.6, zorder=1)
    for a in getattr(agreement, "airspaces", []) or []:
        geoms = getattr(a.geometry, "geoms", [a.geometry])
        for g in geoms:
            x, y = g.exterior.xy
            ax.fill(x, y, color="#ff7f0e", alpha=0.08, zorder=0)
    colours = _colours(parties, agreement)
    step = max(1, int(len(traffic) // 400_000))
    for party, g in traffic.groupby("party", sort=True):
        g = g.iloc[::step]
        # NaN breaks between aircraft so one plot call draws them all.
        order = g.sort_values(["icao24", "timestamp"], kind="stable")
        brk = order["icao24"].to_numpy()
        lon = order["longitude"].to_numpy(dtype=float).copy()
        lat = order["latitude"].to_numpy(dtype=float).copy()
        new = np.r_[False, brk[1:] != brk[:-1]]
        lon[new], lat[new] = np.nan, np.nan
        ax.plot(lon, lat, lw=0.5, alpha=0.7, color=colours.get(str(party), "#333333"),
                label=str(party), zorder=2)
    by_id = traffic.set_index(["icao24", "timestamp"]) if len(traffic) else None
    los_xy = _event_positions(by_id, [(e["a"], e["t"]) for e in metrics.get("losses_of_separation", {}).get("events", [])])
    inc_xy = _event_positions(by_id, [(e["icao24"], e["t"]) for e in metrics.get("airspace", {}).get("incursion_events", [])])
    if los_xy.size:
        ax.scatter(los_xy[:, 0], los_xy[:, 1], marker="x", color="black", s=40, zorder=4,
                   label="loss of separation")
    if inc_xy.size:
        ax.scatter(inc_xy[:, 0], inc_xy[:, 1], marker="^", facecolor="none", edgecolor="red",
                   s=60, zorder=4, label="airspace incursion")
    for b in (bases or {}).values():
        ax.plot(b.lon_deg, b.lat_deg, "s", color="black", ms=4, zorder=3)
        ax.annotate(b.id, (b.lon_deg, b.lat_deg), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    if region is not None:
        ax.set_xlim(region[0], region[2])
        ax.set_ylim(region[1], region[3])
        ax.set_aspect(1.0 / np.cos(np.radians((region[1] + region[3]) / 2.0)))
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.set_title(f"{metrics.get('scenario', '')}: {metrics.get('flights', 0)} flights, "
                 f"{metrics.get('predicted_conflicts', {}).get('total', 0)} predicted conflicts, "
                 f"{metrics.get('losses_of_separation', {}).get('total', 0)} losses, "
                 f"{metrics.get('airspace', {}).get('incursions', 0)} incursions")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _event_positions(by_id: pd.DataFrame | None, keys: list[tuple[str, float]]) -> np.ndarray:
    if by_id is None or not keys:
        return np.zeros((0, 2))
    out = []
    for icao, t in keys:
        k = (icao, int(round(t * 1000)))
        if k in by_id.index:
            row = by_id.loc[k]
            out.append((float(np.ravel(row["longitude"])[0]), float(np.ravel(row["latitude"])[0])))
    return np.asarray(out, dtype=float).reshape(-1, 2)


def plot_warning_times(metrics: dict[str, Any], path: Path) -> Path:
    """Histogram of the seconds of notice before each loss of separation."""
    plt = _plt()
    notice = [e["notice_s"] for e in metrics.get("losses_of_separation", {}).get("events", [])]
    inc = [e["notice_s"] for e in metrics.get("airspace", {}).get("incursion_events", [])]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    bins = np.arange(0, 330, 15)
    ax.hist([np.clip(notice, 0, 320), np.clip(inc, 0, 320)], bins=bins,
            label=[f"losses of separation ({len(notice)})", f"airspace incursions ({len(inc)})"],
            color=["#444444", "#d62728"])
    ax.set_xlabel("notice before the event (s), from the first alert; 300+ in the last bin")
    ax.set_ylabel("events")
    ax.set_title("Warning time")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_worst_encounters(traffic: pd.DataFrame, metrics: dict[str, Any], path: Path,
                          n: int = 6, margin_s: float = 180.0) -> Path:
    """Horizontal and vertical distance over time for the closest encounters."""
    plt = _plt()
    encs = metrics.get("closest_encounters", [])[:n]
    fig, axes = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    for e in encs:
        t0 = e["first_t"] - margin_s
        t1 = e["last_t"] + margin_s
        ms = traffic["timestamp"].to_numpy()
        win = (ms >= t0 * 1000) & (ms <= t1 * 1000)
        sub = traffic[win]
        a = sub[sub.icao24 == e["a"]].set_index("timestamp")
        b = sub[sub.icao24 == e["b"]].set_index("timestamp")
        j = a.join(b, lsuffix="_a", rsuffix="_b", how="inner")
        if j.empty:
            continue
        _, _, d = geod.inv(j.longitude_a.to_numpy(), j.latitude_a.to_numpy(),
                           j.longitude_b.to_numpy(), j.latitude_b.to_numpy())
        tt = (j.index.to_numpy() / 1000.0) - e["first_t"]
        label = f"{e['a']}/{e['b']} ({e['pair']})"
        axes[0].plot(tt, d / M_PER_NM, label=label)
        axes[1].plot(tt, np.abs(j.altitude_a - j.altitude_b), label=label)
    axes[0].set_ylabel("horizontal distance (NM)")
    axes[1].set_ylabel("vertical distance (ft)")
    axes[1].set_xlabel("seconds since the first alert")
    axes[0].set_title("Separation over time, closest encounters")
    if encs:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_all(traffic: pd.DataFrame, metrics: dict[str, Any], out_dir: Path, *,
             parties: tuple[str, ...], agreement: Any | None = None, scenario: Any | None = None) -> list[Path]:
    """Every plot of a run into `out_dir`; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        plot_map(traffic, metrics, out_dir / "map.png", parties=parties, agreement=agreement,
                 region=getattr(scenario, "region", None), bases=getattr(scenario, "bases", None)),
        plot_warning_times(metrics, out_dir / "warning_times.png"),
        plot_worst_encounters(traffic, metrics, out_dir / "worst_encounters.png"),
    ]
