"""Where the browser tests (tests/test_ui.py) and the dashboard benchmark (bench/ui.py) find Debian's chromium:
on PATH, the same lookup as .ci/run's `command -v chromium`, which installs the package when it finds none."""
from __future__ import annotations

import shutil


def find_chromium() -> str | None:
    """The chromium executable on PATH (Debian's package puts it at /usr/bin/chromium), or None."""
    return shutil.which("chromium")
