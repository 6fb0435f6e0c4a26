"""Request parameters, parsed the same way by every route: a parameter given more than once, too long,
holding a NUL, a control character or an unpaired surrogate, or out of its bounds is refused with a 400 and
one line naming it. Numbers must be finite and inside the route's bounds, so nothing downstream sees NaN,
infinities or integers wider than 64 bits."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from werkzeug.datastructures import MultiDict

Args = MultiDict | Mapping[str, str]

MAX_TEXT_CHARS = 4096      # the longest path Linux accepts; no parameter of ours needs more
MAX_NAME_CHARS = 255       # one file name (a profile, a static file segment)
INT64_MAX = 2**63 - 1
NS_LIMIT = float(2**62)    # timestamps are int64 nanoseconds; a window end beyond this is no time at all


class RequestError(Exception):
    """A request the route refuses: its status (4xx) and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _shown(raw: str) -> str:
    """A value quoted in an error line: short, printable, one line."""
    short = raw[:40]
    return "".join(c if c.isprintable() and c.isascii() else "?" for c in short) + ("..." if len(raw) > 40 else "")


def _single(args: Args, name: str) -> str | None:
    values: Sequence[str] = args.getlist(name) if isinstance(args, MultiDict) else (
        [args[name]] if name in args else [])
    if len(values) > 1:
        raise RequestError(400, f"parameter '{name}' is given more than once")
    return values[0] if values else None


def text(args: Args, name: str, default: str | None = None, max_chars: int = MAX_TEXT_CHARS) -> str:
    """A text parameter; missing or empty gives `default`, or a 400 when there is none."""
    raw = _single(args, name)
    if raw is None or raw == "":
        if default is None:
            raise RequestError(400, f"missing parameter '{name}'")
        return default
    if len(raw) > max_chars:
        raise RequestError(400, f"parameter '{name}' is longer than {max_chars} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in raw):
        raise RequestError(400, f"parameter '{name}' holds a control character or an invalid one")
    return raw


def optional_text(args: Args, name: str, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """A text parameter that may be absent (None when missing or empty)."""
    value = text(args, name, "", max_chars)
    return value or None


def choice(args: Args, name: str, choices: Sequence[str], default: str | None = None) -> str:
    """One of `choices`; anything else is a 400 that lists them."""
    value = text(args, name, default, max_chars=64)
    if value not in choices:
        raise RequestError(400, f"parameter '{name}' must be one of: {', '.join(choices)}")
    return value


def integer(args: Args, name: str, low: int, high: int, default: int | None = None) -> int:
    """A whole number in [low, high] (decimal digits, optional sign); missing gives `default` or a 400."""
    raw = text(args, name, "" if default is not None else None, max_chars=64)
    if raw == "":
        return int(default)
    stripped = raw.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits.isascii() or not digits.isdigit():
        raise RequestError(400, f"parameter '{name}' must be a whole number, got '{_shown(raw)}'")
    value = int(stripped)
    if not low <= value <= high:
        raise RequestError(400, f"parameter '{name}' must be between {low} and {high}")
    return value


def number(args: Args, name: str, low: float, high: float, default: float | None = None) -> float:
    """A finite number in [low, high]; missing gives `default` or a 400."""
    raw = text(args, name, "" if default is not None else None, max_chars=64)
    if raw == "":
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise RequestError(400, f"parameter '{name}' must be a number, got '{_shown(raw)}'") from None
    if not math.isfinite(value):
        raise RequestError(400, f"parameter '{name}' must be finite")
    if not low <= value <= high:
        raise RequestError(400, f"parameter '{name}' must be between {low:g} and {high:g}")
    return value
