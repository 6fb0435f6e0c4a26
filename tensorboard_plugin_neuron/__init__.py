"""tensorboard-plugin-neuron: compile, simulate and profile inference on Neuron-style accelerators."""
__version__ = "0.1.0"
