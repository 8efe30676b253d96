"""Resources are found from source and from a PyInstaller bundle's layout."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from realtime_desktop.resources import resource_path, resources_dir


def test_source_checkout_has_the_icons() -> None:
    assert resource_path("icons/realtime-desktop.svg").read_text().startswith("<svg")
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert resource_path(f"icons/realtime-desktop-{size}.png").stat().st_size > 0


def test_frozen_layout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "resources" / "icons").mkdir(parents=True)
    (tmp_path / "resources" / "icons" / "x.svg").write_text("<svg/>")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == tmp_path / "resources"
    assert resource_path("icons/x.svg").read_text() == "<svg/>"
    with pytest.raises(FileNotFoundError, match="not found at"):
        resource_path("icons/missing.svg")
