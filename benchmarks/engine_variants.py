"""`--set NAME=value` for the resolution benchmarks: a number or flag of the resolution engine
(`sharedsky.engine.resolution`) or the advisory tracker (`sharedsky.alerting.advisories`)
overridden for a run, so that a variant is measured by the same scripts as the default."""

from __future__ import annotations

import argparse
import json

from sharedsky.alerting import advisories
from sharedsky.engine import resolution


def apply_sets(ap: argparse.ArgumentParser, sets: list[str]) -> str:
    """Apply each NAME=value of `sets` (an error naming it through `ap` if there is no such
    constant or the value is not of its type); the variant as one canonical string ("" if none)."""
    done: dict[str, object] = {}
    for kv in sets:
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
        done[name] = type(old)(new)
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(done.items()))
