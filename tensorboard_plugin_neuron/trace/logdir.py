"""Where profiles live in a logdir (part of the trace format: a profile is `RUN/plugins/neuron/SESSION.trace.pb`,
runs nested at any depth): find them, resolve a (run, profile) request to a file that is certainly inside the
logdir, and the one rule for which profile a run's name alone means (`newest`). Used by the plugin's profile
store and by the Python API alike."""
from __future__ import annotations

import dataclasses
import os
import re
import stat
from typing import Iterable

from tensorboard_plugin_neuron.trace.writer import PLUGIN_NAME, TRACE_SUFFIX

_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\\ud800-\udfff]")   # control characters, backslash, surrogates
MAX_PART_BYTES = 255
MAX_DEPTH = 12


@dataclasses.dataclass(frozen=True)
class ProfileFile:
    run: str          # path of the run directory relative to the logdir, '/'-separated ('.' for the logdir itself)
    profile: str      # session name (file name without .trace.pb)
    path: str
    size: int
    mtime_ns: int


def find_profiles(logdir: str) -> list[ProfileFile]:
    """All profiles under `logdir`, sorted by run then profile; symlinked directories are not followed."""
    root = os.path.realpath(logdir)
    found: list[ProfileFile] = []
    if not os.path.isdir(root):
        return found
    for directory, subdirs, _files in os.walk(root, followlinks=False):
        depth = directory[len(root):].count(os.sep)
        if depth >= MAX_DEPTH:
            subdirs[:] = []
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        if os.path.basename(directory) != PLUGIN_NAME or os.path.basename(os.path.dirname(directory)) != "plugins":
            continue
        run_dir = os.path.dirname(os.path.dirname(directory))
        run = os.path.relpath(run_dir, root).replace(os.sep, "/")
        found.extend(_profiles_in(directory, run))
    return sorted(found, key=lambda p: (p.run, p.profile))


def _profiles_in(directory: str, run: str) -> list[ProfileFile]:
    """The profiles of one plugin directory; files (or the directory) removed while it is listed are left out."""
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.name.endswith(TRACE_SUFFIX) or entry.name.startswith("."):
                    continue
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found.append(ProfileFile(run, entry.name[: -len(TRACE_SUFFIX)], entry.path, info.st_size, info.st_mtime_ns))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    return found


def _plain_part(name: str) -> bool:
    """A single file name: not empty nor hidden (so not '.' nor '..', and no temp file a writer is filling,
    which the listing skips too), no '/', backslash, control character or surrogate."""
    return name != "" and not name.startswith(".") and "/" not in name and not _UNSAFE_CHARS.search(name) \
        and len(name.encode("utf-8")) <= MAX_PART_BYTES


def resolve_profile(logdir: str, run: str, profile: str) -> ProfileFile | None:
    """The profile file for a request, or None. Names are checked part by part (no '..', no absolute
    paths, no empty or hidden parts, backslashes, control characters or surrogates; any other text is a name, as on
    disk: 'lr=0.1, bs=32' or HTML are names like any other), the path must hold no symlink, and its real
    path must stay inside the logdir."""
    parts = run.split("/") if run != "." else []
    if not all(_plain_part(p) for p in parts) or not _plain_part(profile):
        return None
    root = os.path.realpath(logdir)
    path = os.path.join(root, *parts, "plugins", PLUGIN_NAME, profile + TRACE_SUFFIX)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root or real != path:
        return None
    try:
        info = os.stat(real)
    except OSError:     # missing, or removed since the path was resolved
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return ProfileFile(run, profile, real, info.st_size, info.st_mtime_ns)


def newest(profiles: Iterable[ProfileFile]) -> ProfileFile | None:
    """The profile a run's name alone means: the last written (ties: the greatest session name), or None."""
    return max(profiles, key=lambda p: (p.mtime_ns, p.profile), default=None)


def find_profile(logdir: str, run: str, profile: str | None = None) -> ProfileFile | None:
    """The profile `profile` of `run` (checked as `resolve_profile` does), or the run's newest profile when
    `profile` is None or empty; None when there is no such run or profile."""
    if profile:
        return resolve_profile(logdir, run, profile)
    return newest(p for p in find_profiles(logdir) if p.run == run)
