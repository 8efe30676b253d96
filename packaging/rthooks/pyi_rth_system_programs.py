"""Runs first in the frozen app: give the programs it starts the user's own library path.

On Linux the bootloader prepends the bundle's ``_internal`` folder to ``LD_LIBRARY_PATH`` (and
keeps the user's value in ``LD_LIBRARY_PATH_ORIG``) so the bundled Python finds its libraries.
Every child process inherits that, and the app starts system programs: ``espeak-ng`` for the
offline server's voice, ``pactl``/``pacat``/``parec``/``pulseaudio`` for the self-test's virtual
devices. With the bundle's copies of libstdc++, libdbus or libjack shadowing the system's, those
programs can fail with symbol errors on another distribution. This process no longer needs the
variable: the dynamic loader read it when the process started, and later ``dlopen`` calls
(Qt plugins, PortAudio, livekit) do not look at the changed environment.
"""

import os
import sys


def _restore_library_path() -> None:
    if not sys.platform.startswith("linux"):
        return
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = original


_restore_library_path()
