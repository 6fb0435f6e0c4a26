"""JSON from files, parsed with a nesting limit: a file's text is untrusted, and a deeply nested value
(`[[[[...]]]]`) would otherwise end in a RecursionError in the parser or in a later recursive walk
(sanitizing, serializing), far from the file that caused it.

Invariant: every value returned by `loads_bounded` nests at most `MAX_JSON_DEPTH` arrays/objects deep, so
recursive walks over it stay far below Python's recursion limit.
"""
from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64


def json_depth(value: Any) -> int:
    """How deep arrays and objects nest in a parsed JSON value (a scalar: 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def loads_bounded(text: str | bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads(text)`, refusing (ValueError naming `what`, one line) text that is not JSON or nests
    deeper than `max_depth`. The parser itself stops at Python's recursion limit (RecursionError)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} nests too deep (at most {max_depth} levels allowed)") from None
    except ValueError as exc:
        raise ValueError(f"{what} is not valid JSON: {str(exc).splitlines()[0]}") from None
    depth = json_depth(value)
    if depth > max_depth:
        raise ValueError(f"{what} nests {depth} levels deep (at most {max_depth} allowed)")
    return value


def loads_object(text: str | bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """`loads_bounded` of text that must hold a JSON object ('' reads as {})."""
    if not text:
        return {}
    value = loads_bounded(text, what, max_depth)
    if not isinstance(value, dict):
        raise ValueError(f"{what} is a JSON {type(value).__name__}, expected an object")
    return value
