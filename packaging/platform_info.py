"""What the macOS and Windows builds write into the app, kept out of the spec so it is tested.

Neither build can run on the project's Linux machines; ``tests/bundle/test_platform_info.py``
checks that the Info.plist serialises with the microphone prompt in it and that the Windows
version resource is text PyInstaller can load and pack.
"""

from __future__ import annotations

import re
from typing import Any

DISPLAY_NAME = "Realtime Desktop"
EXECUTABLE_NAME = "realtime-desktop"
COPYRIGHT = "© realtime-desktop developers, Apache License 2.0"

MICROPHONE_USAGE = (
    "Realtime Desktop listens to your microphone while a conversation is running and sends "
    "what you say to the voice model you chose, or to its built-in offline echo test."
)
"""macOS shows this in the permission prompt; without the key it kills the app the moment it
opens a microphone."""

MACOS_MINIMUM = "13.0"
"""The oldest macOS that Qt 6.10 and 6.11 support (doc.qt.io, "Qt for macOS")."""


def version_numbers(version: str) -> tuple[int, int, int, int]:
    """``"0.1.0"`` -> ``(0, 1, 0, 0)``; a pre-release or local suffix is dropped
    (``"1.2.0rc1"`` -> ``(1, 2, 0, 0)``).

    Raises:
        ValueError: if the version does not start with a number.
    """
    release = re.match(r"\d+(?:\.\d+){0,3}", version)
    if release is None:
        raise ValueError(f"not a version: {version!r}")
    numbers = [int(part) for part in release.group().split(".")] + [0, 0, 0]
    return numbers[0], numbers[1], numbers[2], numbers[3]


def macos_info_plist(app_id: str, version: str) -> dict[str, Any]:
    """The Info.plist entries the ``.app`` bundle adds to PyInstaller's defaults."""
    short_version = ".".join(str(n) for n in version_numbers(version)[:3])
    return {
        "CFBundleName": DISPLAY_NAME,
        "CFBundleDisplayName": DISPLAY_NAME,
        "CFBundleIdentifier": app_id,
        "CFBundleShortVersionString": short_version,
        "CFBundleVersion": short_version,
        "NSHumanReadableCopyright": COPYRIGHT,
        "NSMicrophoneUsageDescription": MICROPHONE_USAGE,
        "NSHighResolutionCapable": True,
        # Follow the system's dark mode instead of forcing the light appearance.
        "NSRequiresAquaSystemAppearance": False,
        "LSMinimumSystemVersion": MACOS_MINIMUM,
        "LSApplicationCategoryType": "public.app-category.productivity",
    }


def _quoted(text: str) -> str:
    return repr(str(text))


def windows_version_info(version: str, description: str) -> str:
    """The version resource in the text form PyInstaller's ``EXE(version=...)`` loads.

    It is the ``repr``-like syntax of ``PyInstaller.utils.win32.versioninfo`` (PyInstaller
    ``eval``s it on Windows), so Explorer's Properties and the Task Manager show the app's name,
    description and version instead of the bootloader's blanks.
    """
    numbers = version_numbers(version)
    strings = {
        "CompanyName": "realtime-desktop developers",
        "FileDescription": description,
        "FileVersion": version,
        "InternalName": EXECUTABLE_NAME,
        "LegalCopyright": COPYRIGHT,
        "OriginalFilename": f"{EXECUTABLE_NAME}.exe",
        "ProductName": DISPLAY_NAME,
        "ProductVersion": version,
    }
    table = ",\n          ".join(
        f"StringStruct({_quoted(key)}, {_quoted(value)})" for key, value in strings.items()
    )
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={numbers},
    prodvers={numbers},
    mask=0x3F,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0),
  ),
  kids=[
    StringFileInfo([
      StringTable(
        '040904B0',
        [
          {table},
        ],
      ),
    ]),
    VarFileInfo([VarStruct('Translation', [0x0409, 1200])]),
  ],
)
"""
