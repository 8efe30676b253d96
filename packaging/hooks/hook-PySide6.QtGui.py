"""QtGui with only the Qt plugins a desktop app needs; replaces PyInstaller's own hook.

PyInstaller's hook collects every plugin type associated with QtGui, and the dependency
analysis that follows collects whatever those plugins link to. Dropping a plugin afterwards
(in the spec) would leave its libraries behind, so the plugins are dropped here, before it:

* the embedded-Linux platforms (eglfs, linuxfb, minimal, vnc, vkkhrdisplay) and their
  ``egldeviceintegrations``, and the ``generic`` input plugins they use (evdev, libinput, TUIO);
* the GTK3 platform theme: it links GTK, and PyInstaller would bundle half of the GTK stack
  (cairo, pango, gdk-pixbuf) from the build machine to run against the user's GTK. Qt's own
  Fusion style and the XDG desktop portal theme (native file dialogs) remain;
* the server side of the Wayland integrations, which only compositors load;
* image formats the app never reads (PDF, TIFF, WebP, TGA, WBMP).

Kept: the xcb, wayland and offscreen platforms (Windows and macOS keep theirs), the portal
theme, the input methods (compose and IBus, for typing accents and CJK), the window
decorations and shell integrations for Wayland, and the common image formats.
"""

import os

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

# Matched against the plugin's place in the bundle, e.g. "PySide6/Qt/plugins/platforms/libqvnc.so".
UNUSED_PLUGINS = (
    "/platforms/libqeglfs",
    "/platforms/libqlinuxfb",
    "/platforms/libqminimal",
    "/platforms/libqminimalegl",
    "/platforms/libqvkkhrdisplay",
    "/platforms/libqvnc",
    "/egldeviceintegrations/",
    "/generic/",
    "/platformthemes/libqgtk3",
    "/wayland-graphics-integration-server/",
    "/platforminputcontexts/libqtvirtualkeyboardplugin",  # an on-screen keyboard in QML
    "/imageformats/libqpdf",
    "/imageformats/libqtiff",
    "/imageformats/libqwebp",
    "/imageformats/libqtga",
    "/imageformats/libqwbmp",
)


def _used(source: str, dest: str) -> bool:
    place = "/" + "/".join([*dest.replace(os.sep, "/").split("/"), os.path.basename(source)])
    return not any(f"/plugins{fragment}" in place for fragment in UNUSED_PLUGINS)


hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(source, dest) for source, dest in binaries if _used(source, dest)]
