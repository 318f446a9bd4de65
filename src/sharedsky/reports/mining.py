"""The mining report: an HTML page and PNG plots (matplotlib, Agg) of an encounter table.

Plots: where encounters began (over the bundled borders, per grid cell), encounters
per party pair, per level band and per hour of day, the warning lead before each loss
of separation, and the severity histogram; the page adds the counts and the ten worst
encounters. Incident dossiers have not landed yet, so the worst encounters are listed
with their ids (the `conflict-...` ids of the event stream) rather than linked.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.sim.plots import _borders, _plt

PLOTS = ("map", "pairs", "levels_hours", "lead", "severity")
LOST = "#d62728"
PREDICTED = "#1f77b4"


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def plot_map(enc: pd.DataFrame, path: Path, grid_deg: float) -> Path:
    """Where encounters began: grid cells shaded by count, losses of separation marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    ok = enc["latitude"].notna() & enc["longitude"].notna()
    e = enc[ok]
    if e.shape[0]:
        lon0, lon1 = float(e["longitude"].min()) - 0.5, float(e["longitude"].max()) + 0.5
        lat0, lat1 = float(e["latitude"].min()) - 0.5, float(e["latitude"].max()) + 0.5
        xb = np.arange(np.floor(lon0 / grid_deg) * grid_deg, lon1 + grid_deg, grid_deg)
        yb = np.arange(np.floor(lat0 / grid_deg) * grid_deg, lat1 + grid_deg, grid_deg)
        counts, _, _ = np.histogram2d(e["longitude"], e["latitude"], bins=[xb, yb])
        mesh = ax.pcolormesh(xb, yb, np.ma.masked_equal(counts.T, 0), cmap="Blues", alpha=0.8)
        fig.colorbar(mesh, ax=ax, label=f"encounters per {grid_deg:g} deg cell")
        for ring in _borders():
            ax.plot(ring[:, 0], ring[:, 1], color="#555555", lw=0.7)
        lost = e["lost"].to_numpy(dtype=bool)
        ax.scatter(e["longitude"][~lost], e["latitude"][~lost], s=6, c=PREDICTED, label="predicted only")
        ax.scatter(e["longitude"][lost], e["latitude"][lost], s=10, c=LOST, marker="x",
                   label="loss of separation")
        ax.set_xlim(lon0, lon1)
        ax.set_ylim(lat0, lat1)
        ax.set_aspect(1.0 / np.cos(np.radians((lat0 + lat1) / 2)))
        ax.legend(loc="lower left", fontsize=8)
    ax.set_xlabel("longitude, deg")
    ax.set_ylabel("latitude, deg")
    ax.set_title("Where encounters began (first warning)")
    return _save(fig, path)


def _bars(ax: Any, counts: pd.DataFrame, title: str, xlabel: str) -> None:
    x = np.arange(counts.shape[0])
    pred = counts.get("predicted", pd.Series(0, index=counts.index)).to_numpy()
    lost = counts.get("lost", pd.Series(0, index=counts.index)).to_numpy()
    ax.bar(x, pred, color=PREDICTED, label="predicted only")
    ax.bar(x, lost, bottom=pred, color=LOST, label="loss of separation")
    ax.set_xticks(x, [str(i) for i in counts.index], rotation=45 if counts.shape[0] > 6 else 0, ha="right"
                  if counts.shape[0] > 6 else "center", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("encounters")


def _split(enc: pd.DataFrame, by: pd.Series) -> pd.DataFrame:
    kind = np.where(enc["lost"].to_numpy(dtype=bool), "lost", "predicted")
    return pd.crosstab(by, kind) if enc.shape[0] else pd.DataFrame(columns=["predicted", "lost"])


def plot_pairs(enc: pd.DataFrame, path: Path) -> Path:
    """Encounters per pair of parties."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    pair = enc["party_a"].where(enc["party_a"] != "", "all") + " / " + enc["party_b"].where(enc["party_b"] != "",
                                                                                            "all")
    _bars(ax, _split(enc, pair), "Encounters per pair of parties", "parties")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_levels_hours(enc: pd.DataFrame, path: Path) -> Path:
    """Encounters per level band and per hour of day (UTC)."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    _bars(a1, _split(enc, enc["level_band"]).sort_index(), "Per level band (first warning)", "flight levels")
    hours = _split(enc, enc["hour_utc"]).reindex(range(24), fill_value=0)
    _bars(a2, hours, "Per hour of day", "hour, UTC")
    a2.legend(fontsize=8)
    return _save(fig, path)


def plot_lead(enc: pd.DataFrame, path: Path) -> Path:
    """How long before each loss of separation its first warning came."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    lead = enc.loc[enc["lost"], "lead_s"].dropna().to_numpy()
    if lead.size:
        ax.hist(lead, bins=np.arange(0, max(float(lead.max()), 60.0) + 15, 15), color=LOST)
        ax.axvline(float(np.median(lead)), color="k", ls="--", lw=1, label=f"median {np.median(lead):.0f} s")
        ax.legend(fontsize=8)
    ax.set_title(f"Warning lead before a loss of separation ({lead.size} losses)")
    ax.set_xlabel("first warning to loss of separation, s")
    ax.set_ylabel("encounters")
    return _save(fig, path)


def plot_severity(enc: pd.DataFrame, path: Path) -> Path:
    """Severity: 1 - max(d/H, |dz|/V) at the closest approach (1: collision geometry)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    bins = np.linspace(0, 1, 21)
    lost = enc["lost"].to_numpy(dtype=bool)
    ax.hist([enc.loc[~lost, "severity"], enc.loc[lost, "severity"]], bins=bins, stacked=True,
            color=[PREDICTED, LOST], label=["predicted only (predicted closest approach)",
                                            "loss of separation (actual closest approach)"])
    ax.set_title("Severity: 1 - max(d/H, dz/V) at the closest approach")
    ax.set_xlabel("severity")
    ax.set_ylabel("encounters")
    ax.legend(fontsize=8)
    return _save(fig, path)


def write_plots(enc: pd.DataFrame, out: Path, grid_deg: float = 0.5) -> dict[str, Path]:
    """Every plot of the report into `out` (created), by name."""
    out.mkdir(parents=True, exist_ok=True)
    return {
        "map": plot_map(enc, out / "mining-map.png", grid_deg),
        "pairs": plot_pairs(enc, out / "mining-pairs.png"),
        "levels_hours": plot_levels_hours(enc, out / "mining-levels-hours.png"),
        "lead": plot_lead(enc, out / "mining-lead.png"),
        "severity": plot_severity(enc, out / "mining-severity.png"),
    }


def worst(enc: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The `n` worst encounters: losses of separation first, then by severity."""
    return enc.sort_values(["lost", "severity", "start_t"], ascending=[False, False, True]).head(n)


def _table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if not np.isfinite(v) else f"{v:.3f}".rstrip("0").rstrip(".")
    if isinstance(v, pd.Timestamp):
        return "" if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


def write_report(enc: pd.DataFrame, out: Path, *, title: str, grid_deg: float = 0.5, source: str = "",
                 summary: dict[str, Any] | None = None) -> Path:
    """`out/report.html` with its plots in `out/plots/`; returns the page's path."""
    plots = write_plots(enc, out / "plots", grid_deg)
    s = summary or {}
    lost = int(enc["lost"].sum())
    lead = enc.loc[enc["lost"], "lead_s"].dropna()
    facts = [
        ("source", source),
        ("hours", s.get("hours", "")),
        ("reports", s.get("reports", "")),
        ("encounters (conflict alerts)", int(enc.shape[0])),
        ("with a loss of separation", lost),
        ("suppressed by the agreement", int(enc["suppressed"].sum())),
        ("median warning lead before a loss", f"{lead.median():.0f} s" if lead.size else "-"),
        ("losses with less than 60 s of warning", int((lead < 60).sum())),
        ("workers", s.get("workers", "")),
        ("wall time", f"{s.get('wall_s', '')} s"),
    ]
    cols = ["encounter_id", "a", "b", "party_a", "party_b", "start_t", "duration_s", "lead_s", "closest_d_nm",
            "closest_dz_ft", "severity", "region", "level_band"]
    regions = enc.groupby("region").size().sort_values(ascending=False).head(10)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:1em auto}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
{_table(pd.DataFrame(facts, columns=["", "value"]))}
<h2>Where</h2><img src="plots/{plots['map'].name}" alt="map of encounters">
<h3>Busiest {grid_deg:g} deg cells</h3>{_table(regions.rename("encounters").reset_index())}
<h2>Who, at which levels, when</h2><img src="plots/{plots['pairs'].name}" alt="encounters per pair of parties">
<img src="plots/{plots['levels_hours'].name}" alt="encounters per level band and hour">
<h2>Warning and severity</h2><img src="plots/{plots['lead'].name}" alt="warning lead">
<img src="plots/{plots['severity'].name}" alt="severity histogram">
<h2>The ten worst encounters</h2>
<p>Losses of separation first, then by severity. Incident dossiers are not built yet: the ids are those of the
events in <code>events.jsonl</code>.</p>
{_table(worst(enc)[cols])}
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path
