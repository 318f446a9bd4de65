"""Simulator speed: simulated seconds per wall-clock second with detection on.

    .venv/bin/python benchmarks/bench_sim.py [--sizes 100,500,2000] [--chunks 5] [--chunk-s 120]

N aircraft are airborne throughout (racetrack orbits and transits of the five parties of
examples/syria-2015.toml over Syria and its neighbours, random altitudes FL150-FL390).
Every simulated second: dynamics, a snapshot, separation detection at the agreement's
levels, the conflict lifecycle, and (second figure) the airspace watch of Turkish
airspace. Recording to memory at 1 s is on. Medians over chunks of simulated time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from sharedsky.agreement import load_agreement
from sharedsky.sim.run import Simulation
from sharedsky.sim.scenario import loads_scenario

REPO = Path(__file__).resolve().parents[1]
PARTIES = {"coalition": "ae0000-afffff", "russia": "140000-15ffff", "turkey": "4b8000-4bffff",
           "syria": "778000-77bfff"}
TYPES = {"coalition": ["F16", "F15E", "K35R", "MQ9"], "russia": ["SU24", "SU34", "SU30"],
         "turkey": ["F16"], "syria": ["SU24"]}


def busy_scenario(n: int, seed: int = 0) -> str:
    """TOML of `n` aircraft airborne at t = 0: half on orbits, half on long transits."""
    rng = np.random.default_rng(seed)
    lines = ['[scenario]\nname = "bench"\nstart = "2015-10-20T06:00:00Z"\n']
    for p, blk in PARTIES.items():
        lines.append(f'[parties.{p}]\nicao_blocks = ["{blk}"]\n')
    for k in range(n):
        party = list(PARTIES)[k % 4]
        t = TYPES[party][int(rng.integers(len(TYPES[party])))]
        alt = int(rng.integers(15, 40)) * 1000
        lat, lon = rng.uniform(32.0, 38.5), rng.uniform(35.0, 44.0)
        if k % 2:
            lines.append(
                f'[[mission]]\nid = "o{k}"\nparty = "{party}"\nkind = "orbit"\ntype = "{t}"\n'
                f"airborne = true\nat_s = [0]\ncenter = [{lat:.3f}, {lon:.3f}]\n"
                f"heading_deg = {rng.uniform(0, 360):.0f}\nleg_nm = {rng.uniform(10, 40):.0f}\n"
                f"on_station_s = 86400\naltitude_ft = {alt}\n")
        else:
            lat2, lon2 = rng.uniform(32.0, 38.5), rng.uniform(35.0, 44.0)
            lines.append(
                f'[[mission]]\nid = "t{k}"\nparty = "{party}"\nkind = "transit"\ntype = "{t}"\n'
                f"airborne = true\nat_s = [0]\naltitude_ft = {alt}\n"
                f"route = [[{lat:.3f}, {lon:.3f}], [{lat2:.3f}, {lon2:.3f}], [{lat:.3f}, {lon:.3f}], "
                f"[{lat2:.3f}, {lon2:.3f}], [{lat:.3f}, {lon:.3f}]]\n")
    return "\n".join(lines)


def measure(n: int, chunks: int, chunk_s: int, airspace: bool) -> tuple[float, int]:
    scn = loads_scenario(busy_scenario(n), "bench")
    agr = load_agreement(REPO / "examples/syria-2015.toml")
    hours = (chunks + 1) * chunk_s / 3600.0 + 0.01
    sim = Simulation(scn, agr, hours=hours, seed=1, airspace=airspace)
    for _ in range(chunk_s):  # warm-up: everyone airborne, caches warm
        sim.step()
    rates = []
    for _ in range(chunks):
        t0 = time.perf_counter()
        for _ in range(chunk_s):
            sim.step()
        rates.append(chunk_s / (time.perf_counter() - t0))
    return statistics.median(rates), int(sim.fleet.airborne.size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,500,2000")
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--chunk-s", type=int, default=120)
    args = ap.parse_args()
    print("bench_sim: simulated s per wall s (median of "
          f"{args.chunks} x {args.chunk_s} s), detection every simulated second")
    print(f"{'aircraft':>9} {'separation+alerts':>18} {'+airspace watch':>16}")
    for n in (int(s) for s in args.sizes.split(",")):
        r1, live = measure(n, args.chunks, args.chunk_s, airspace=False)
        r2, _ = measure(n, args.chunks, args.chunk_s, airspace=True)
        print(f"{live:>9d} {r1:>17.0f}x {r2:>15.0f}x")


if __name__ == "__main__":
    main()
