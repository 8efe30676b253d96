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

DEVICE_RESCAN_INTERVAL_MS: Final = 2000
"""Audio devices: PortAudio has no hot-plug notification, so the settings dialog rescans while
its Audio page is visible. Two seconds feels immediate after plugging in a headset, and a
rescan (a PortAudio re-initialisation, off the GUI thread) costs far less than that."""

SEARCH_DEBOUNCE_MS: Final = 300
"""History search: the full-text search (which reads every document) starts once typing
pauses this long; the title filter applies at every keystroke."""

PREVIEW_DEBOUNCE_MS: Final = 120
"""History window: a conversation is opened for the preview once the selection rests this
long, so scrolling through the list with the arrow keys does not read every file."""
