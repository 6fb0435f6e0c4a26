"""Shared test fixtures: paths to the ONNX light models shipped in the onnx wheel, and small model builders.

Under CI (`CI=true`, as .ci/run runs) a skipped test fails the run: a suite that goes green by skipping (no
browser, no shared data, a missing extra) proves nothing. Skips are always listed with their reasons (-rs)."""
from __future__ import annotations

import os
from pathlib import Path

import onnx
import pytest

LIGHT_DIR = Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "light"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def pytest_configure(config: pytest.Config) -> None:
    if "s" not in config.option.reportchars and "a" not in config.option.reportchars.lower():
        config.option.reportchars += "s"   # report every skip with its reason


def _skips(config: pytest.Config) -> list:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return list(reporter.stats.get("skipped", [])) if reporter is not None else []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _in_ci() and session.exitstatus == pytest.ExitCode.OK and _skips(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skips = _skips(config)
    if _in_ci() and skips:
        terminalreporter.section("skipped tests fail the run under CI=true", sep="=", red=True, bold=True)
        for report in skips:
            terminalreporter.line(f"{report.nodeid}: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr}")


@pytest.fixture(scope="session")
def light_dir() -> Path:
    assert LIGHT_DIR.is_dir(), f"onnx wheel has no light models at {LIGHT_DIR}"
    return LIGHT_DIR
