"""Every GUI refresh interval, in one place (STYLE.md lesson 2; friture's meters drifted apart
because their intervals were defined twice)."""

from typing import Final

FRAME_INTERVAL_MS: Final = 33
"""Waveform and level meters: about 30 frames a second, only while visible."""

LABEL_INTERVAL_MS: Final = 250
"""Text that changes continuously (session clock, stats): four times a second is readable."""

METER_DECAY_DB_PER_S: Final = 24.0
"""How fast a level meter's bar and peak tick fall back (ballistics live in the view)."""

PEAK_HOLD_S: Final = 1.0
