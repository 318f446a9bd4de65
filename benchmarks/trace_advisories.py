"""Fly one seed of the TU Delft random traffic with sharedsky's advisories and write every
advisory event (JSON lines), with the run's metrics: the study behind "Stability of advice".

    PYTHONPATH=src python benchmarks/trace_advisories.py --density 25 --seed 1 --measure-s 600 \
        --out events.jsonl [--delay-s 10 --noncompliance 0.38] [--set LASTING_FACTOR=1.0 ...]

`--set NAME=value` overrides a module constant of `sharedsky.engine.resolution` or
`sharedsky.alerting.advisories` for the run (the variants measured in the README).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sharedsky.alerting import advisories
from sharedsky.engine import resolution
from sharedsky.sim.random_traffic import TrafficSpec, run_square

FIELDS = ("state", "t", "id", "icao24", "cause", "status", "manoeuvre", "sense", "change_deg", "track_deg",
          "gs_kt", "vs_fpm", "intruders", "changes", "changes_not_free", "changes_again", "reason")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--density", type=float, default=25.0)
    ap.add_argument("--three-d", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--measure-s", type=float, default=600.0)
    ap.add_argument("--delay-s", type=float, default=0.0)
    ap.add_argument("--noncompliance", type=float, default=0.0)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    for kv in a.set:
        name, _, value = kv.partition("=")
        mod = next((m for m in (resolution, advisories) if name.isupper() and hasattr(m, name)), None)
        old = getattr(mod, name, None)
        if mod is None or not isinstance(old, (bool, int, float)):
            ap.error(f"--set {kv}: no number or flag {name!r} in the resolution engine or the tracker")
        try:
            new = json.loads(value.lower() if isinstance(old, bool) else value)
        except ValueError:
            new = None
        if (not isinstance(new, (bool, int, float)) or isinstance(new, bool) != isinstance(old, bool)
                or (type(old) is int and type(new) is not int)):
            ap.error(f"--set {kv}: {value!r} is not a {type(old).__name__}")
        setattr(mod, name, type(old)(new))
    with a.out.open("w") as fh:
        real = advisories.AdvisoryTracker.step

        def step(self: advisories.AdvisoryTracker, *args: Any, **kw: Any) -> list[dict[str, Any]]:
            events = real(self, *args, **kw)
            fh.writelines(json.dumps({k: e.get(k) for k in FIELDS}) + "\n" for e in events)
            return events

        advisories.AdvisoryTracker.step = step  # type: ignore[method-assign]
        spec = TrafficSpec(a.density, three_d=a.three_d, seed=a.seed, measure_s=a.measure_s)
        run = run_square(spec, resolution=True, pilot_delay_s=a.delay_s, noncompliance=a.noncompliance)
    print(json.dumps({k: v for k, v in run.as_dict().items() if k != "resolution"}))
    print(json.dumps(run.resolution))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
