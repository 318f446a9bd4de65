"""Helpers shared by commands: errors that exit with status 2, minima options, agreements."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np

from sharedsky.engine.separation import Minima


def fail(cmd: str, message: str, code: int = 2) -> NoReturn:
    """Print `cmd: message` on stderr and exit with `code` (2: bad input)."""
    click.echo(f"{cmd}: {message}", err=True)
    sys.exit(code)


def parse_minima(text: str) -> tuple[float, float, float]:
    """'5,1000,300' -> (h_nm, v_ft, t_s), each positive (look-ahead may be 0)."""
    parts = text.split(",")
    if len(parts) != 3:
        raise click.BadParameter("expected H_NM,V_FT,T_S such as 5,1000,300", param_hint="--minima")
    try:
        h, v, t = (float(p) for p in parts)
    except ValueError as exc:
        raise click.BadParameter(f"not a number in {text!r}", param_hint="--minima") from exc
    if not (h > 0 and v > 0 and t >= 0 and np.isfinite([h, v, t]).all()):
        raise click.BadParameter("minima must be positive and finite, look-ahead >= 0", param_hint="--minima")
    return h, v, t


def load_agreement_or_fail(cmd: str, path: Path) -> Any:
    """Load an agreement, or exit 2 with the agreement's own error message."""
    try:
        from sharedsky.agreement import AgreementError, load_agreement
    except ImportError:  # pragma: no cover - the agreement module ships with the package
        fail(cmd, "agreement support is not installed")
    try:
        return load_agreement(path)
    except AgreementError as exc:
        fail(cmd, str(exc))


def uniform_levels(n_parties: int, h_nm: float, v_ft: float, t_s: float, same_party: bool) -> list[Minima]:
    return [Minima.uniform(n_parties, h_nm, v_ft, t_s, same_party=same_party)]
