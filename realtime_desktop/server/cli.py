"""The ``realtime-desktop-server`` command."""

import sys


def main() -> int:
    print("realtime-desktop-server: not built yet (issue #4).", file=sys.stderr)
    return 1
