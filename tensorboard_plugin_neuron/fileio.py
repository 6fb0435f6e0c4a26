"""File framing shared by the artifact and trace formats: atomic writes, and a protobuf header with the
file size and a CRC-32 so truncated or damaged files are recognised before their content is trusted.

The header is two fixed-width protobuf fields (1: fixed64 file_size, 2: fixed32 crc32 of the rest), so a
framed file is still one valid protobuf message for stock tools.
"""
from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import zlib
from typing import Any, BinaryIO, Iterator

from google.protobuf.message import DecodeError

from tensorboard_plugin_neuron.protoschema import Field

HEADER_BYTES = 9 + 5
FRAME_FIELDS = (
    Field("file_size", 1, "fixed64", doc="length of the whole file in bytes"),
    Field("crc32", 2, "fixed32", doc="CRC-32 of every byte after the first two fields"),
)


def frame(body: bytes) -> bytes:
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return b"\x09" + struct.pack("<Q", len(body) + HEADER_BYTES) + b"\x15" + struct.pack("<I", crc) + body


def check_frame(data: bytes, what: str, source: str) -> str | None:
    """None if the header is intact, else a one-line reason naming `source`."""
    if len(data) < HEADER_BYTES or data[0] != 0x09 or data[9] != 0x15:
        return f"{source} is not a {what} (no {what} header)" if data else f"{source} is empty, not a {what}"
    size = struct.unpack("<Q", data[1:9])[0]
    if size != len(data):
        return f"{source} is truncated or padded: header says {size} bytes, file has {len(data)}"
    if zlib.crc32(data[HEADER_BYTES:]) & 0xFFFFFFFF != struct.unpack("<I", data[10:14])[0]:
        return f"{source} is corrupt (checksum mismatch)"
    return None


def atomic_write(path: str | os.PathLike[str], data: bytes) -> int:
    """Write `data` to a temp file beside `path`, then rename it over `path`; returns bytes written."""
    with atomic_output(path) as out:
        out.write(data)
    return len(data)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file handle on a temp file beside `path`, renamed over `path` when the block completes
    (and removed if it raises), for writers that stream more than they want to hold in memory."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        os.chmod(temp, 0o644)   # an export for the user to share, not a private temp file
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def parse_framed(data: bytes, message_class: type, what: str, source: str, newest: int) -> tuple[Any, str | None]:
    """Check the frame, parse the message and its `format_version`; returns (message, problem or None)."""
    problem = check_frame(data, what, source)
    if problem:
        return None, problem
    message = message_class()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        return None, f"{source} is corrupt: {exc}"
    if message.format_version > newest:
        return None, (f"{source} has {what} format {message.format_version}, newer than this version reads ({newest}): "
                      "upgrade tensorboard-plugin-neuron")
    if message.format_version < 1:
        return None, f"{source} has no valid {what} format version"
    return message, None
