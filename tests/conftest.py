"""Shared fixtures: where the real recordings live, and how to run the CLI."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHAREDSKY_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings and borders in ../shared/data."""
    if not SHARED_DATA.exists():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def load_benchmark(name: str) -> Any:
    """The module of script `benchmarks/NAME.py` (not a package: loaded from its file)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_cli(*args: str, input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `sharedsky ARGS` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "sharedsky.cli", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def once_per_run(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], T]) -> T:
    """MAKE(dir) once per test run, however many processes run the tests (`./run test` uses
    pytest-xdist): the first to ask makes it under a lock in the run's shared temporary
    folder and keeps it there (pickled); the others wait for it and read it."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder every worker's basetemp is in
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept = root / f"{name}.pickle"
        if kept.exists():
            return pickle.loads(kept.read_bytes())
        folder = root / name
        folder.mkdir(exist_ok=True)
        value = make(folder)
        kept.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def swiss_day(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    """The whole Swiss day (842 aircraft, 17 h) replayed by `sharedsky replay`, once with the
    civil agreement ("civil") and once with every pair checked ("all_pairs", the same 5 NM,
    1,000 ft, 300 s), the two side by side in two processes. Replayed once per test session:
    several tests read the same two runs (the reference events, the summary, their equality)."""
    rec = str(shared_data / "adsb" / "switzerland.json.gz")
    args = {"civil": ["--agreement", "examples/civil.toml"], "all_pairs": ["--all-pairs"]}

    def replay_both(_: Path) -> dict[str, subprocess.CompletedProcess]:
        procs = {k: subprocess.Popen([sys.executable, "-m", "sharedsky.cli", "replay", rec, *a], cwd=REPO, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k, a in args.items()}
        done = {}
        for k, p in procs.items():
            out, err = p.communicate(timeout=1700)
            done[k] = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        return done

    return once_per_run(tmp_path_factory, "swiss_day", replay_both)


@pytest.fixture(scope="session")
def incident_record(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - dossier_support.IncidentRecord
    """A real incident flown through the service with both parties' witnesses (about 25 s), made
    once for the dossier tests (test_dossier.py, test_dossier_service.py); read-only for them."""
    from dossier_support import make_incident_record

    return once_per_run(tmp_path_factory, "incident", make_incident_record)


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - a playwright Browser
    """Debian's chromium driven by Playwright, one per test module (tests/test_web_*.py)."""
    from playwright.sync_api import sync_playwright

    from test_web_map import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()

