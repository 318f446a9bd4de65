"""`bench_resolution.py --tables`: a bad rows file is refused with the line that is wrong
(exit 2), not a traceback; good rows give the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench() -> Any:
    return load_benchmark("bench_resolution")


def _row(method: str, losses: int) -> dict[str, Any]:
    return {"dims": "2d", "density": 25.0, "delay_s": 0.0, "noncompliance": 0.0, "seed": 1, "method": method,
            "losses": losses, "conflicts": 2 * losses, "severity_mean": 0.4}


@pytest.mark.parametrize(("text", "said"), [
    (json.dumps(_row("off", 10)) + "\n{bad\n", "line 2: not a JSON run row"),
    ("[1]\n", "line 1: a run row without dims"),
    (json.dumps(_row("off", 10)) + "\n" + json.dumps({"method": "mvp"}) + "\n", "line 2: a run row without dims"),
])
def test_a_bad_rows_file_is_refused_naming_the_line(bench: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    text: str, said: str) -> None:
    f = tmp_path / "runs.jsonl"
    f.write_text(text)
    with pytest.raises(SystemExit) as e:
        bench.main(["--tables", str(f)])
    assert e.value.code == 2
    assert f"--tables {f}, {said}" in capsys.readouterr().err


def test_good_rows_give_the_table(bench: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "runs.jsonl"
    f.write_text("".join(json.dumps(_row(m, k)) + "\n" for m, k in (("off", 100), ("sharedsky", 5), ("mvp", 20))))
    assert bench.main(["--tables", str(f)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("| 2d 25 |"))
    assert "| 0.050 | 0.200 |" in line  # LoS ratios sharedsky, MVP


def test_a_variant_is_its_own_case_named_by_what_was_set(bench: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    rows = [_row(m, k) for m, k in (("off", 100), ("sharedsky", 5))]
    rows += [{**_row(m, k), "variant": "INSIDE_KEEP=true"} for m, k in (("off", 100), ("sharedsky", 8))]
    f = tmp_path / "runs.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bench.main(["--tables", str(f)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "| 0.050 |" in next(x for x in out if x.startswith("| 2d 25 |"))
    assert "| 0.080 |" in next(x for x in out if x.startswith("| 2d 25, INSIDE_KEEP=true |"))


def test_set_refuses_a_constant_the_engine_does_not_have(bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        bench.main(["--set", "NO_SUCH=1", "--no-speed", "--seeds", "0"])
    assert e.value.code == 2
    assert "--set NO_SUCH=1: no number or flag 'NO_SUCH'" in capsys.readouterr().err


def test_the_changes_table_counts_changes_that_make_room_where_every_row_has_the_count(
        bench: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    causes = {"changes_by_cause": {"new_intruder": 3, "reversal": 1, "not_free": 6},
              "changes_by_kind": {"same": 4, "dimension": 5, "sense": 1}, "changes_not_free_best_effort": 0,
              "advisories": 12}
    rows = [_row("off", 100), {**_row("sharedsky", 5), **causes, "changes_making_room": 4, "readvised": 2,
                               "readvised_not_free": 1, "readvised_not_free_new_intruder": 1},
            {**_row("sharedsky", 6), **causes, "seed": 2, "changes_making_room": 3, "readvised": 1,
             "readvised_not_free": 1, "readvised_not_free_new_intruder": 0},
            {**_row("off", 90), "seed": 2}]
    f = tmp_path / "runs.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bench.main(["--tables", str(f)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("| 2d 25 |")][-1]
    # same manoeuvre, other dimension, opposite sense, making room, advised again after
    # resume (after no free manoeuvre, of them for a new intruder)
    assert line.endswith("| 8 | 10 | 2 | 7 | 3 (2, 1 for a new intruder) |")
    del rows[2]["readvised_not_free_new_intruder"]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bench.main(["--tables", str(f)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("| 2d 25 |")][-1]
    assert line.endswith("| 8 | 10 | 2 | 7 | 3 (2) |")
    # Older rows without the counts: the sums would be short, so none is given.
    del rows[1]["readvised_not_free"]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bench.main(["--tables", str(f)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("| 2d 25 |")][-1]
    assert line.endswith("| 8 | 10 | 2 | 7 | 3 |")
    del rows[2]["changes_making_room"]
    del rows[1]["readvised"]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bench.main(["--tables", str(f)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("| 2d 25 |")][-1]
    assert line.endswith("| 8 | 10 | 2 | - | - |")


def test_the_crews_table_pools_each_class_over_seeds_weighted_by_advisories(
        bench: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def split(n_all: int, more_all: float, n_own: int, more_own: float) -> dict[str, Any]:
        z = {"not_free_more_than_once": 0.0, "changed_again": 0.0}
        return {"stability_by_crews": {
            "all followed": {"advisories": n_all, "changed_more_than_once": more_all, **z},
            "own crew ignoring": {"advisories": n_own, "changed_more_than_once": more_own, **z}}}
    rows = [_row("off", 100), {**_row("sharedsky", 5), **split(10, 0.1, 4, 0.5)},
            {**_row("off", 90), "seed": 2}, {**_row("sharedsky", 6), "seed": 2, **split(30, 0.3, 0, 0.0)},
            {**_row("sharedsky", 6), "seed": 3}]  # flown before the split: left out
    f = tmp_path / "runs.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bench.main(["--tables", str(f)]) == 0
    out = [x for x in capsys.readouterr().out.splitlines() if x.startswith("| 2d 25 | 2 |")]
    assert "| all followed | 40 | 25.0% |" in out[-2]  # (1 + 9) / 40
    assert "| own crew ignoring | 4 | 50.0% |" in out[-1]


def test_the_second_change_table_sums_why_each_was_given_over_seeds(
        bench: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The advisories the rule counts (the per-seed share times the advisories, summed) and
    the second changes given, by why, summed; rows flown before the tracker said why are left out."""
    def why(free: int, unmoved: int) -> dict[str, Any]:
        return {"second_because": {"nothing free": free, "an aircraft no advice moves": unmoved,
                                   "no aircraft blocks it": 0, "holds off": 0}}
    rows = [{**_row("sharedsky", 5), "advisories": 400, "not_free_more_than_once_in_an_encounter": 0.005, **why(1, 1)},
            {**_row("sharedsky", 6), "seed": 2, "advisories": 200, "not_free_more_than_once_in_an_encounter": 0.015,
             **why(0, 3)},
            {**_row("sharedsky", 6), "seed": 3, "advisories": 300, "not_free_more_than_once_in_an_encounter": 0.5}]
    f = tmp_path / "runs.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bench.main(["--tables", str(f)]) == 0
    out = capsys.readouterr().out.splitlines()
    head = [x for x in out if x.startswith("| case | seeds | advisories | changed twice in an encounter")]
    assert head and head[0].endswith("nothing free / an aircraft no advice moves / no aircraft blocks it / holds off |")
    line = [x for x in out if x.startswith("| 2d 25 | 2 | 600 |")]
    assert line == ["| 2d 25 | 2 | 600 | 5 (0.83%) | 1 / 4 / 0 / 0 |"]
