"""Runs first in the frozen app: make sounddevice load the bundled PortAudio on Linux.

sounddevice looks PortAudio up with ``ctypes.util.find_library("portaudio")``, which on Linux
asks ``ldconfig`` about the *system's* libraries: without the Debian package it finds nothing
and the app cannot open a device, although the bundle carries the library (``hook-sounddevice``
puts it at the top of ``_internal``). Answering that one lookup with the bundled file makes the
bundle work on a machine without PortAudio, and makes the library the bundle was tested with
the one it runs with. Windows and macOS wheels ship PortAudio inside sounddevice's own data
folder, which sounddevice finds by itself.
"""

import ctypes.util
import os
import sys

BUNDLED_PORTAUDIO = "libportaudio.so.2"


def _prefer_bundled_portaudio() -> None:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is None or not sys.platform.startswith("linux"):
        return
    bundled = os.path.join(bundle, BUNDLED_PORTAUDIO)
    if not os.path.isfile(bundled):
        return
    system_find_library = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        if name == "portaudio":
            return bundled
        return system_find_library(name)

    ctypes.util.find_library = find_library


_prefer_bundled_portaudio()
