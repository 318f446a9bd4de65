"""Types are part of the build: mypy over the package, its tests and its benchmarks (configuration in
pyproject.toml); a test that calls the package wrongly is a test that proves less."""

import subprocess
import sys

from conftest import REPO


def test_mypy_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy", "src/sharedsky", "tests", "benchmarks"],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
