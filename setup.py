"""Package set-up for tensorboard-plugin-neuron."""
from setuptools import find_packages, setup

setup(
    name="tensorboard-plugin-neuron",
    version="0.1.0",
    description="Profiler for deep-learning inference on Neuron-style accelerators, with a TensorBoard plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["tensorboard_plugin_neuron", "tensorboard_plugin_neuron.*"]),
    include_package_data=True,
    package_data={"tensorboard_plugin_neuron": ["*/*.proto"]},
    install_requires=[
        "tensorboard>=2.15",
        "werkzeug>=2.0",
        "protobuf>=4.21",
        "numpy>=1.24",
        "onnx>=1.14",
        "ml_dtypes>=0.3",
        "numba>=0.59",
    ],
    extras_require={
        "torch": ["torch>=2.4"],
        "test": ["pytest>=7", "onnxruntime>=1.16", "onnxscript>=0.7", "playwright>=1.40"],
    },
    entry_points={
        "console_scripts": ["neuron-profile=tensorboard_plugin_neuron.cli:main"],
        "tensorboard_plugins": ["neuron=tensorboard_plugin_neuron.plugin.plugin:NeuronPlugin"],
    },
)
