"""Writing streamed exports: chunks formatted in order by a few threads, optional gzip compressed in
parallel (pigz-style: each chunk deflated on its own, one gzip member), and a writer thread so writing
overlaps formatting (numba, zlib and file writes release the GIL)."""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import os
import queue
import struct
import threading
import zlib
from typing import BinaryIO, Callable, Iterable, Iterator, TypeVar

from isal import isal_zlib

T = TypeVar("T")
WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclasses.dataclass
class ExportStats:
    """Filled in while an export streams: events written (JSON trace events, Perfetto track-event packets
    or CSV rows), bytes written (after compression, when compressed), events of the source trace."""

    events: int = 0
    bytes: int = 0
    source_events: int = 0


GZIP_LEVEL = 1      # fast: the JSON is very repetitive, level 1 already shrinks it about 10x


def in_order(jobs: Iterable[Callable[[], T]], workers: int | None = None, ahead: int = 4) -> Iterator[T]:
    """Results of the jobs, in order, computed by a few threads (numpy releases the GIL in its loops), with
    at most `ahead` results waiting, so memory stays bounded whatever the number of jobs."""
    workers = WORKERS if workers is None else workers
    if workers <= 1:
        for job in jobs:
            yield job()
        return
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="export") as pool:
        pending: collections.deque[concurrent.futures.Future[T]] = collections.deque()
        try:
            for job in jobs:
                pending.append(pool.submit(job))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"   # deflate, no name, mtime 0, fastest, OS unknown


def _deflate(chunk: bytes, level: int) -> bytes:
    # ISA-L's deflate (the `isal` package) writes the same format as zlib several times faster at its
    # fast levels (0-3), which is what a streamed .json.gz export needs.
    compressor = isal_zlib.compressobj(min(level, isal_zlib.ISAL_BEST_COMPRESSION), isal_zlib.DEFLATED, -15)
    return compressor.compress(chunk) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)


def gzip_chunks(chunks: Iterable[bytes], level: int = GZIP_LEVEL) -> Iterator[bytes]:
    """The chunks as one gzip member. Each chunk is deflated on its own, by a few threads, and ends byte-
    aligned (a sync flush), so the pieces concatenate into one valid deflate stream; the CRC runs in order."""
    crc, size = 0, 0

    def jobs() -> Iterator[Callable[[], bytes]]:
        nonlocal crc, size
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            yield functools.partial(_deflate, chunk, level)

    yield _GZIP_HEADER
    for data in in_order(jobs()):
        yield data
    yield zlib.compressobj(level, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)   # an empty final block
    yield struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


def write_chunks(chunks: Iterable[bytes], out: BinaryIO, gzip: bool = False, level: int = GZIP_LEVEL) -> int:
    """Write the chunks to `out` (gzip-compressed if asked) from a second thread; returns bytes written."""
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
    written = 0
    failure: list[BaseException] = []
    if gzip:
        chunks = gzip_chunks(chunks, level)

    def drain() -> None:
        nonlocal written
        try:
            while True:
                chunk = pending.get()
                if chunk is None:
                    return
                out.write(chunk)
                written += len(chunk)
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            while pending.get() is not None:  # keep the producer from blocking
                pass

    worker = threading.Thread(target=drain, name="export-writer", daemon=True)
    worker.start()
    try:
        for chunk in chunks:
            if failure:
                break
            pending.put(chunk)
    finally:
        pending.put(None)
        worker.join()
    if failure:
        raise failure[0]
    return written
