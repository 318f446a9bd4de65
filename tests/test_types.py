"""Types are part of the build: mypy over the package (configuration in pyproject.toml)."""

import subprocess
import sys

from conftest import REPO


def test_mypy_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy", "src/sharedsky"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
