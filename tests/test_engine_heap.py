"""Freed array memory is kept for reuse (sharedsky.engine.heap): after
`keep_freed_memory`, a resolution's second call on the same state reuses the memory its
first call freed instead of faulting fresh pages in, as it does under glibc's own
thresholds. Each case runs in a process of its own, since the setting is for the whole
process."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CHILD = """
import resource, sys
if sys.argv[1] == "keep":
    from sharedsky.engine.heap import keep_freed_memory
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # once: a second call changes nothing
from sharedsky.engine.resolution import resolve
from sharedsky.engine.separation import Minima
from sharedsky.sim.synthetic import random_enroute
minima = Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)
snap = random_enroute(2000, seed=1)
resolve(snap, minima)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
resolve(snap, minima)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    # glibc's own defaults: no tunables or allocator from the environment.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "LD_PRELOAD")}
    env["SHAREDSKY_ENGINE_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_a_resolution_reuses_the_memory_the_last_one_freed() -> None:
    default = _faults("default")
    if default < 1000:  # e.g. transparent huge pages for every allocation: little to save
        pytest.skip(f"only {default} page faults a call with glibc's own thresholds here")
    kept = _faults("keep")
    assert kept * 10 < default, f"{kept} faults with the memory kept, {default} without"
