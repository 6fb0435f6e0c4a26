"""The ground an HTTP fuzz campaign runs on: a logdir with real profiles and hostile neighbours, and a real
`tensorboard` process serving it on 127.0.0.1 with the plugin code of a given source tree."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Iterator

from tensorboard_plugin_neuron.cli import main as neuron_profile
from tensorboard_plugin_neuron.trace.reader import read_trace
from tensorboard_plugin_neuron.trace.writer import serialize_trace

HTML_RUN = "<img src=x onerror=alert(1)>"
ODD_RUNS = ("lr=0.1, bs=32", "\u00e9t\u00e9 \U0001F642", os.fsdecode(b"not-utf8-\xff"))   # names as found on disks
SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent   # the tree whose plugin TensorBoard loads
STARTUP_SECONDS = 90.0


@dataclasses.dataclass(frozen=True)
class FuzzLogdir:
    root: Path
    good_runs: tuple[str, ...]     # valid profiles made by the real runtime: must answer 200 after a campaign
    rewritten: Path                # a valid profile (with a stored overview) rewritten while requests read it
    runs: tuple[str, ...]          # every run name the campaign aims at (good, broken, hostile, outside)


def _profile_of(root: Path, run: str) -> Path:
    return next((root / run / "plugins" / "neuron").glob("*.trace.pb"))


def build_logdir(root: Path) -> FuzzLogdir:
    """Two profiles from the real runtime (`neuron-profile run`), a copy with a stored overview (so whole-profile
    timelines of it are answered from the overview while it loads) that a campaign rewrites, a run of
    broken profiles (truncated, corrupt, empty), runs (and profiles) named with HTML, spaces and '=', non-ASCII
    and non-UTF-8 bytes, symlinks out of the logdir, a symlink loop, and a FIFO, a folder and /dev/zero named like
    profiles."""
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):
        neuron_profile(["run", "mlp", "--logdir", str(root), "--run", "a", "--iterations", "3"])
        neuron_profile(["run", "gpt-tiny", "--logdir", str(root), "--run", "b", "--iterations", "2"])
    good = _profile_of(root, "a")
    data = good.read_bytes()
    with_overview = serialize_trace(read_trace(good), overview_min_events=0)   # as profiles of 1 M events or more
    for run, name, content in (("c", "rewritten", with_overview), ("broken", "truncated", data[: len(data) // 2]),
                               ("broken", "corrupt", _flipped(data)), ("broken", "empty", b""),
                               (HTML_RUN, HTML_RUN, data), *((run, run, data) for run in ODD_RUNS)):
        folder = root / run / "plugins" / "neuron"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.trace.pb").write_bytes(content)
    outside = root.parent / (root.name + "-outside")
    (outside / "plugins" / "neuron").mkdir(parents=True, exist_ok=True)
    shutil.copy(good, outside / "plugins" / "neuron" / "secret.trace.pb")
    shutil.copy(good, outside / "secret.trace.pb")
    os.symlink(outside, root / "escape")                               # a run directory out of the logdir
    (root / "linked" / "plugins").mkdir(parents=True)
    os.symlink(outside / "plugins" / "neuron", root / "linked" / "plugins" / "neuron")
    os.symlink(outside / "secret.trace.pb", good.parent / "secret.trace.pb")   # a profile file out of it
    os.symlink("loop", root / "loop")                                   # a symlink loop
    odd = root / "odd" / "plugins" / "neuron"
    odd.mkdir(parents=True)
    os.mkfifo(odd / "fifo.trace.pb")                                   # opening it would block: never opened
    (odd / "folder.trace.pb").mkdir()
    os.symlink("/dev/zero", odd / "zero.trace.pb")
    return FuzzLogdir(root=root, good_runs=("a", "b", "c", HTML_RUN, *ODD_RUNS[:2]), rewritten=root / "c" / "plugins" / "neuron" / "rewritten.trace.pb",
                      runs=("a", "b", "c", "broken", HTML_RUN, *ODD_RUNS[:2], "escape", "linked", "loop", "odd", "nope"))


def _flipped(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF
    return bytes(damaged)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_tensorboard(logdir: Path, stderr: IO[bytes] | int = subprocess.DEVNULL,
                        source_root: Path = SOURCE_ROOT) -> Iterator[str]:
    """`tensorboard --logdir LOGDIR` on a free loopback port, loading the plugin from `source_root` (put first
    on PYTHONPATH), until the plugin lists itself as enabled; yields the base URL and stops the process."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(source_root), os.environ.get("PYTHONPATH")) if p))
    process = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", str(port),
                                "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                               cwd=str(source_root))   # `python -m` puts the working directory first on sys.path
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _plugin_enabled(base):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tensorboard did not serve the neuron plugin (exit code {process.poll()})")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _plugin_enabled(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/data/plugins_listing", timeout=5) as response:
            return bool(json.loads(response.read()).get("neuron", {}).get("enabled"))
    except OSError:
        return False
