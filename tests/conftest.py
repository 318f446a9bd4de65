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
def incident_record(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - dossier_support.IncidentRecord
    """A real incident flown through the service with both parties' witnesses (about 25 s), made
    once for the dossier tests (test_dossier.py, test_dossier_service.py); read-only for them."""
    from dossier_support import make_incident_record

    return make_incident_record(tmp_path_factory.mktemp("incident"))
