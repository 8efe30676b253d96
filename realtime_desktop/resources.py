"""Where the app's resources (icons, desktop files) are, frozen or from source.

The one place that knows: a PyInstaller bundle unpacks them under ``sys._MEIPASS/resources``;
a source checkout (``make run`` installs it editable) has them in ``resources/`` next to the
package.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP_ID = "io.github.realtime_desktop.RealtimeDesktop"
"""Reverse-DNS id: the .desktop file's name, AppStream id and Qt's desktop file name."""


def resources_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(relative: str) -> Path:
    """An existing resource, e.g. ``resource_path("icons/realtime-desktop.svg")``.

    Raises:
        FileNotFoundError: naming where it was looked for, so a broken bundle says what it lacks.
    """
    path = resources_dir() / relative
    if not path.exists():
        raise FileNotFoundError(f"resource {relative!r} not found at {path}")
    return path
