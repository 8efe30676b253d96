"""The frozen app, built by ``make bundle``: what a user who downloads the bundle runs.

The module's fixture runs ``make bundle`` (a no-op when the bundle is up to date, about a minute
from scratch), then the tests run the bundle's own executable: its self-test on real PulseAudio
devices, its main window offscreen, and its audio without the system's PortAudio. Content checks
guard what the spec leaves out, so a new import cannot quietly drag in Qt WebEngine or the test
tools, and the size budget of the issue (250 MB).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from realtime_desktop import __version__
from tests.bundle.layout import BUNDLE_DIR, BUNDLE_EXECUTABLE, REPO

pytestmark = [pytest.mark.bundle, pytest.mark.slow, pytest.mark.timeout(900)]

BUILD_TIMEOUT_S = 900
SELF_TEST_TIMEOUT_S = 300
RUN_TIMEOUT_S = 60
SIZE_BUDGET_BYTES = 250 * 1024 * 1024
SELF_TEST_CHECKS = ["voice turn", "text turn", "tool call", "barge-in"]
USER_LIBRARY_PATH = "/opt/user-libraries"

# Modules the bundle must not carry (spec: EXCLUDED_MODULES) and ones it must.
FORBIDDEN_MODULES = [
    "openai",
    "hypothesis",
    "pytest",
    "mypy",
    "tkinter",
    "PyInstaller",
    "setuptools",
    "PySide6.QtNetwork",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtWebEngineCore",
    "PySide6.QtMultimedia",
]
REQUIRED_MODULES = [
    "realtime_desktop.app",
    "realtime_desktop.selftest",
    "realtime_desktop.ui",
    "livekit.rtc.resources",
    "keyring.backends.SecretService",
    "keyring.backends.kwallet",
    "keyring.backends.libsecret",
]
REQUIRED_FILES = [
    "_internal/libportaudio.so.2",
    "_internal/livekit/rtc/resources/liblivekit_ffi.so",
    "_internal/resources/icons/realtime-desktop.svg",
    "_internal/resources/icons/realtime-desktop-256.png",
    "_internal/resources/linux/io.github.realtime_desktop.RealtimeDesktop.desktop",
    "_internal/resources/linux/io.github.realtime_desktop.RealtimeDesktop.metainfo.xml",
    "_internal/PySide6/Qt/plugins/platforms/libqxcb.so",
    "_internal/PySide6/Qt/plugins/platforms/libqwayland.so",
    "_internal/PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "_internal/PySide6/Qt/plugins/imageformats/libqsvg.so",
    "_internal/PySide6/Qt/plugins/iconengines/libqsvgicon.so",
]
FORBIDDEN_FILE_PATTERNS = [
    "libasound.so*",  # must come from the user's system, with its plugins
    "libQt6Quick*",
    "libQt6Qml*",
    "libQt6WebEngine*",
    "libQt6Network*",
    "libgtk-3*",
    "libqgtk3*",
    "libqeglfs*",
    "*.qm",  # Qt translations: the app installs no translator
]


def _clean_make_environment() -> dict[str, str]:
    # Under `make test` the outer make's job-server settings would leak into the inner make.
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    }


@pytest.fixture(scope="module")
def bundle() -> Path:
    result = subprocess.run(
        ["make", "bundle"],
        cwd=REPO,
        env=_clean_make_environment(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"make bundle failed:\n{result.stdout[-5000:]}{result.stderr[-5000:]}"
    )
    assert BUNDLE_EXECUTABLE.is_file()
    return BUNDLE_DIR


def _frozen_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


def _run(
    *args: str, env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUNDLE_EXECUTABLE), *args],
        env=env or _frozen_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def espeak_env_log(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with an ``espeak-ng`` that records the library path it was started with, then
    runs the real one; and the log it writes to."""
    real = shutil.which("espeak-ng")
    if real is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "espeak-environment.log"
    wrapper = folder / "espeak-ng"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"${{LD_LIBRARY_PATH-<unset>}}\" >> '{log}'\n"
        f"exec '{real}' \"$@\"\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return folder, log


def test_self_test_passes_on_real_pulseaudio_devices(
    bundle: Path, tmp_path: Path, espeak_env_log: tuple[Path, Path]
) -> None:
    """The acceptance run: ``dist/realtime-desktop/realtime-desktop --self-test --json``.

    It is started with a library path of the user's own, and a wrapped espeak-ng records what
    the programs the app starts get: the user's path, not the bundle's folder
    (rthooks/pyi_rth_system_programs.py).
    """
    wrappers, log = espeak_env_log
    config = tmp_path / "config"
    env = _frozen_env(
        PATH=f"{wrappers}{os.pathsep}{os.environ.get('PATH', '')}",
        LD_LIBRARY_PATH=USER_LIBRARY_PATH,
    )
    result = _run(
        "--self-test", "--json", "--config-dir", str(config), env=env, timeout=SELF_TEST_TIMEOUT_S
    )
    assert result.stdout.startswith("{"), result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["passed"], json.dumps(report, indent=2) + result.stderr[-3000:]
    assert result.returncode == 0
    assert report["audio"] == "pulseaudio-null-sinks", report["audio"]
    assert [check["name"] for check in report["checks"]] == SELF_TEST_CHECKS
    assert json.loads((config / "self-test.json").read_text())["passed"]

    seen = log.read_text().splitlines()
    assert seen, "the frozen app never started espeak-ng"
    assert set(seen) == {USER_LIBRARY_PATH}, seen


def test_version(bundle: Path) -> None:
    result = _run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"realtime-desktop {__version__}"


def test_audio_works_without_the_system_portaudio(bundle: Path) -> None:
    """On a machine without libportaudio2 the bundle's own copy is used.

    A private mount namespace hides the system library and the loader cache that
    ``ctypes.util.find_library`` reads; the source install, run the same way, must then fail,
    which shows the hiding worked.
    """
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    hide = (
        'lib="$(readlink -f "$(/sbin/ldconfig -p | grep -m1 -o "/.*libportaudio.so.2$")")" && '
        'mount --bind /dev/null "$lib" && mount --bind /dev/null /etc/ld.so.cache && exec "$@"'
    )

    def without_system_portaudio(program: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                hide,
                "sh",
                str(program),
                "--list-devices",
            ],
            env=_frozen_env(),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )

    from_source = without_system_portaudio(REPO / ".venv" / "bin" / "realtime-desktop")
    if "PortAudio" not in from_source.stderr:
        pytest.skip(f"cannot hide the system PortAudio here: {from_source.stderr.strip()}")
    assert from_source.returncode != 0

    frozen = without_system_portaudio(BUNDLE_EXECUTABLE)
    assert frozen.returncode == 0, frozen.stderr
    assert "pulse" in frozen.stdout or "default" in frozen.stdout, frozen.stdout


def test_portaudio_is_loaded_from_the_bundle_and_alsa_from_the_system(bundle: Path) -> None:
    result = _run("--list-devices", env=_frozen_env(LD_DEBUG="libs"))
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = [
        line.split("calling init:", 1)[1].strip()
        for line in result.stderr.splitlines()
        if "calling init:" in line
    ]
    portaudio = [path for path in loaded if "libportaudio" in path]
    alsa = [path for path in loaded if "libasound.so" in path]
    assert portaudio == [str(BUNDLE_DIR / "_internal" / "libportaudio.so.2")], portaudio
    assert alsa, "PortAudio did not load ALSA"
    assert not any(path.startswith(str(BUNDLE_DIR)) for path in alsa), alsa


def test_main_window_shows(bundle: Path, tmp_path: Path) -> None:
    """``--exit-after-shown`` offscreen: the frozen GUI starts (Qt plugins, icons, fonts)."""
    if "--exit-after-shown" not in _run("--help").stdout:
        pytest.skip("this build of the app has no main window yet (--exit-after-shown)")
    result = _run("--exit-after-shown", "--config-dir", str(tmp_path / "config"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["window shown"]


def _bundled_modules() -> set[str]:
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(BUNDLE_EXECUTABLE))
    return set(archive.open_embedded_archive("PYZ.pyz").toc)


def test_bundle_holds_what_the_app_needs_and_not_what_it_does_not(bundle: Path) -> None:
    modules = _bundled_modules()
    for module in REQUIRED_MODULES:
        assert module in modules, f"{module} is missing from the bundle"
    for forbidden in FORBIDDEN_MODULES:
        found = sorted(m for m in modules if m == forbidden or m.startswith(forbidden + "."))
        assert not found, f"{forbidden} should be excluded: {found[:5]}"

    for relative in REQUIRED_FILES:
        assert (bundle / relative).is_file(), f"{relative} is missing"
    for pattern in FORBIDDEN_FILE_PATTERNS:
        found = sorted(str(p.relative_to(bundle)) for p in bundle.rglob(pattern))
        assert not found, f"{pattern} should not be bundled: {found[:5]}"

    # keyring finds its backends through entry points in its metadata.
    entry_points = next((bundle / "_internal").glob("keyring-*.dist-info/entry_points.txt"))
    assert "SecretService = keyring.backends.SecretService" in entry_points.read_text()


def test_bundle_fits_the_size_budget(bundle: Path) -> None:
    on_disk = sum(
        path.lstat().st_blocks * 512 for path in bundle.rglob("*") if not path.is_symlink()
    )
    assert on_disk <= SIZE_BUDGET_BYTES, f"{on_disk / 2**20:.0f} MB on disk"
