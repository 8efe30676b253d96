"""Collects PortAudio for sounddevice; replaces the pyinstaller-hooks-contrib hook.

Windows and macOS wheels carry PortAudio in ``_sounddevice_data/portaudio-binaries``, where
sounddevice looks for it when the system has none; it is collected to the same place. On Linux
the wheel has no PortAudio (ENVIRONMENT.md): the system's library (Debian: libportaudio2) is
collected to the top of the bundle under its soname, ``libportaudio.so.2``, where the runtime
hook ``pyi_rth_portaudio`` points sounddevice. Unlike the contrib hook, which only warns, a
build without PortAudio fails here: such a bundle starts but cannot open a microphone.
"""

import pathlib
import sys

from PyInstaller.depend.bindepend import resolve_library_path
from PyInstaller.utils.hooks import get_module_file_attribute, logger

PORTAUDIO_SONAME = "libportaudio.so.2"

binaries: list[tuple[str, str]] = []

_module_dir = pathlib.Path(get_module_file_attribute("sounddevice")).parent
_wheel_data = _module_dir / "_sounddevice_data" / "portaudio-binaries"

if _wheel_data.is_dir():
    binaries += [
        (str(library), str(_wheel_data.relative_to(_module_dir)))
        for library in _wheel_data.glob("libportaudio*.*")
    ]
elif sys.platform.startswith("linux"):
    # The soname's path (a symlink to libportaudio.so.2.0.0): the copy takes the link's name.
    _system_library = resolve_library_path(PORTAUDIO_SONAME)
    if _system_library is not None:
        logger.info("sounddevice: collecting PortAudio from %s", _system_library)
        binaries.append((_system_library, "."))

if not binaries:
    raise SystemExit(
        "hook-sounddevice: PortAudio not found, so the bundle could not open any audio device. "
        "Install it first (Debian: apt-get install libportaudio2)."
    )
