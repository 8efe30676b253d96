"""How the echo assistant speaks text in an audio response.

With espeak-ng installed, text is spoken by espeak-ng. Without it the server cannot speak, and
says so: the audio part is a short two-note chime (so playback, levels, barge-in and truncation
still have real audio to work on) and the transcript starts with
``[espeak-ng is not installed: a chime stands in for speech]`` before the text the chime stands
for. No audio ever pretends to be speech it is not.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio import espeak
from realtime_desktop.server.config import SpeechChoice

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

TONE_NOTICE: Final = "[espeak-ng is not installed: a chime stands in for speech]"
# espeak-ng is quick, but a pasted essay should not hold a response for minutes.
MAX_SPOKEN_CHARS: Final = 2000
_CHIME_NOTES_HZ: Final = (660.0, 880.0)
_CHIME_NOTE_S: Final = 0.25
_CHIME_GAP_S: Final = 0.05
_CHIME_LEVEL: Final = 0.2


@dataclasses.dataclass(frozen=True)
class Utterance:
    """Audio for a text, and the transcript that honestly describes it."""

    samples: FloatArray
    sample_rate: int
    transcript: str


class Speaker(Protocol):
    name: str

    def speak(self, text: str, sample_rate: int) -> Utterance:
        """Blocking: run it off the event loop."""
        ...


class EspeakSpeaker:
    name = "espeak-ng"

    def speak(self, text: str, sample_rate: int) -> Utterance:
        spoken = text[:MAX_SPOKEN_CHARS]
        try:
            samples = espeak.synthesize(spoken, sample_rate)
        except espeak.EspeakUnavailableError as exc:
            log.warning("espeak-ng failed (%s); answering with the chime instead", exc)
            return ToneSpeaker().speak(text, sample_rate)
        return Utterance(samples=samples, sample_rate=sample_rate, transcript=spoken)


class ToneSpeaker:
    name = "tone"

    def speak(self, text: str, sample_rate: int) -> Utterance:
        return Utterance(
            samples=chime(sample_rate),
            sample_rate=sample_rate,
            transcript=f"{TONE_NOTICE} {text}".strip(),
        )


def chime(sample_rate: int) -> FloatArray:
    """Two soft notes with faded edges (no clicks)."""
    parts: list[FloatArray] = []
    note_len = round(_CHIME_NOTE_S * sample_rate)
    t = np.arange(note_len, dtype=np.float64) / sample_rate
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    for frequency in _CHIME_NOTES_HZ:
        note = _CHIME_LEVEL * fade * np.sin(2 * math.pi * frequency * t)
        parts.append(note.astype(np.float32))
        parts.append(np.zeros(round(_CHIME_GAP_S * sample_rate), dtype=np.float32))
    return np.concatenate(parts)


def choose_speaker(choice: SpeechChoice) -> Speaker:
    """The speaker for ``choice``; ``auto`` falls back to the chime without espeak-ng."""
    if choice == "tone":
        return ToneSpeaker()
    if choice == "espeak":
        if not espeak.espeak_available():
            raise espeak.EspeakUnavailableError(
                "espeak-ng is not installed (Debian: apt-get install espeak-ng)"
            )
        return EspeakSpeaker()
    if espeak.espeak_available():
        return EspeakSpeaker()
    log.warning("espeak-ng is not installed: audio answers to text will be a chime")
    return ToneSpeaker()
