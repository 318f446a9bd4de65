"""JSON from clients, parsed so that no body can make the service fail (issue 14, defect 5).

`parse_json` is the one parser of request bodies and WebSocket frames. Beyond
`json.loads` it makes sure that what it returns can go through the rest of the service:

* integer literals of more than `MAX_INT_DIGITS` digits become floats (inf when beyond
  float range), so every numeric check sees a float it can compare and refuse by field
  name instead of raising `OverflowError` in numpy or `datetime`;
* NaN and Infinity literals are refused (they are not JSON);
* nesting deeper than `MAX_DEPTH` is refused (the interpreter's recursion limit would
  otherwise be hit here or later, when the message is re-serialised for the record);
* strings holding a lone surrogate (`"\\ud800"`, which is no Unicode text and cannot be
  written as UTF-8) are refused, naming where they are (`nature`, `reports[2].callsign`).

The deep walk runs only when a cheap scan of the raw bytes says it might find something,
so a 50,000-report batch costs one numpy pass over its bytes.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

MAX_DEPTH = 32
MAX_INT_DIGITS = 18
#: Bodies and frames larger than this are parsed on a worker thread, never on the event
#: loop, which would otherwise stop every stream while a 50,000-report batch is parsed
#: (issue 14, defect 3).
PARSE_ON_LOOP_BYTES = 64 * 1024


class BodyError(ValueError):
    """A body that is not acceptable JSON: `status` (400) and a text naming where."""

    def __init__(self, where: str, message: str, status: int = 400) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.status = status


def _int(text: str) -> int | float:
    return int(text) if len(text) - (text[0] == "-") <= MAX_INT_DIGITS else float(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _max_depth_bound(raw: bytes) -> int:
    """An upper bound of the nesting depth (brackets inside strings count too)."""
    b = np.frombuffer(raw, dtype=np.uint8)
    step = ((b == 91) | (b == 123)).astype(np.int8) - ((b == 93) | (b == 125)).astype(np.int8)
    return int(np.cumsum(step, dtype=np.int64).max(initial=0))


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]" if parent else f"[{key}]"
    return f"{parent}.{key}" if parent else key


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _walk(value: Any, check_depth: bool, check_text: bool, where: str) -> None:
    """Refuse the first too-deep value or lone surrogate, naming its path (iterative)."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        v, depth, path = stack.pop()
        if isinstance(v, dict):
            if check_depth and depth >= MAX_DEPTH:
                raise BodyError(path or where, f"nested more than {MAX_DEPTH} levels deep")
            for k, x in v.items():
                if check_text and _has_surrogate(k):
                    raise BodyError(path or where, f"a key holds a lone surrogate ({k.encode('utf-8', 'backslashreplace').decode()!r}); "
                                    "text must be valid Unicode")
                stack.append((x, depth + 1, _path(path, k)))
        elif isinstance(v, list):
            if check_depth and depth >= MAX_DEPTH:
                raise BodyError(path or where, f"nested more than {MAX_DEPTH} levels deep")
            stack.extend((x, depth + 1, _path(path, i)) for i, x in enumerate(v))
        elif check_text and isinstance(v, str) and _has_surrogate(v):
            raise BodyError(path or where, "holds a lone surrogate (such as \\ud800); text must be valid Unicode",
                            status=422)


def parse_json(raw: bytes | str, where: str = "body") -> Any:
    """The JSON value of `raw`; `BodyError` naming `where` (or the path inside) otherwise."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        value = json.loads(data, parse_int=_int, parse_constant=_no_constant)
    except RecursionError as exc:
        raise BodyError(where, f"nested more than {MAX_DEPTH} levels deep") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(where, f"not valid JSON ({exc})") from exc
    deep = _max_depth_bound(data) > MAX_DEPTH
    text = b"\\ud" in data or b"\\uD" in data or (isinstance(raw, str) and _has_surrogate(raw))
    if deep or text:
        _walk(value, deep, text, where)
    return value
