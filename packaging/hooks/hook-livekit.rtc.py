"""livekit's WebRTC audio processing (the noise suppressor) lives in a native library.

``livekit.rtc._ffi_client`` opens ``liblivekit_ffi.so`` (``.dylib``, ``.dll``) through
``importlib.resources.files("livekit.rtc.resources")``: the library must keep its place inside
the package, and the ``resources`` package, named only in that string, must be collected.
"""

from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("livekit.rtc")
hiddenimports = ["livekit.rtc.resources"]
