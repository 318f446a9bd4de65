"""The carried state's encoding: exact for every value a stage keeps, and it builds nothing
but sharedsky's own dataclasses, numpy arrays and shapely geometries."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from sharedsky.alerting.airspace_schedule import Approach, Schedule
from sharedsky.alerting.carry import StateError, decode, dumps, encode, loads
from sharedsky.alerting.notice_book import Volume
from sharedsky.ingest.notices import VolumeSpec


def _same(a: object, b: object) -> bool:
    """Equal, bit for bit for floats (NaN, -0.0) and arrays (dtype, shape, bytes)."""
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and (a.tobytes() == b.tobytes() if not a.dtype.hasobject else a.tolist() == b.tolist()))
    if isinstance(a, float):
        return type(a) is type(b) and math.copysign(1.0, a) == math.copysign(1.0, b) and (
            a == b or (math.isnan(a) and math.isnan(b)))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return (type(a) is type(b) and list(a) == list(b)  # type: ignore[arg-type]
                and all(_same(a[k], b[k]) for k in a))  # type: ignore[index]
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(  # type: ignore[arg-type]
            _same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[call-overload]
    return type(a) is type(b) and a == b


VALUES = [
    None, True, False, 0, -7, 2**70, 0.1, -0.0, float("nan"), float("inf"), -float("inf"), 5e-324,
    "", "$not-a-tag", "naïve 雲",
    [1, [2.5, None]], (1, "a", (2,)), {"a": 1, "b": [1.5]}, {("x", "y"): 1.0, ("x", "z"): -0.0},
    {"$t": 1}, {3: "int key"}, {"b", "a"}, frozenset({1, 2}),
    np.float32(0.1), np.int64(-3), np.bool_(True),
    np.array([0.1, np.nan, -0.0, np.inf]), np.arange(6, dtype=np.int16).reshape(2, 3),
    np.array(["aa0300|bb0300", "x"]), np.array(["aa", None], dtype=object), np.zeros((0, 3)),
    np.array([[1.0, 2.0], [3.0, 4.0]])[:, 1],  # not contiguous
]


@pytest.mark.parametrize("value", VALUES, ids=[f"v{k}" for k in range(len(VALUES))])
def test_every_kind_of_value_comes_back_exactly(value: object) -> None:
    back = loads(dumps(value))
    if isinstance(value, set | frozenset):
        assert type(back) is type(value) and back == value
    else:
        assert _same(value, back), (value, back)


def test_dataclasses_and_geometries_come_back_exactly() -> None:
    geom = Polygon([(36.0, 35.0), (36.5, 35.0), (36.5, 35.4), (36.0, 35.0)])
    spec = VolumeSpec({"centre": [36.2, 35.1], "radius_nm": 5.0}, geom, 0.0, 25000.0, 1.5, 3600.25)
    vol = Volume("blue:strike-7", 2, 0, "blue", "strike", 1, spec, 12.5)  # frozen
    sched = Schedule(60.0, {("zone", "aa0001"): Approach("zone/aa0001/3", 3.0, 4.5, {"warning": 4.5})},
                     {("zone", "aa0001", "warning"): 4.5}, 2)
    back = loads(dumps({"vol": vol, "sched": sched}))
    assert back["sched"] == sched
    v = back["vol"]
    assert isinstance(v, Volume) and v.spec.geometry.equals_exact(geom, 0.0)
    assert shapely.to_wkb(v.spec.geometry) == shapely.to_wkb(geom)
    assert (v.operation, v.version, v.spec.end_s, v.spec.area) == (vol.operation, 2, 3600.25, spec.area)


def test_the_encoding_is_readable_json() -> None:
    tree = json.loads(dumps({"serial": 3, "held": {"aa0300": (1.5, float("nan"))}}))
    assert tree == {"serial": 3, "held": {"aa0300": {"$t": [1.5, tree["held"]["aa0300"]["$t"][1]]}}}
    assert math.isnan(tree["held"]["aa0300"]["$t"][1])


@pytest.mark.parametrize("tree, message", [
    ({"$c": ["os:system", {}]}, "only sharedsky's own classes"),
    ({"$c": ["subprocess:Popen", {"args": "true"}]}, "only sharedsky's own classes"),
    ({"$c": ["sharedsky.alerting.step:Assessment", {}]}, "not a dataclass"),
    ({"$c": ["sharedsky.nowhere:X", {}]}, "no such class"),
    ({"$c": ["sharedsky.alerting.airspace_schedule:Approach", {"id": "x"}]}, "fields"),
    ({"$c": ["no-colon", {}]}, "bad class name"),
    ({"$x": 1}, "unknown tag"),
    ({"$a": ["<f8", [3], "AAAA"]}, "bad \\$a value"),
    ({"$a": ["not a dtype", [1], ""]}, "bad \\$a value"),
    ({"$g": "zz"}, "bad \\$g value"),
    ({"$n": ["<i1", 1000]}, "bad \\$n value"),
    ({"$n": ["<i8", float("inf")]}, "bad \\$n value"),
    ({"$n": ["|V8", 2147483647]}, "dtype '\\|V8' is not carried"),
    ({"$n": ["<f8", [1.0]]}, "bad \\$n value"),
    ({"$a": ["|O", [1], ""]}, "not carried"),
    ({"$a": ["<M8[s]", [0], ""]}, "not carried"),
    ({"$c": ["sharedsky.alerting.airspace_schedule:Approach", ["id"]]}, "its fields are not an object"),
])
def test_a_bad_state_is_refused_naming_what(tree: object, message: str) -> None:
    with pytest.raises(StateError, match=message):
        decode(tree)


def test_what_cannot_be_carried_is_refused() -> None:
    with pytest.raises(StateError, match="cannot carry"):
        encode(object())
    with pytest.raises(StateError, match="not a carried state"):
        loads(b"\xff not json")
    with pytest.raises(StateError, match="nested too deep"):
        loads(b'{"$t":' * 100_000 + b"1" + b"}" * 100_000)
