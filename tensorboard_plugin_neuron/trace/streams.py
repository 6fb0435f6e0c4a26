"""Writing streamed exports: optional gzip, and a writer thread so compressing and writing one chunk
overlaps formatting the next (zlib and file writes release the GIL)."""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import os
import queue
import threading
import zlib
from typing import BinaryIO, Callable, Iterable, Iterator, TypeVar

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
_GZIP_WBITS = 31    # zlib with a gzip header and trailer (what gzip/gunzip and browsers read)


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


def gzip_chunks(chunks: Iterable[bytes], level: int = GZIP_LEVEL) -> Iterator[bytes]:
    """The chunks as one gzip stream."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    for chunk in chunks:
        data = compressor.compress(chunk)
        if data:
            yield data
    yield compressor.flush()


def write_chunks(chunks: Iterable[bytes], out: BinaryIO, gzip: bool = False, level: int = GZIP_LEVEL) -> int:
    """Write the chunks to `out` (gzip-compressed if asked) from a second thread; returns bytes written."""
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
    written = 0
    failure: list[BaseException] = []
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS) if gzip else None

    def drain() -> None:
        nonlocal written
        try:
            while True:
                chunk = pending.get()
                if chunk is None:
                    if compressor is not None:
                        tail = compressor.flush()
                        out.write(tail)
                        written += len(tail)
                    return
                data = compressor.compress(chunk) if compressor is not None else chunk
                if data:
                    out.write(data)
                    written += len(data)
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
