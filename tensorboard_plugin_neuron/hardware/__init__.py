"""Device models of the simulated accelerators (published figures with sources, assumptions marked)."""
from tensorboard_plugin_neuron.hardware.specs import ChipSpec, CoreSpec, DeviceModel, EngineSpec, Figure
from tensorboard_plugin_neuron.hardware.targets import TARGETS, get_target, peak_flops

__all__ = ["ChipSpec", "CoreSpec", "DeviceModel", "EngineSpec", "Figure", "TARGETS", "get_target", "peak_flops"]
