"""Line numbers of TOML keys, so that every error can say where it is.

`tomllib` gives a line only for syntax errors. This scanner maps the key paths of a
parsed document (('minima', 2, 'level', 0, 'h_nm')) to the line that defines them: it
follows table headers, counts arrays of tables per parent, and records `key = value`
lines, skipping the inside of multi-line arrays and strings. Inline tables and arrays
are located at the line of their key.
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\'))*)\s*=')
_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'[^\']*\'')


def _split_key(key: str) -> list[str]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[A-Za-z0-9_-]+', key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _depth(line: str) -> int:
    """Net bracket depth of a line, ignoring strings and comments."""
    body = _STRINGS.sub("", line).split("#", 1)[0]
    return body.count("[") + body.count("{") - body.count("]") - body.count("}")


def key_lines(text: str) -> dict[Path, int]:
    """Map every key path defined in `text` to its 1-based line number."""
    lines: dict[Path, int] = {}
    aot: dict[tuple[str, ...], int] = {}  # array-of-tables name path -> count so far
    table: Path = ()
    depth = 0
    in_ml_string: str | None = None
    for no, line in enumerate(text.splitlines(), start=1):
        if in_ml_string:
            if line.count(in_ml_string) % 2 == 1:
                in_ml_string = None
            continue
        if depth > 0:
            depth += _depth(line)
            continue
        m = _HEADER.match(line)
        if m and _KEY.match(line) is None:
            names = _split_key(m.group(2))
            concrete: list[str | int] = []
            named: list[str] = []
            for name in names[:-1]:
                named.append(name)
                concrete.append(name)
                if tuple(named) in aot:
                    concrete.append(aot[tuple(named)] - 1)
            named.append(names[-1])
            concrete.append(names[-1])
            if m.group(1) == "[[":
                k = aot.get(tuple(named), 0)
                aot[tuple(named)] = k + 1
                # a new element resets the counts of arrays nested in the previous one
                for other in [o for o in aot if len(o) > len(named) and o[: len(named)] == tuple(named)]:
                    del aot[other]
                concrete.append(k)
            table = tuple(concrete)
            lines.setdefault(table, no)
            continue
        m = _KEY.match(line)
        if m:
            path = table + tuple(_split_key(m.group(1)))
            lines.setdefault(path, no)
            rest = line[m.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_ml_string = quote
            if in_ml_string is None:
                depth = max(_depth(rest), 0)
    return lines


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """Line of the longest prefix of `path` that the scanner found."""
    for k in range(len(path), 0, -1):
        no = lines.get(tuple(path[:k]))
        if no is not None:
            return no
    return None


def format_path(path: Path) -> str:
    """('minima', 2, 'level', 0, 'h_nm') -> 'minima[2].level[0].h_nm'."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out
