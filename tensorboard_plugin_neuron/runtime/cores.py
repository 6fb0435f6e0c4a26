"""Which NeuronCores a runtime may use and how they are grouped, as the vendor's runtime reads it from
the environment:

- `NEURON_RT_VISIBLE_CORES`: the cores this process may use, e.g. `0-3`, `1,3` or `2`;
- `NEURON_RT_NUM_CORES`: how many cores to take (the first free ones) when no list is given;
- `NEURONCORE_GROUP_SIZES`: consecutive groups of the visible cores, e.g. `2,4` (cores 0-1, then 2-5)
  or `4x1` (four groups of one core); models are placed on the groups in load order.

Every function raises UserError with the offending value for an invalid or over-subscribed set.
"""
from __future__ import annotations

import re
from typing import Mapping

from tensorboard_plugin_neuron.errors import UserError

VISIBLE_CORES_ENV = "NEURON_RT_VISIBLE_CORES"
NUM_CORES_ENV = "NEURON_RT_NUM_CORES"
GROUP_SIZES_ENV = "NEURONCORE_GROUP_SIZES"


def parse_core_list(text: str, total: int) -> list[int]:
    """'0-3' -> [0, 1, 2, 3]; '1,3' -> [1, 3]; cores must exist (0..total-1) and not repeat."""
    cores: list[int] = []
    for part in text.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise UserError(f"{VISIBLE_CORES_ENV}='{text}': use core numbers and ranges such as 0-3 or 1,3")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise UserError(f"{VISIBLE_CORES_ENV}='{text}': range {first}-{last} is backwards")
        cores.extend(range(first, last + 1))
    missing = [c for c in cores if c >= total]
    if missing:
        raise UserError(f"{VISIBLE_CORES_ENV}='{text}': core {missing[0]} does not exist (this device has cores 0-{total - 1})")
    if len(set(cores)) != len(cores):
        raise UserError(f"{VISIBLE_CORES_ENV}='{text}' names a core twice")
    return cores


def parse_group_sizes(text: str) -> list[int]:
    """'2,4' -> [2, 4]; '4x1' -> [1, 1, 1, 1]; sizes are positive."""
    sizes: list[int] = []
    for part in text.replace(" ", "").split(","):
        match = re.fullmatch(r"(?:(\d+)x)?(\d+)", part)
        if not match:
            raise UserError(f"{GROUP_SIZES_ENV}='{text}': use sizes such as 2,4 or 4x1")
        count, size = int(match.group(1) or 1), int(match.group(2))
        if size < 1 or count < 1:
            raise UserError(f"{GROUP_SIZES_ENV}='{text}': group sizes must be at least 1")
        sizes.extend([size] * count)
    return sizes


def visible_cores(total: int, visible: str | None = None, num_cores: int | None = None) -> list[int]:
    """The cores the runtime may use: an explicit list, else the first `num_cores`, else all."""
    if visible:
        cores = parse_core_list(visible, total)
        if num_cores is not None and num_cores != len(cores):
            raise UserError(f"{NUM_CORES_ENV}={num_cores} disagrees with {VISIBLE_CORES_ENV}='{visible}' "
                            f"({len(cores)} cores); set one of them")
        return cores
    if num_cores is not None:
        if not 1 <= num_cores <= total:
            raise UserError(f"{NUM_CORES_ENV}={num_cores}: this device has {total} cores")
        return list(range(num_cores))
    return list(range(total))


def core_groups(cores: list[int], sizes: list[int]) -> list[list[int]]:
    """Consecutive groups of `cores` with the given sizes; their sum may not exceed the cores."""
    if sum(sizes) > len(cores):
        raise UserError(f"{GROUP_SIZES_ENV}={','.join(map(str, sizes))} needs {sum(sizes)} cores; "
                        f"{len(cores)} are visible ({_ranges(cores)})")
    groups, first = [], 0
    for size in sizes:
        groups.append(cores[first:first + size])
        first += size
    return groups


def settings_from_environment(environ: Mapping[str, str]) -> tuple[str | None, int | None, list[int] | None]:
    """(visible cores text, number of cores, group sizes) from the vendor's environment variables."""
    visible = environ.get(VISIBLE_CORES_ENV, "").strip() or None
    raw_num = environ.get(NUM_CORES_ENV, "").strip()
    try:
        num = int(raw_num) if raw_num else None
    except ValueError:
        raise UserError(f"{NUM_CORES_ENV}='{raw_num}' is not a number") from None
    raw_groups = environ.get(GROUP_SIZES_ENV, "").strip()
    return visible, num, parse_group_sizes(raw_groups) if raw_groups else None


def _ranges(cores: list[int]) -> str:
    return ",".join(str(c) for c in cores) if len(cores) < 4 or cores != list(range(cores[0], cores[-1] + 1)) \
        else f"{cores[0]}-{cores[-1]}"
