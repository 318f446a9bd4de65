"""Shared fixtures: where the real recordings live, and how to run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHAREDSKY_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings and borders in ../shared/data."""
    if not SHARED_DATA.exists():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


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


@pytest.fixture(scope="session")
def swiss_day(shared_data: Path) -> dict[str, subprocess.CompletedProcess]:
    """The whole Swiss day (842 aircraft, 17 h) replayed by `sharedsky replay`, once with the
    civil agreement ("civil") and once with every pair checked ("all_pairs", the same 5 NM,
    1,000 ft, 300 s), the two side by side in two processes. Replayed once per test session:
    several tests read the same two runs (the reference events, the summary, their equality)."""
    rec = str(shared_data / "adsb" / "switzerland.json.gz")
    args = {"civil": ["--agreement", "examples/civil.toml"], "all_pairs": ["--all-pairs"]}
    procs = {k: subprocess.Popen([sys.executable, "-m", "sharedsky.cli", "replay", rec, *a], cwd=REPO, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k, a in args.items()}
    done = {}
    for k, p in procs.items():
        out, err = p.communicate(timeout=1700)
        done[k] = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    return done


@pytest.fixture(scope="session")
def incident_record(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - dossier_support.IncidentRecord
    """A real incident flown through the service with both parties' witnesses (about 25 s), made
    once for the dossier tests (test_dossier.py, test_dossier_service.py); read-only for them."""
    from dossier_support import make_incident_record

    return make_incident_record(tmp_path_factory.mktemp("incident"))


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - a playwright Browser
    """Debian's chromium driven by Playwright, one per test module (tests/test_web_*.py)."""
    from playwright.sync_api import sync_playwright

    from test_web_map import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n N --dist loadgroup` (what `./run test` uses), keep each test module on
    one worker (its module fixtures, a service or a browser, start once) and every test of a
    costly session fixture on the same worker (the Swiss day is replayed once, not per worker)."""
    shared = ("swiss_day", "incident_record")
    for item in items:
        names = getattr(item, "fixturenames", ())
        group = next((f for f in shared if f in names), item.nodeid.split("::")[0])
        item.add_marker(pytest.mark.xdist_group(group))
