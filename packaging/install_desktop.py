"""``make install-desktop``: put Realtime Desktop in the current user's application menu.

Installs, under ``$XDG_DATA_HOME`` (normally ``~/.local/share``):

* ``applications/<APP_ID>.desktop`` with ``Exec=`` set to the bundle
  (``dist/realtime-desktop/realtime-desktop``) when it is built, else to the virtual
  environment's ``realtime-desktop``. Its name is the id the app gives Qt
  (``setDesktopFileName``), so desktops match the running window to this entry and its icon.
* ``icons/hicolor/<N>x<N>/apps/<APP_ID>.png`` for every PNG size and ``scalable/apps`` for the
  SVG;
* ``metainfo/<APP_ID>.metainfo.xml``, the AppStream description software centres show.

then refreshes the desktop and icon caches when their tools are installed, and checks the
installed entry with ``desktop-file-validate`` when that is installed. ``--uninstall`` removes
the same files. Only the standard library is used, so it runs with any Python 3.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINUX_DIR = Path(__file__).resolve().parent / "linux"
ICONS_DIR = REPO / "resources" / "icons"
BUNDLE_EXECUTABLE = REPO / "dist" / "realtime-desktop" / "realtime-desktop"
VENV_EXECUTABLE = REPO / ".venv" / "bin" / "realtime-desktop"

# The Desktop Entry Specification's reserved characters: an Exec argument holding one must be
# double-quoted, and inside the quotes these four take a backslash.
_EXEC_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")
_EXEC_ESCAPED_IN_QUOTES = re.compile(r"""(["`$\\])""")
_ICON_SIZE = re.compile(r"realtime-desktop-(\d+)\.png$")


def app_id() -> str:
    """The id shared by the .desktop file, the metainfo and the app (``resources.APP_ID``)."""
    sys.path.insert(0, str(REPO))
    try:
        from realtime_desktop.resources import APP_ID
    finally:
        sys.path.remove(str(REPO))
    return APP_ID


def data_home() -> Path:
    configured = os.environ.get("XDG_DATA_HOME", "")
    # The Base Directory Specification ignores a relative value.
    if configured and Path(configured).is_absolute():
        return Path(configured)
    return Path.home() / ".local" / "share"


def default_executable() -> Path:
    """The bundle if it is built, else the virtual environment's command.

    Raises:
        FileNotFoundError: when neither exists.
    """
    for candidate in (BUNDLE_EXECUTABLE, VENV_EXECUTABLE):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        f"neither {BUNDLE_EXECUTABLE} nor {VENV_EXECUTABLE} exists: "
        "run `make bundle` or `make run` first"
    )


def escape_string_value(value: str) -> str:
    """A desktop-entry ``string`` value: backslash, then the control characters, escaped."""
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def exec_argument(argument: str) -> str:
    """One argument of an ``Exec=`` command line, quoted when it must be.

    The result is then a string value like any other, so the backslashes the quoting adds
    are escaped once more (the specification's own example: a literal backslash in an
    argument is written as four).
    """
    if _EXEC_RESERVED.search(argument) or not argument:
        argument = '"' + _EXEC_ESCAPED_IN_QUOTES.sub(r"\\\1", argument) + '"'
    return escape_string_value(argument.replace("%", "%%"))


def desktop_entry(template: str, executable: Path) -> str:
    """The template with ``Exec`` and ``TryExec`` pointing at ``executable``."""
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            lines.append("Exec=" + exec_argument(str(executable)))
        elif line.startswith("TryExec="):
            lines.append("TryExec=" + escape_string_value(str(executable)))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class InstallPlan:
    """Every file to write: destination -> content (text) or source (copied)."""

    texts: dict[Path, str]
    copies: dict[Path, Path]

    @property
    def destinations(self) -> list[Path]:
        return sorted([*self.texts, *self.copies])


def plan(target: Path, executable: Path) -> InstallPlan:
    ident = app_id()
    template = (LINUX_DIR / f"{ident}.desktop").read_text(encoding="utf-8")
    texts = {target / "applications" / f"{ident}.desktop": desktop_entry(template, executable)}
    copies = {
        target / "metainfo" / f"{ident}.metainfo.xml": LINUX_DIR / f"{ident}.metainfo.xml",
        target / "icons" / "hicolor" / "scalable" / "apps" / f"{ident}.svg": (
            ICONS_DIR / "realtime-desktop.svg"
        ),
    }
    for png in sorted(ICONS_DIR.glob("realtime-desktop-*.png")):
        size = _ICON_SIZE.search(png.name)
        if size is not None:
            folder = f"{size.group(1)}x{size.group(1)}"
            copies[target / "icons" / "hicolor" / folder / "apps" / f"{ident}.png"] = png
    return InstallPlan(texts, copies)


def _run_if_installed(
    command: list[str], *, check: bool
) -> subprocess.CompletedProcess[str] | None:
    if shutil.which(command[0]) is None:
        return None
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result


def refresh_caches(target: Path) -> None:
    """Tell the menu and the icon theme about the change (both tools are optional)."""
    _run_if_installed(["update-desktop-database", "-q", str(target / "applications")], check=False)
    _run_if_installed(
        ["gtk-update-icon-cache", "-q", "-f", "-t", str(target / "icons" / "hicolor")],
        check=False,
    )


def install(target: Path, executable: Path) -> list[Path]:
    """Writes every file of the plan; returns their paths.

    Raises:
        RuntimeError: ``desktop-file-validate`` (when installed) rejects the entry.
    """
    files = plan(target, executable)
    for destination, text in files.texts.items():
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
    for destination, source in files.copies.items():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    desktop_file = next(iter(files.texts))
    _run_if_installed(["desktop-file-validate", str(desktop_file)], check=True)
    refresh_caches(target)
    return files.destinations


def uninstall(target: Path) -> list[Path]:
    """Removes what :func:`install` writes; returns the paths that were there."""
    removed = []
    for destination in plan(target, Path("realtime-desktop")).destinations:
        if destination.exists():
            destination.unlink()
            removed.append(destination)
    refresh_caches(target)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--exec",
        dest="executable",
        type=Path,
        help="the program the menu entry starts (default: the bundle, else the venv's command)",
    )
    parser.add_argument(
        "--data-home", type=Path, help="install under DIR instead of $XDG_DATA_HOME"
    )
    parser.add_argument("--uninstall", action="store_true", help="remove the installed files")
    args = parser.parse_args(argv)
    target = args.data_home or data_home()
    if args.uninstall:
        for path in uninstall(target):
            print(f"removed {path}")
        return 0
    try:
        executable = (args.executable or default_executable()).absolute()
        paths = install(target, executable)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"install-desktop: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"installed {path}")
    print(f"The menu entry starts {executable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
