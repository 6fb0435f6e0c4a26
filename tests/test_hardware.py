"""Device models: published figures, internal consistency, provenance, and `neuron-profile ls`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.hardware import TARGETS, get_target, peak_flops
from tensorboard_plugin_neuron.hardware.listing import connected_devices, device_rows, format_ls

GIB = 2**30


def test_published_figures() -> None:
    inf2, trn1, inf1 = get_target("inf2"), get_target("trn1"), get_target("inf1")
    assert (inf2.chip.cores, trn1.chip.cores, inf1.chip.cores) == (2, 2, 4)
    assert inf2.chip.hbm_bytes == 32 * GIB and inf1.chip.hbm_bytes == 8 * GIB
    assert inf2.chip.hbm_bytes_per_s == 820e9 and inf1.chip.hbm_bytes_per_s == 50 * GIB
    assert inf2.chip.chip_to_chip_bytes_per_s == 192 * GIB and trn1.chip.chip_to_chip_bytes_per_s == 384 * GIB
    assert inf2.core.sbuf_bytes == 24 * 2**20 == inf2.core.sbuf_partitions * 192 * 1024
    assert inf2.core.psum_bytes == 2 * 2**20 and inf2.core.psum_banks == 8
    assert (inf2.core.systolic_rows, inf2.core.systolic_cols, inf2.core.moving_free_max) == (128, 128, 512)
    assert inf2.max_chips == 12 and trn1.max_chips == 16 and inf1.max_chips == 16


def test_peaks_are_consistent() -> None:
    inf2, inf1 = get_target("inf2"), get_target("inf1")
    # ~92 TFLOPS bf16 and ~23 fp32 per NeuronCore-v2 Tensor engine (published, rounded)
    assert round(peak_flops(inf2, "bf16", 1) / 1e12) == 92
    assert round(peak_flops(inf2, "fp32", 1) / 1e12) == 23
    # two Tensor engines stay within the chip's published 190 TFLOPS
    assert peak_flops(inf2, "bf16", 2) <= inf2.chip.peak_flops["bf16"]
    assert peak_flops(inf1, "bf16", 4) == inf1.chip.peak_flops["bf16"] == 64e12
    # the inf1 array size assumption reproduces the published per-core rate within 3%
    derived = 2 * inf1.core.systolic_rows * inf1.core.systolic_cols * inf1.core.engine("tensor").clock_hz
    assert abs(derived - 16e12) / 16e12 < 0.03


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_figure_has_provenance(target: str) -> None:
    figures = TARGETS[target].figures
    assert len(figures) > 15
    for figure in figures:
        assert figure.source, figure
        if figure.assumption:
            assert figure.source.startswith("assumption"), figure
        else:
            assert "general/" in figure.source or "profiler" in figure.source, figure
    assert any(f.assumption for f in figures)  # unpublished figures are declared, not hidden


def test_unknown_target() -> None:
    with pytest.raises(UserError, match="choose one of: inf1, inf2, trn1"):
        get_target("tpu")


@pytest.mark.parametrize("target, chips, expected", [
    ("inf2", 1, []), ("inf2", 2, [1]), ("inf1", 4, [1, 3]), ("trn1", 16, [1, 3, 4, 12])])
def test_connected_devices(target: str, chips: int, expected: list[int]) -> None:
    assert connected_devices(get_target(target), chips, 0) == expected


def test_ls_table_and_json() -> None:
    rows = device_rows("inf2", 6)
    assert [r["neuron_cores"] for r in rows] == ["0-1", "2-3", "4-5", "6-7", "8-9", "10-11"]
    table = format_ls("inf2", None, as_json=False)
    assert "NEURON CORE IDS" in table and "| 0 " in table and "32 GB" in table
    data = json.loads(format_ls("inf1", 4, as_json=True))
    assert len(data) == 4 and set(data[0]) == {"neuron_device", "nc_count", "neuron_cores", "memory_size", "connected_to"}
    with pytest.raises(UserError, match="between 1 and 12"):
        device_rows("inf2", 13)


def test_ls_cli() -> None:
    ok = subprocess.run([sys.executable, "-m", "tensorboard_plugin_neuron.cli", "ls", "--target", "inf1", "--chips", "4", "--json"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and len(json.loads(ok.stdout)) == 4
    bad = subprocess.run([sys.executable, "-m", "tensorboard_plugin_neuron.cli", "ls", "--target", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "inf2" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
