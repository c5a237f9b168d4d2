"""Durations in specs: integer seconds or `90s`, `30m`, `2h`, `1d` (and combinations like `1h30m`)."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+)\s*([smhd])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhd]\s*)+$")


def parse_duration(value: object) -> int:
    """Seconds in `value`; raises ValueError with a message naming the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"expected seconds or a duration like 90s, 30m, 2h, 1d (got {value!r})")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"must be at least 1 second (got {value})")
        return value
    if isinstance(value, float) and value.is_integer() and value >= 1:
        return int(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return parse_duration(int(text))
        if _WHOLE.match(text):
            total = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))
            if total < 1:
                raise ValueError(f"must be at least 1 second (got {value!r})")
            return total
    raise ValueError(f"expected seconds or a duration like 90s, 30m, 2h, 1d (got {value!r})")


def format_duration(seconds: int) -> str:
    """The shortest readable form: 3600 -> '1h', 5400 -> '1h30m'."""
    if seconds <= 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)
