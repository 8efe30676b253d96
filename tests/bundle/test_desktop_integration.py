"""The Linux desktop entry, AppStream metainfo and ``make install-desktop``.

The desktop file's name must be the id the app gives Qt (``setDesktopFileName``), or the desktop
cannot match the running window to its entry and icon; the metainfo must pass ``appstreamcli``;
the installed entry must start the program it names, whatever characters its path holds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from realtime_desktop.resources import APP_ID
from tests.bundle.layout import BUNDLE_EXECUTABLE, ICONS, PACKAGING, REPO

DESKTOP_FILE = PACKAGING / "linux" / f"{APP_ID}.desktop"
METAINFO_FILE = PACKAGING / "linux" / f"{APP_ID}.metainfo.xml"


def parse_desktop_entry(text: str) -> dict[str, str]:
    """The ``[Desktop Entry]`` group's keys, values as written (no unescaping)."""
    lines = text.splitlines()
    assert lines[0] == "[Desktop Entry]"
    entry = {}
    for line in lines[1:]:
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        assert key not in entry, f"duplicate key {key}"
        entry[key] = value
    return entry


def unescape_string(value: str) -> str:
    """The specification's escapes of string values: \\s \\n \\t \\r \\\\."""
    table = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: table.get(m.group(1), m.group(0)), value)


def exec_arguments(value: str) -> list[str]:
    """Splits an ``Exec`` value the way a launcher does (quoting rules of the specification)."""
    command = unescape_string(value)
    arguments: list[str] = []
    current = ""
    quoted = False
    index = 0
    while index < len(command):
        char = command[index]
        if quoted and char == "\\":
            index += 1
            current += command[index]
        elif char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            if current:
                arguments.append(current)
            current = ""
        else:
            current += char
        index += 1
    assert not quoted, f"unbalanced quotes in {value!r}"
    if current:
        arguments.append(current)
    return [argument.replace("%%", "%") for argument in arguments]


def test_file_names_are_the_app_id() -> None:
    assert DESKTOP_FILE.is_file()
    metainfo = ET.parse(METAINFO_FILE).getroot()
    assert metainfo.findtext("id") == APP_ID
    assert metainfo.findtext("launchable[@type='desktop-id']") == f"{APP_ID}.desktop"
    assert parse_desktop_entry(DESKTOP_FILE.read_text())["Icon"] == APP_ID


def test_metainfo_release_is_the_package_version() -> None:
    from realtime_desktop import __version__

    releases = ET.parse(METAINFO_FILE).getroot().findall("releases/release")
    assert releases, "the metainfo lists no release"
    assert releases[0].get("version") == __version__


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream is not installed")
def test_metainfo_passes_appstreamcli() -> None:
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", "--explain", str(METAINFO_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "path",
    [
        "/opt/realtime-desktop/realtime-desktop",
        "/home/ana maría/apps/realtime-desktop",
        '/tmp/we"ird $dir/a\\b/`x`/100%/realtime-desktop',
    ],
)
def test_exec_line_names_the_program(install_desktop: ModuleType, path: str) -> None:
    template = DESKTOP_FILE.read_text()
    entry = parse_desktop_entry(install_desktop.desktop_entry(template, Path(path)))
    assert exec_arguments(entry["Exec"]) == [path]
    assert unescape_string(entry["TryExec"]) == path


def test_install_and_uninstall(install_desktop: ModuleType, tmp_path: Path) -> None:
    program = tmp_path / "my apps" / "realtime-desktop"
    target = tmp_path / "usr" / "share"
    installed = install_desktop.install(target, program)

    entry_file = target / "applications" / f"{APP_ID}.desktop"
    assert entry_file in installed
    entry = parse_desktop_entry(entry_file.read_text())
    assert exec_arguments(entry["Exec"]) == [str(program)]
    hicolor = target / "icons" / "hicolor"
    sizes = sorted(int(p.stem.rsplit("-", 1)[1]) for p in ICONS.glob("realtime-desktop-*.png"))
    assert sizes == [16, 24, 32, 48, 64, 128, 256, 512]
    for size in sizes:
        icon = hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert icon.read_bytes() == (ICONS / f"realtime-desktop-{size}.png").read_bytes()
    assert (hicolor / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (target / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()

    if shutil.which("appstreamcli") is not None:
        # The installed tree as a software centre sees it: metainfo plus the entry it launches.
        tree = subprocess.run(
            ["appstreamcli", "validate-tree", "--no-net", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert tree.returncode == 0, tree.stdout + tree.stderr

    removed = install_desktop.uninstall(target)
    assert sorted(removed) == sorted(installed)
    assert not any(path.exists() for path in installed)


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate is not installed (Debian package desktop-file-utils)",
)
def test_installed_entry_passes_desktop_file_validate(
    install_desktop: ModuleType, tmp_path: Path
) -> None:
    install_desktop.install(tmp_path, tmp_path / "a dir" / "realtime-desktop")
    result = subprocess.run(
        ["desktop-file-validate", str(tmp_path / "applications" / f"{APP_ID}.desktop")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower()


def test_command_line_installs_under_xdg_data_home(tmp_path: Path) -> None:
    """What ``make install-desktop`` runs, with the default program: bundle, else the venv."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "install_desktop.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    entry = parse_desktop_entry((tmp_path / "applications" / f"{APP_ID}.desktop").read_text())
    expected = (
        BUNDLE_EXECUTABLE if BUNDLE_EXECUTABLE.is_file() else REPO / ".venv/bin/realtime-desktop"
    )
    assert exec_arguments(entry["Exec"]) == [str(expected)]
