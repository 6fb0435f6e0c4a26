"""tensorboard-plugin-neuron: compile, simulate and profile inference on Neuron-style accelerators."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# The public profile API (api.py), imported on first use so that `import tensorboard_plugin_neuron` stays light.
_API = ("load_profile", "export", "export_chrome", "export_perfetto", "export_ops_csv", "export_summary", "export_parquet",
        "ExportStats",
        "import_chrome_trace")


def __getattr__(name: str) -> Any:
    if name in _API:
        from tensorboard_plugin_neuron import api

        return getattr(api, name)
    raise AttributeError(f"module 'tensorboard_plugin_neuron' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_API))
