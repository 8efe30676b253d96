"""webrtcvad comes from the ``webrtcvad-wheels`` distribution; replaces the contrib hook.

The pyinstaller-hooks-contrib hook copies the metadata of a distribution called ``webrtcvad``,
which is not installed (the original project has no wheels), so the build stops there. The
module reads its ``__version__`` from ``webrtcvad-wheels``' metadata; its extension module
``_webrtcvad`` is found by the normal analysis.
"""

from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
