"""Structure-aware mutations of Chrome trace-event documents, and of their bytes.

A case is a seed document, 1-4 document mutations (values, structure) and at most one encoding
mutation, all drawn from one `random.Random`, so (seed, case index) reproduces it. Values JSON cannot
carry through `json.dumps` (integers of 5,000 digits, duplicate keys, float literals of 400 digits) are
`Raw` text spliced into the serialized document.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import random
import re
from typing import Any, Callable

PHASES = list("XBEbeniIC MstfSTFpPNODRvVc()") + ["", "XX", "x", "\u00df", "\u0000"]
EVENT_FIELDS = ["ph", "name", "cat", "pid", "tid", "ts", "dur", "args", "id", "id2", "bind_id", "bp", "s", "tts", "scope"]
ARG_FIELDS = ["bytes", "flops", "request", "src", "dst", "purpose", "Bytes", "Total Allocated", "Device Type", "Device Id",
              "name", "labels", "sort_index", "value", "stream", "External id"]
TOP_FIELDS = ["traceEvents", "deviceProperties", "computeProperties", "baseTimeNanoseconds", "schemaVersion",
              "displayTimeUnit", "otherData"]
BOMB_MEMBER_BYTES = 8 * 2**20     # one gzip member of a bomb inflates to this
_PLACEHOLDER = re.compile(r'"\\u0000raw(\d+)\\u0000"')


@dataclasses.dataclass(frozen=True)
class Raw:
    """JSON text spliced in as it is."""

    text: str


@dataclasses.dataclass
class Case:
    """One fuzz input: the file's bytes and name suffix, what was done to make it, and how many events
    its document holds when the bytes still say exactly that (None when an encoding mutation may have
    changed it); `json_bytes` is the size of the JSON text an import would parse (0 for a bomb)."""

    data: bytes
    suffix: str
    recipe: list[str]
    expected_events: int | None
    json_bytes: int


def deep(depth: int) -> Raw:
    """Arrays nested `depth` levels (as text: `json.dumps` itself would recurse that deep)."""
    return Raw("[" * depth + "]" * depth)


def hostile_value(rng: random.Random) -> Any:
    """A value from the families that broke or could break the importer."""
    family = rng.randrange(6)
    if family == 0:   # integers around every width, and beyond a float
        return rng.choice([0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, -(2**64), 10**20,
                           10**400, -(10**400), Raw("1" * rng.choice([4301, 5000])), Raw("1" + "0" * 400 + ".5"),
                           Raw("1e400"), Raw("-1e400"), Raw("-0")])
    if family == 1:   # floats, the non-finite literals among them
        return rng.choice([float("nan"), float("inf"), float("-inf"), -0.0, 1e308, -1e308, 5e-324, 0.1, 1e15, 9e12, -9e12,
                           1e300, -1e300, 1e306])
    if family == 2:   # text that looks like something else
        return rng.choice(["", "x", "12", "-1", "nan", "Infinity", "1e400", "\ud800", "a\udc00b", "\ud83d", "\x00", "\n\r",
                           "<script>alert(1)</script>", "\"'", "\u00b2", "\u0663", "1" * 5000, "ProfilerStep#" + str(2**64),
                           "ProfilerStep#-1", "ProfilerStep#1", "ProfilerStep#" + "9" * 5000, "GPU 0", "GPU " + "9" * 30,
                           "GPU \u00b2", "[memory]", "kernel", "gpu_memcpy", "Memcpy HtoD", "request", "ac2g", "stream 7",
                           "e", "X", "B", "\u540d\u524d", "\u202e", "\U0001f600", "hbm", "sbuf"])
    if family == 3:   # long text
        return rng.choice(["x" * 100_000, "\u00e9" * 10_000, "\ud800" * 1000, "y" * rng.choice([4095, 4096, 4097])])
    if family == 4:   # containers and literals of the wrong type
        return rng.choice([None, True, False, [], {}, [1], [[]], {"a": 1}, {"name": "x", "id": 0}, [None, "x", 1.5],
                           {"": {"": []}}, list(range(1000))])
    return deep(rng.choice([10, 50, 98, 99, 100, 101, 200, 1000]))


def _events(document: Any) -> list[Any] | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("traceEvents"), list):
        return document["traceEvents"]
    return None


def _an_event(events: list[Any], rng: random.Random) -> dict[str, Any] | None:
    objects = [e for e in events if isinstance(e, dict)]
    return rng.choice(objects) if objects else None


def set_field(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document)
    event = _an_event(events, rng) if events else None
    if event is None:
        return document, "set_field (no event)"
    field = rng.choice(EVENT_FIELDS)
    event[field] = rng.choice(PHASES) if field == "ph" and rng.random() < 0.5 else hostile_value(rng)
    return document, f"set_field {field}"


def set_arg(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document)
    event = _an_event(events, rng) if events else None
    if event is None:
        return document, "set_arg (no event)"
    if not isinstance(event.get("args"), dict):
        event["args"] = {}
    key = rng.choice(ARG_FIELDS + ["\ud800", "x" * 5000])
    event["args"][key] = hostile_value(rng)
    return document, f"set_arg {key[:20]!r}"


def set_field_everywhere(document: Any, rng: random.Random) -> tuple[Any, str]:
    """One field of many events to one hostile value (a column of bad values, not a single cell)."""
    events = _events(document) or []
    field, value = rng.choice(EVENT_FIELDS), hostile_value(rng)
    for event in events:
        if isinstance(event, dict) and rng.random() < 0.5:
            event[field] = value
    return document, f"set_field_everywhere {field}"


def delete_field(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document) or []
    field = rng.choice(EVENT_FIELDS)
    for event in events:
        if isinstance(event, dict) and rng.random() < 0.3:
            event.pop(field, None)
    return document, f"delete_field {field}"


def set_phase(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document) or []
    for event in events:
        if isinstance(event, dict) and rng.random() < 0.2:
            event["ph"] = rng.choice(PHASES)
    return document, "set_phase"


def drop_events(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document)
    if events is not None:
        keep = rng.random()
        events[:] = [e for e in events if rng.random() < keep]
    return document, "drop_events"


def duplicate_events(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document)
    if events:
        events.extend(dict(e) if isinstance(e, dict) else e for e in rng.choices(events, k=rng.randint(1, min(len(events), 200))))
    return document, "duplicate_events"


def multiply_events(document: Any, rng: random.Random) -> tuple[Any, str]:
    """Many events with distinct names (up to ~2,000 events)."""
    events = _events(document)
    if events:
        copies = max(1, 2000 // max(len(events), 1))
        events.extend({**e, "name": f"{e.get('name')}#{i}"} if isinstance(e, dict) else e
                      for i, e in enumerate(events * copies))
    return document, "multiply_events"


def spread_threads(document: Any, rng: random.Random) -> tuple[Any, str]:
    """A thread (or process) of its own for every event: as many tracks as events."""
    events = _events(document) or []
    field = rng.choice(["tid", "pid"])
    for i, event in enumerate(events):
        if isinstance(event, dict):
            event[field] = rng.choice([i, f"thread {i}", -i, i * 2**40])
    return document, f"spread_threads {field}"


def shuffle_events(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document)
    if events:
        rng.shuffle(events)
    return document, "shuffle_events"


def unmatch(document: Any, rng: random.Random) -> tuple[Any, str]:
    """Remove every event of one closing (or opening) phase, or swap B and E."""
    events = _events(document) or []
    phase = rng.choice(["E", "B", "e", "b", "f", "s", "swap"])
    if phase == "swap":
        for event in events:
            if isinstance(event, dict) and event.get("ph") in ("B", "E"):
                event["ph"] = "E" if event["ph"] == "B" else "B"
    else:
        events[:] = [e for e in events if not (isinstance(e, dict) and e.get("ph") == phase)]
    return document, f"unmatch {phase}"


def replace_event(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document)
    if events:
        events[rng.randrange(len(events))] = hostile_value(rng)
    return document, "replace_event"


def duplicate_key(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document)
    event = _an_event(events, rng) if events else None
    if event is None:
        return document, "duplicate_key (no event)"
    field = rng.choice(EVENT_FIELDS)
    text = serialize(event)
    extra = f'"{field}": {serialize(hostile_value(rng))}'
    events[events.index(event)] = Raw(text[:-1] + (", " if len(text) > 2 else "") + extra + "}")
    return document, f"duplicate_key {field}"


def shift_times(document: Any, rng: random.Random) -> tuple[Any, str]:
    events = _events(document) or []
    offset, scale = rng.choice([1e15, -1e15, 1e300, 9e12, 0.0]), rng.choice([1.0, 0.0, -1.0, 1e-9, 1e9])
    for event in events:
        if isinstance(event, dict) and _is_float(event.get("ts")):
            event["ts"] = float(event["ts"]) * scale + offset
            if _is_float(event.get("dur")):
                event["dur"] = abs(float(event["dur"]) * scale)
    return document, f"shift_times {offset:g} x{scale:g}"


def _is_float(value: Any) -> bool:
    """A number that converts to a float (an earlier mutation may have left 10**400 there)."""
    return type(value) is float or (type(value) is int and abs(value) < 2**1000)


def set_top(document: Any, rng: random.Random) -> tuple[Any, str]:
    choice = rng.randrange(5)
    if choice == 0 and isinstance(document, dict):
        key = rng.choice(TOP_FIELDS)
        document[key] = hostile_value(rng)
        return document, f"set_top {key}"
    if choice == 1:
        events = _events(document)
        return (events if events is not None else document), "array_form"
    if choice == 2:
        return {"traceEvents": document} if isinstance(document, list) else document, "object_form"
    if choice == 3:
        events = _events(document) or []
        return {"traceEvents": events, "deviceProperties": [{"id": 0, "name": hostile_value(rng)}, hostile_value(rng)]}, \
            "device_properties"
    return hostile_value(rng), "document_replaced"


DOCUMENT_MUTATIONS: list[Callable[[Any, random.Random], tuple[Any, str]]] = [
    set_field, set_field, set_field, set_arg, set_arg, set_field_everywhere, delete_field, set_phase, drop_events,
    duplicate_events, multiply_events, spread_threads, shuffle_events, unmatch, replace_event, duplicate_key, shift_times, set_top]


def serialize(document: Any) -> str:
    """JSON text of the document, `Raw` values spliced in; NaN and Infinity as their literals."""
    raws: list[str] = []

    def placeholder(value: Any) -> str:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"\u0000raw{len(raws) - 1}\u0000"
        raise TypeError(type(value).__name__)

    text = json.dumps(document, default=placeholder)
    return _PLACEHOLDER.sub(lambda m: raws[int(m.group(1))], text) if raws else text


def gzip_bomb(prefix: bytes, total_bytes: int) -> bytes:
    """A gzip file whose first member is `prefix` and whose later members inflate to `total_bytes` of spaces."""
    return gzip.compress(prefix, 1, mtime=0) + _bomb_member() * max(1, total_bytes // BOMB_MEMBER_BYTES)


@functools.lru_cache(maxsize=1)
def _bomb_member() -> bytes:
    """One gzip member of BOMB_MEMBER_BYTES spaces (8 KiB; made once, it takes 30 ms)."""
    return gzip.compress(b" " * BOMB_MEMBER_BYTES, 9, mtime=0)


def encode(text: str, rng: random.Random, cap: int) -> tuple[bytes, str, str, bool, int]:
    """(bytes, file suffix, what was done, whether the bytes still hold the same document, JSON bytes
    to parse) for at most one encoding mutation of the text (none in half the cases). `cap` is the JSON
    size limit of the campaign: bombs inflate past it."""
    data = text.encode("utf-8", "surrogatepass")
    choice = rng.randrange(24)
    if choice >= 12:
        return data, ".json", "plain", True, len(data)
    if choice == 0:
        return gzip.compress(data, 1, mtime=0), ".json.gz", "gzip", True, len(data)
    if choice == 1:
        half = len(data) // 2
        return gzip.compress(data[:half], 1, mtime=0) + b"\0" * rng.randint(0, 8) + gzip.compress(data[half:], 1, mtime=0), ".json.gz", \
            "gzip two members", True, len(data)
    if choice == 2:
        packed = gzip.compress(data, 1, mtime=0)
        return packed[: rng.randrange(1, len(packed))], ".json.gz", "gzip truncated", False, len(data)
    if choice == 3:
        return gzip.compress(data, 1, mtime=0) + rng.choice([b"junk", b"\x1f", b"\x1f\x8b\x08"]), ".json.gz", "gzip trailing bytes", False, len(data)
    if choice == 4:
        return gzip_bomb(data[: len(data) // 2], cap + BOMB_MEMBER_BYTES), ".json.gz", "gzip bomb", False, 0
    if choice == 5:
        return b"\xef\xbb\xbf" + data, ".json", "byte order mark", True, len(data) + 3
    if choice == 6:
        return text.encode("utf-16", "surrogatepass"), ".json", "utf-16", True, len(data)
    if choice == 7:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]) + data[at:], ".json", \
            "invalid utf-8", False, len(data)
    if choice == 8:
        return data[: rng.randrange(len(data) + 1)], ".json", "truncated", False, len(data)
    if choice == 9:
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            if flipped:
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        return bytes(flipped), ".json", "bytes flipped", False, len(data)
    if choice == 10:
        return rng.choice([b"", b"   \n", b"\0\0\0\0", b"null", b"[", b"{", b"[]", b"{}", b'{"traceEvents": []}']), ".json", \
            "replaced by a tiny file", False, 8
    trimmed = data.rstrip()
    return (trimmed[:-1] if trimmed.endswith(b"]") else trimmed) + rng.choice([b"", b",", b",\n"]), ".json", \
        "closing bracket removed", False, len(data)


def make_case(seeds: list[tuple[str, str]], seed: int, index: int, cap: int) -> Case:
    """Case `index` of campaign `seed` from the seeds' (name, JSON text): the same arguments always give
    the same bytes."""
    rng = random.Random(f"chrome-mutants:{seed}:{index}")
    name, text = rng.choice(seeds)
    document = json.loads(text)
    recipe = [f"seed {name}"]
    for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
        document, step = rng.choice(DOCUMENT_MUTATIONS)(document, rng)
        recipe.append(step)
    text = serialize(document)
    data, suffix, encoding, same, json_bytes = encode(text, rng, cap)
    recipe.append(encoding)
    events = _events(document)
    expected = len(events) if same and events is not None else None
    return Case(data, suffix, recipe, expected, json_bytes)
