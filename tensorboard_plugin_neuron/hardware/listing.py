"""`neuron-profile ls`: the simulated devices of a target, in the layout of the vendor's `neuron-ls`."""
from __future__ import annotations

import json

from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.hardware.specs import DeviceModel
from tensorboard_plugin_neuron.hardware.targets import get_target


def connected_devices(device: DeviceModel, chips: int, index: int) -> list[int]:
    """Neighbours of chip `index`: a ring (inf1, inf2) or a 2-D torus (trn1, 4 columns)."""
    if chips == 1:
        return []
    if device.topology == "torus2d" and chips >= 8 and chips % 4 == 0:
        columns, rows = 4, chips // 4
        row, column = divmod(index, columns)
        neighbours = {row * columns + (column + 1) % columns, row * columns + (column - 1) % columns,
                      ((row + 1) % rows) * columns + column, ((row - 1) % rows) * columns + column}
    else:
        neighbours = {(index + 1) % chips, (index - 1) % chips}
    neighbours.discard(index)
    return sorted(neighbours)


def device_rows(target: str, chips: int | None) -> list[dict]:
    device = get_target(target)
    count = device.default_chips if chips is None else chips
    if not 1 <= count <= device.max_chips:
        raise UserError(f"--chips must be between 1 and {device.max_chips} for {target}, got {count}")
    per_chip = device.chip.cores
    rows = []
    for index in range(count):
        first = index * per_chip
        rows.append({
            "neuron_device": index,
            "nc_count": per_chip,
            "neuron_cores": f"{first}-{first + per_chip - 1}",
            "memory_size": device.chip.hbm_bytes,
            "connected_to": connected_devices(device, count, index),
        })
    return rows


def format_ls(target: str, chips: int | None, *, as_json: bool) -> str:
    rows = device_rows(target, chips)
    if as_json:
        return json.dumps(rows, indent=2)
    device = get_target(target)
    header = ["NEURON DEVICE", "NEURON CORES", "NEURON CORE IDS", "NEURON MEMORY", "CONNECTED DEVICES"]
    table = [[str(r["neuron_device"]), str(r["nc_count"]), r["neuron_cores"], f"{r['memory_size'] // 2**30} GB",
              ", ".join(str(c) for c in r["connected_to"])] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    title = f"target: {device.target} ({device.description}), {len(rows)} device(s), simulated"
    return "\n".join([title, rule, line(header), rule, *(line(r) for r in table), rule])
