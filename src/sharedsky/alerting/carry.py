"""What the assessment step carries from one step to the next, and its exact encoding.

The alert lifecycles keep state between steps (open conflicts, held advisories, airspace
approaches, well-clear hysteresis). A service that is stopped and started again must go on
from that state, or it announces again what it announced before, under new ids, and the two
parties' services disagree until the encounters end. `Carried` names each stage's state;
`dumps`/`loads` turn it into bytes and back, bit for bit (floats, NaN, -0.0, numpy dtypes,
dataclasses, shapely geometries), as JSON a person can read.

Decoding builds only dataclasses of sharedsky's own modules, numpy arrays and shapely
geometries: a state file cannot make the service run code (unlike pickle).
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
from typing import Any, ClassVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: The encoding's version: a state written by another version is not read (the step starts afresh).
FORMAT = "sharedsky-step-state/1"


class StateError(ValueError):
    """A carried state that cannot be read: names what is wrong and where."""


class Carried:
    """A stage whose listed attributes are all it keeps between steps.

    `carry` returns them (not copies: encode them before the next step); `check` refuses
    a state this instance cannot go on from, changing nothing; `resume` sets them from
    another instance's `carry` of the same configuration. Attributes that only count for a
    run's summary (ended losses, closed violations) are left out: a service running for
    weeks must not write its whole history at every step.
    """

    CARRIED: ClassVar[tuple[str, ...]] = ()

    def carry(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.CARRIED}

    def check(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise StateError(f"{type(self).__name__}: the carried state is a {type(state).__name__}, not an object")
        missing = [n for n in self.CARRIED if n not in state]
        if missing:
            raise StateError(f"{type(self).__name__}: the carried state lacks {', '.join(missing)}")
        for name in self.CARRIED:
            mine, theirs = getattr(self, name), state[name]
            if not (isinstance(theirs, type(mine)) or (mine is None or theirs is None)
                    or (isinstance(mine, float) and isinstance(theirs, int))):
                raise StateError(f"{type(self).__name__}.{name}: a {type(theirs).__name__} where a "
                                 f"{type(mine).__name__} is kept")

    def resume(self, state: dict[str, Any]) -> None:
        self.check(state)
        for name in self.CARRIED:
            setattr(self, name, state[name])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode(obj: Any) -> Any:
    """A JSON tree for `obj`; tagged objects ({"$t": ...}) for what JSON has no type for."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.generic):
        return {"$n": [obj.dtype.str, obj.item()]}
    if isinstance(obj, int | float):
        return obj
    if isinstance(obj, list):
        return [encode(x) for x in obj]
    if isinstance(obj, tuple):
        return {"$t": [encode(x) for x in obj]}
    if isinstance(obj, set | frozenset):
        items = sorted((encode(x) for x in obj), key=lambda e: json.dumps(e, sort_keys=True))
        return {"$fs" if isinstance(obj, frozenset) else "$s": items}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: encode(v) for k, v in obj.items()}
        return {"$d": [[encode(k), encode(v)] for k, v in obj.items()]}
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            return {"$o": [list(obj.shape), [encode(x) for x in obj.ravel().tolist()]]}
        return {"$a": [obj.dtype.str, list(obj.shape), _b64(np.ascontiguousarray(obj).tobytes())]}
    if isinstance(obj, BaseGeometry):
        return {"$g": shapely.to_wkb(obj, hex=True)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        if not cls.__module__.startswith("sharedsky."):
            raise StateError(f"cannot carry a {cls.__module__}.{cls.__qualname__}")
        fields = {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {"$c": [f"{cls.__module__}:{cls.__qualname__}", fields]}
    raise StateError(f"cannot carry a {type(obj).__module__}.{type(obj).__qualname__}")


#: Array and scalar dtypes a state may hold: booleans, numbers and fixed-width strings
#: (no void, object or datetime dtypes: a few bytes must not ask for gigabytes).
DTYPE_KINDS = frozenset("biufcU")


def _class(name: Any) -> type:
    """The sharedsky dataclass a tag names (and nothing else)."""
    if not isinstance(name, str) or ":" not in name:
        raise StateError(f"bad class name {name!r}")
    module, qual = name.split(":", 1)
    if not module.startswith("sharedsky."):
        raise StateError(f"{name}: only sharedsky's own classes are carried")
    try:
        cls: Any = importlib.import_module(module)
        for part in qual.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        raise StateError(f"{name}: no such class ({exc})") from exc
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__.startswith("sharedsky.")):
        raise StateError(f"{name}: not a dataclass of sharedsky's")
    return cls


def _dtype(text: Any) -> np.dtype[Any]:
    dtype = np.dtype(text)
    if dtype.kind not in DTYPE_KINDS or dtype.itemsize > 4096:
        raise StateError(f"dtype {text!r} is not carried")
    return dtype


def decode(tree: Any) -> Any:
    """The object `encode` made `tree` from."""
    if isinstance(tree, list):
        return [decode(x) for x in tree]
    if not isinstance(tree, dict):
        return tree
    if len(tree) != 1 or not next(iter(tree)).startswith("$"):
        return {k: decode(v) for k, v in tree.items()}
    tag, val = next(iter(tree.items()))
    try:
        if tag == "$t":
            return tuple(decode(x) for x in val)
        if tag == "$s":
            return {decode(x) for x in val}
        if tag == "$fs":
            return frozenset(decode(x) for x in val)
        if tag == "$d":
            return {decode(k): decode(v) for k, v in val}
        if tag == "$n":
            if not isinstance(val[1], bool | int | float | str):
                raise StateError(f"bad $n value {val[1]!r}")
            return _dtype(val[0]).type(val[1])
        if tag == "$a":
            dtype, shape, data = val
            return np.frombuffer(base64.b64decode(data, validate=True), dtype=_dtype(dtype)).reshape(shape).copy()
        if tag == "$o":
            shape, items = val
            out = np.empty(len(items), dtype=object)
            out[:] = [decode(x) for x in items]
            return out.reshape(shape)
        if tag == "$g":
            return shapely.from_wkb(val)
        if tag == "$c":
            name, fields = val
            cls = _class(name)
            if not isinstance(fields, dict):
                raise StateError(f"{name}: its fields are not an object")
            want = {f.name for f in dataclasses.fields(cls)}
            if set(fields) != want:
                raise StateError(f"{name}: fields {sorted(fields)} are not the class's {sorted(want)}")
            obj: Any = object.__new__(cls)
            for k, v in fields.items():
                object.__setattr__(obj, k, decode(v))  # frozen dataclasses too
            return obj
    except StateError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError,
            shapely.errors.GEOSException) as exc:
        raise StateError(f"bad {tag} value ({exc})") from exc
    raise StateError(f"unknown tag {tag!r}")


def dumps(state: Any) -> bytes:
    """`state` as UTF-8 JSON (floats written exactly: shortest repr, NaN and Infinity)."""
    return json.dumps(encode(state), separators=(",", ":")).encode("utf-8")


def loads(data: bytes) -> Any:
    """The state `dumps` wrote."""
    try:
        return decode(json.loads(data))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateError(f"not a carried state ({exc})") from exc
    except RecursionError as exc:
        raise StateError("a carried state nested too deep") from exc
