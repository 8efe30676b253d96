"""The ``realtime-desktop`` command."""

import sys


def main() -> int:
    print("realtime-desktop: the desktop app is not built yet (issue #6).", file=sys.stderr)
    return 1
