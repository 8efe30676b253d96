"""The frozen app's entry script: the same ``main`` as the ``realtime-desktop`` command.

PyInstaller needs a script file to start from; pyproject's gui-script entry point is not one.
"""

import sys

from realtime_desktop.app import main

if __name__ == "__main__":
    sys.exit(main())
