"""What the macOS and Windows builds write into the app, checked where it can be: on Linux.

The Info.plist must carry the microphone prompt (macOS kills an app that opens a microphone
without one), the entitlements must allow audio input under the hardened runtime, and the
Windows version resource must be text PyInstaller's own loader accepts and can pack.
"""

from __future__ import annotations

import plistlib
import sys
import types
from pathlib import Path
from types import ModuleType

import pytest

from realtime_desktop import __version__
from realtime_desktop.resources import APP_ID
from tests.bundle.layout import PACKAGING


def test_info_plist_asks_for_the_microphone(platform_info: ModuleType) -> None:
    plist = platform_info.macos_info_plist(APP_ID, __version__)
    parsed = plistlib.loads(plistlib.dumps(plist))
    assert "microphone" in parsed["NSMicrophoneUsageDescription"]
    assert parsed["CFBundleIdentifier"] == APP_ID
    assert parsed["CFBundleShortVersionString"] == __version__


def test_entitlements_allow_audio_input() -> None:
    entitlements = plistlib.loads((PACKAGING / "macos" / "entitlements.plist").read_bytes())
    assert entitlements == {"com.apple.security.device.audio-input": True}


@pytest.mark.parametrize(
    ("version", "numbers"),
    [
        ("0.1.0", (0, 1, 0, 0)),
        ("1.2.3.4", (1, 2, 3, 4)),
        ("2", (2, 0, 0, 0)),
        ("1.2.0rc1", (1, 2, 0, 0)),
        ("1.2.0+local.7", (1, 2, 0, 0)),
    ],
)
def test_version_numbers(platform_info: ModuleType, version: str, numbers: tuple[int, ...]) -> None:
    assert platform_info.version_numbers(version) == numbers


def test_a_version_must_start_with_a_number(platform_info: ModuleType) -> None:
    with pytest.raises(ValueError, match="not a version"):
        platform_info.version_numbers("v1.0")


def test_windows_version_resource_loads_and_packs(
    platform_info: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PyInstaller's versioninfo module imports two Windows-only things at the top, used only
    # to read and write executables; the text loader and the packing are plain Python.
    import PyInstaller.compat

    monkeypatch.setitem(sys.modules, "pefile", types.ModuleType("pefile"))
    monkeypatch.setattr(PyInstaller.compat, "win32api", None, raising=False)
    monkeypatch.delitem(sys.modules, "PyInstaller.utils.win32.versioninfo", raising=False)
    from PyInstaller.utils.win32 import versioninfo

    text_file = tmp_path / "version_info.txt"
    text_file.write_text(platform_info.windows_version_info("1.2.3", "Voice app"), "utf-8")
    info = versioninfo.load_version_info_from_text_file(str(text_file))
    assert info.ffi.fileVersionMS == (1 << 16) | 2
    assert info.ffi.fileVersionLS == 3 << 16
    raw = info.toRaw()
    for text in ("Realtime Desktop", "1.2.3", "Voice app", "realtime-desktop.exe"):
        assert text.encode("utf-16-le") in raw
