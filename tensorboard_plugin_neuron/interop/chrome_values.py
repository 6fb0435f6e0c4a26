"""Turning the JSON values of a Chrome trace-event file into what the importer stores, whatever their type.

A trace file is untrusted input: any field may hold any JSON value (a list where a name belongs, an
integer of 400 digits where a timestamp belongs, a lone UTF-16 surrogate inside a string). These helpers
are the only conversions the importer applies to field values, so each kind of value is handled once:
- `clean_text`: any value -> a string that can be written as UTF-8 (lone surrogates become U+FFFD), at
  most MAX_TEXT_CHARS code points; HTML, quotes and control characters stay as they are (the UI draws
  names as text, never as markup);
- `finite_number`: a JSON number -> float, or None for anything else (text, booleans, NaN, infinities,
  integers beyond the float range);
- `decimal_id`: an identifier such as a pid written in ASCII digits -> int, else None;
"""
from __future__ import annotations

import math
import re
from typing import Any

MAX_TEXT_CHARS = 4096        # names beyond this are cut (C++ template kernel names reach ~2,000 characters)
MAX_MESSAGE_CHARS = 600      # an error line quoting the file stays readable
_DECIMAL_ID_DIGITS = 18      # ids with more digits are kept as text (an int64 holds 18 digits)
_SURROGATES = re.compile("[\ud800-\udfff]")
ELLIPSIS = "\u2026"


def clean_text(value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """`value` as text that encodes as UTF-8: strings as they are, None as '', other values by `str`
    (a list name reads '[1, 2]'); lone surrogates -> U+FFFD; longer than `limit` -> cut, ending in '…'."""
    if isinstance(value, str):
        text = value
    elif value is None:
        return ""
    else:
        text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATES.sub("\ufffd", text)
    return text


def finite_number(value: Any) -> float | None:
    """A JSON number as a finite float; None for other types (booleans included), NaN, ±Infinity and
    integers too large for a float."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def describe_value(value: Any) -> str:
    """A bad field value for an error message: short values as they are, long or nested ones by kind."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if type(value) is int:
        return str(value) if abs(value) < 10**15 else f"an integer of {len(str(abs(value)))} digits"
    if type(value) is float:
        return repr(value) if math.isfinite(value) else {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(value)]
    if isinstance(value, str):
        return f"the text {clean_text(value, 40)!r}"
    return "a list" if isinstance(value, list) else "an object"


def decimal_id(text: str) -> int | None:
    """'42' -> 42; anything but up to 18 ASCII digits -> None (so 'cuda:0', '²' or a 5,000-digit id
    stay text)."""
    if 0 < len(text) <= _DECIMAL_ID_DIGITS and text.isascii() and text.isdecimal():
        return int(text)
    return None
