"""Reading a Chrome trace-event file into its JSON document, within limits on size, inflation and nesting.

The file is untrusted: it may be a gzip bomb (1.5 MB that inflates to 1.5 GiB), JSON nested a million
levels deep, or far larger than memory allows. Each is refused with one line before it costs the memory
or the stack:
- `JsonLimits.max_bytes` (default 2 GiB): the JSON text, whether read as it is or inflated. Parsing
  takes about 5x the text in memory (the ResNet-50 trace: 35 MB of JSON, 170 MB to parse), so the default
  suits a machine with 16 GiB or more; `neuron-profile import --max-json-size` or the
  NEURON_PROFILE_MAX_JSON_SIZE environment variable change it;
- `JsonLimits.max_inflate_ratio` (default 100): a gzip file may inflate to at most that many times its
  own size (real traces: 10-35x, the ResNet-50 one 30x; deflate's ceiling is about 1,000x), or to
  INFLATE_FLOOR_BYTES (64 MiB) whatever its size; inflation is streamed and stops at the cap;
- MAX_JSON_DEPTH (100) levels of arrays and objects, counted on the bytes before parsing (kineto's
  deepest is 6), far below the recursion the parser and `str` of a value would need.
Both JSON forms of the trace-event format are read: an object with a `traceEvents` list, or a bare
array of events, whose closing `]` may be missing (a trace cut off by its writer). Duplicate keys in an
object keep the last value, as JavaScript's `JSON.parse` in the viewers does.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import zlib
from typing import Any

import numpy as np

from tensorboard_plugin_neuron.errors import TraceError

DEFAULT_MAX_JSON_BYTES = 2 * 2**30
DEFAULT_MAX_INFLATE_RATIO = 100
INFLATE_FLOOR_BYTES = 64 * 2**20
MAX_JSON_DEPTH = 100
MAX_JSON_SIZE_ENV = "NEURON_PROFILE_MAX_JSON_SIZE"
GZIP_MAGIC = b"\x1f\x8b"
_READ_CHUNK = 4 * 2**20
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')   # bytes the depth count deletes
_BRACKET_STEP = np.zeros(256, np.int8)
_BRACKET_STEP[list(b"[{")] = 1
_BRACKET_STEP[list(b"]}")] = -1


@dataclasses.dataclass(frozen=True)
class JsonLimits:
    """How much JSON an import may read (see the module docstring)."""

    max_bytes: int = DEFAULT_MAX_JSON_BYTES
    max_inflate_ratio: float = DEFAULT_MAX_INFLATE_RATIO

    def inflate_cap(self, compressed_bytes: int) -> int:
        return int(min(self.max_bytes, max(INFLATE_FLOOR_BYTES, self.max_inflate_ratio * compressed_bytes)))


def parse_size(text: str) -> int:
    """'2G', '512MiB', '1.5g', '100000' -> bytes (binary multiples); a one-line error otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise TraceError(f"{text!r} is not a size: use bytes or a number with K, M, G or T (e.g. 4G)")
    number, unit = float(match.group(1)), match.group(2).lower()
    value = int(number * 1024 ** " kmgt".index(unit or " "))
    if value <= 0:
        raise TraceError(f"{text!r}: the JSON size limit must be positive")
    return value


def read_json_bytes(path: str, limits: JsonLimits) -> bytes | bytearray:
    """The JSON text of the file: inflated when it starts with gzip's magic bytes, else as it is."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(2)
            if head == GZIP_MAGIC:
                return _inflate(handle, head, limits.inflate_cap(size), size, limits, path)
            if size > limits.max_bytes:
                raise TraceError(f"{path} holds {_mib(size)} of JSON, more than the import limit of {_mib(limits.max_bytes)} "
                                 f"(raise it with --max-json-size or {MAX_JSON_SIZE_ENV})")
            data = head + handle.read(limits.max_bytes - len(head) + 1)
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:   # the file grew while being read
        raise TraceError(f"{path} holds more than the import limit of {_mib(limits.max_bytes)} of JSON")
    return data


def _inflate(handle: Any, head: bytes, cap: int, size: int, limits: JsonLimits, path: str) -> bytearray:
    """Streamed gzip inflation of every member of the file, refused as soon as it passes `cap` bytes."""
    out = bytearray()
    decompressor = zlib.decompressobj(wbits=31)
    pending = head
    try:
        while True:
            if not pending:
                pending = handle.read(_READ_CHUNK)
                if not pending:
                    break
            out += decompressor.decompress(pending, cap + 1 - len(out))
            if len(out) > cap:
                raise TraceError(_inflate_refusal(path, size, cap, limits))
            pending = decompressor.unconsumed_tail
            if decompressor.eof:   # a member ended: another may follow (`cat a.gz b.gz`); zero padding is allowed
                pending = decompressor.unused_data.lstrip(b"\x00")
                while not pending:
                    pending = handle.read(_READ_CHUNK)
                    if not pending:
                        return out
                    pending = pending.lstrip(b"\x00")
                if pending[:2] != GZIP_MAGIC[: len(pending)]:
                    raise TraceError(f"{path} has data after the end of its gzip stream (a corrupt gzip file)")
                decompressor = zlib.decompressobj(wbits=31)
    except zlib.error as exc:
        raise TraceError(f"{path} is a truncated or corrupt gzip file ({exc})") from None
    if not decompressor.eof:
        raise TraceError(f"{path} is a truncated or corrupt gzip file (it ends inside its compressed data)")
    return out


def _inflate_refusal(path: str, size: int, cap: int, limits: JsonLimits) -> str:
    if cap >= limits.max_bytes:
        return (f"{path} inflates to more than the import limit of {_mib(limits.max_bytes)} of JSON "
                f"(raise it with --max-json-size or {MAX_JSON_SIZE_ENV})")
    return (f"{path} inflates to more than {cap / max(size, 1):.0f} times its {_mib(size)} "
            f"(more than {_mib(cap)}): refused as a likely gzip bomb (the limit is --max-inflate-ratio, "
            f"default {DEFAULT_MAX_INFLATE_RATIO})")


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB" if size >= 2**20 else f"{size:,} bytes"


def json_depth(data: bytes | bytearray) -> int:
    """The deepest nesting of arrays and objects in JSON text, counted without parsing: escaped
    backslashes and quotes are removed, then only quotes and brackets are kept, two adjacent quotes are
    dropped (an empty string, or the end of one and the start of the next: no bracket between them, and
    the parity of the quotes before every bracket is kept), and a bracket counts when an even number of
    quotes precede it (outside strings). Correct for valid JSON; for invalid JSON any number (the parser
    then refuses the text)."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = np.frombuffer(data.translate(None, _NOT_STRUCTURE).replace(b'""', b""), np.uint8)
    if (kept == ord('"')).any():   # strings with brackets inside: keep the brackets outside them only
        outside = (np.cumsum(kept == ord('"'), dtype=np.uint8) & 1) == 0   # one byte each: parity survives wrapping
        kept = kept[outside]
    return int(np.cumsum(_BRACKET_STEP[kept], dtype=np.int32).max(initial=0))


def parse_chrome_json(data: bytes | bytearray, source: str = "trace") -> Any:
    """The JSON document of a trace's text (UTF-8; UTF-16 and UTF-32 are transcoded first, as `json.loads`
    accepts them); one-line errors for empty, too deeply nested and invalid text."""
    if not data or data.isspace():
        raise TraceError(f"{source} is empty, not a Chrome trace-event file")
    encoding = json.detect_encoding(data)
    if encoding not in ("utf-8", "utf-8-sig"):   # so that the depth count sees one byte per bracket
        try:
            data = bytes(data).decode(encoding).encode("utf-8")
        except UnicodeError:
            raise TraceError(f"{source} is not valid JSON (not UTF-8 text)") from None
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise TraceError(f"{source} nests arrays and objects {depth} levels deep, more than the {MAX_JSON_DEPTH} "
                         "a trace-event file needs: not a trace")
    try:
        return json.loads(data)
    except RecursionError:   # not expected after the depth count: the last resort
        raise TraceError(f"{source} nests arrays and objects too deeply to parse") from None
    except ValueError as exc:   # JSONDecodeError, UnicodeDecodeError, an integer of more than 4,300 digits
        text = bytes(data).rstrip()
        if text[:1] == b"[" and text[-1:] != b"]":   # the array form may omit its closing bracket
            try:
                return json.loads(text.rstrip(b",") + b"]")
            except ValueError:
                pass
        if isinstance(exc, json.JSONDecodeError):
            reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        elif isinstance(exc, UnicodeDecodeError):
            reason = "not UTF-8 text"
        else:
            reason = str(exc).split(";")[0]
        raise TraceError(f"{source} is not valid JSON ({reason})") from None


def trace_events(document: Any, source: str = "trace") -> list[Any]:
    """The event list of a document: its `traceEvents`, or the document itself in the array form."""
    if isinstance(document, list):
        return document
    if not isinstance(document, dict) or "traceEvents" not in document:
        raise TraceError(f"{source} has no 'traceEvents' list: not a Chrome trace-event file")
    if not isinstance(document["traceEvents"], list):
        raise TraceError(f"{source}: 'traceEvents' is not a list")
    return document["traceEvents"]
