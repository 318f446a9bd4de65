"""The carried state's encoding: exact for every value a stage keeps; bytes the service did
not write are refused unread, and nothing but sharedsky's own dataclasses, numpy arrays and
scalars and shapely geometries is ever built from them."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import pickle
import subprocess
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from sharedsky.alerting import carry
from sharedsky.alerting.airspace_schedule import Approach, Schedule
from sharedsky.alerting.carry import FORMAT, StateError, dumps, loads
from sharedsky.alerting.notice_book import Volume
from sharedsky.alerting.step import Assessment
from sharedsky.ingest.notices import VolumeSpec


def _same(a: Any, b: Any) -> bool:
    """Equal, bit for bit for floats (NaN, -0.0) and arrays (dtype, shape, bytes)."""
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and (a.tobytes() == b.tobytes() if not a.dtype.hasobject else a.tolist() == b.tolist()))
    if isinstance(a, float):
        return type(a) is type(b) and math.copysign(1.0, a) == math.copysign(1.0, b) and (
            a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(a, dict):
        return (type(a) is type(b) and list(a) == list(b)
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(
            _same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


KEY = bytes(range(32))

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
    back = loads(dumps(value, KEY), KEY)
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
    back = loads(dumps({"vol": vol, "sched": sched}, KEY), KEY)
    assert back["sched"] == sched
    v = back["vol"]
    assert isinstance(v, Volume) and v.spec.geometry.equals_exact(geom, 0.0)
    assert shapely.to_wkb(v.spec.geometry) == shapely.to_wkb(geom)
    assert (v.operation, v.version, v.spec.end_s, v.spec.area) == (vol.operation, 2, 3600.25, spec.area)


@dataclasses.dataclass
class Foreign:
    """A dataclass, but not one of sharedsky's."""

    x: int = 1


class Popen:
    """Unpickled, it would start a process."""

    def __reduce__(self) -> tuple:
        return subprocess.Popen, (["true"],)


def _signed(payload: bytes) -> bytes:
    """`payload` with this key's valid MAC, as if the service had written it."""
    mac = hashlib.blake2b(payload + bytes(8), key=KEY, digest_size=32).digest()  # no context, then its length 0
    return FORMAT.encode() + b"\n" + mac + payload


def test_bytes_the_service_did_not_write_are_refused_unread() -> None:
    good = dumps({"serial": 3}, KEY)
    assert loads(good, KEY) == {"serial": 3}
    with pytest.raises(StateError, match="MAC does not match"):
        loads(good, bytes(32))
    with pytest.raises(StateError, match="MAC does not match"):
        loads(good[:-1] + bytes([good[-1] ^ 1]), KEY)
    with pytest.raises(StateError, match="not a carried state of format"):
        loads(b"\x80\x05" + good, KEY)
    with pytest.raises(StateError, match="not a carried state of format"):
        loads(b"", KEY)


def test_a_state_is_read_only_in_the_context_it_was_written_in() -> None:
    """The MAC covers where and when (the row's name and time) and the record entry it goes
    with, as well as the bytes; `sealer` makes it for another context, the state unchanged."""
    t = 1_800_000_003.25
    good = dumps({"serial": 3}, KEY, carry.context_of("engine", t, 41))
    assert loads(good, KEY, carry.context_of("engine", t, 41)) == {"serial": 3}
    for other in (carry.context_of("engine", t + 1e-6, 41), carry.context_of("engines", t, 41),
                  carry.context_of("engine", t, 40), b""):
        with pytest.raises(StateError, match="MAC does not match"):
            loads(good, KEY, other)
    assert carry.same_state(good, dumps({"serial": 3}, KEY, carry.context_of("engine", t + 1, 41)))
    assert not carry.same_state(good, dumps({"serial": 4}, KEY, carry.context_of("engine", t, 41)))
    unsealed = dumps({"serial": 3}, KEY, None)
    with pytest.raises(StateError, match="MAC does not match"):
        loads(unsealed, KEY, carry.context_of("engine", t, 41))
    assert carry.sealer(unsealed, KEY)(carry.context_of("engine", t, 41)) == good
    moved = carry.sealer(good, KEY)(carry.context_of("engine", t, 42))
    assert carry.same_state(good, moved) and loads(moved, KEY, carry.context_of("engine", t, 42)) == {"serial": 3}
    with pytest.raises(StateError, match="MAC does not match"):
        loads(moved, KEY, carry.context_of("engine", t, 41))


@pytest.mark.parametrize("obj, message", [
    (Popen(), "may not build subprocess.Popen"),
    (math.floor, "may not build math.floor"),
    (Foreign(), "may not build test_carry_codec.Foreign"),
    (Assessment, "may not build sharedsky.alerting.step.Assessment"),
    (object(), "may not build"),
])
def test_even_signed_bytes_build_nothing_but_what_a_state_holds(obj: object, message: str) -> None:
    """Defence in depth: were the key to leak, the unpickler still builds only data."""
    with pytest.raises(StateError, match=message):
        loads(_signed(pickle.dumps(obj, protocol=5)), KEY)


class Calls:
    """Pickles as a call of `fn` with `args` (what a forged state could ask for)."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple:
        return self.fn, self.args


@pytest.mark.parametrize("fn, args, message", [
    (carry._build_array, ("<f8", (10**12,), b""), "with 0 bytes"),
    (carry._build_array, ("|V8", (1,), bytes(8)), "not carried"),
    (carry._build_array, ("<f8", (-1,), b""), "with 0 bytes"),
    (carry._build_objects, ((10**9,), []), "with 0 items"),
    (carry._build_scalar, ("|V2147483647", b""), "not carried"),
    (carry._build_scalar, ("<f8", b"1"), "scalar of 1 bytes"),
    (carry._build_dataclass, ("sharedsky.alerting.airspace_schedule:Approach", ("id",), ("x",)), "fields"),
    (carry._build_dataclass, ("os:system", (), ()), "not a dataclass of sharedsky's"),
    (carry._build_dataclass, ("sharedsky.alerting.step:Assessment", (), ()), "not a dataclass of sharedsky's"),
    (carry._build_dataclass, ("sharedsky.not_loaded:X", (), ()), "not a dataclass of sharedsky's"),
    (carry._build_geometry, ("not wkb",), "not WKB"),
    (np.ndarray, ((10**9,),), "may not build numpy.ndarray"),
])
def test_the_builders_refuse_what_no_state_holds(fn: Any, args: tuple, message: str) -> None:
    with pytest.raises(StateError, match=message):
        loads(_signed(pickle.dumps(Calls(fn, *args), protocol=5)), KEY)


def test_a_state_of_classes_with_other_fields_is_refused_at_once() -> None:
    """Code upgraded between a kill and a restart: its classes' fields differ from the state's."""
    sched = dumps(Schedule(60.0), KEY)
    assert loads(sched, KEY) == Schedule(60.0)
    old = pickle.dumps(Calls(carry._build_dataclass, "sharedsky.alerting.airspace_schedule:Schedule",
                             ("clear_after_s", "approaches", "last_issue", "cleared"), (60.0, {}, {}, 0)), protocol=5)
    with pytest.raises(StateError, match="are not the class's"):
        loads(_signed(old), KEY)


def test_signed_garbage_is_refused_clearly() -> None:
    payload = pickle.dumps({"serial": 3}, protocol=5)
    with pytest.raises(StateError, match="cannot be read"):
        loads(_signed(payload[:-3]), KEY)
