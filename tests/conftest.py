"""Fixtures shared by every test package.

Layer-specific fixtures live in each package's own conftest.py; helpers that several packages
use (speech fixtures, PulseAudio virtual devices) live in tests/support/.
"""

import os

# Qt must never try to reach a display in tests; the Makefile sets this too, but a developer
# running `pytest` by hand should get the same behaviour.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
