"""Package set-up for tensorboard-plugin-neuron.

Building the package also builds the web UI: `frontend/` (TypeScript) is bundled by esbuild into
`tensorboard_plugin_neuron/static/index.js` (npm ci + npm run build; needs Node.js and npm).
"""
import os
import shutil
import subprocess

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
FRONTEND = os.path.join(HERE, "frontend")


def build_frontend() -> None:
    if not os.path.isfile(os.path.join(FRONTEND, "package.json")):
        return  # building from an sdist that already carries the bundle
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("building tensorboard-plugin-neuron needs npm (Node.js) for its web UI: apt-get install nodejs npm")
    if not os.path.isdir(os.path.join(FRONTEND, "node_modules")):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True)


class BuildWithFrontend(build_py):
    def run(self) -> None:
        build_frontend()
        super().run()

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
    package_data={"tensorboard_plugin_neuron": ["*/*.proto", "static/*"]},
    cmdclass={"build_py": BuildWithFrontend},
    install_requires=[
        "tensorboard>=2.15",
        "werkzeug>=2.0",
        "protobuf>=4.21",
        "numpy>=1.24",
        "onnx>=1.14",
        "ml_dtypes>=0.3",
        "numba>=0.59",
        "rich>=13",
        "isal>=1.6",
        "duckdb>=1.1",
    ],
    extras_require={
        "torch": ["torch>=2.4"],
        "test": ["pytest>=7", "onnxruntime>=1.16", "onnxscript>=0.7", "playwright>=1.40", "perfetto>=0.59"],
    },
    entry_points={
        "console_scripts": ["neuron-profile=tensorboard_plugin_neuron.cli:main"],
        "tensorboard_plugins": ["neuron=tensorboard_plugin_neuron.plugin.plugin:NeuronPlugin"],
    },
)
