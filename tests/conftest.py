"""Shared test fixtures: paths to the ONNX light models shipped in the onnx wheel, and small model builders."""
from __future__ import annotations

import os
from pathlib import Path

import onnx
import pytest

LIGHT_DIR = Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "light"


@pytest.fixture(scope="session")
def light_dir() -> Path:
    assert LIGHT_DIR.is_dir(), f"onnx wheel has no light models at {LIGHT_DIR}"
    return LIGHT_DIR
