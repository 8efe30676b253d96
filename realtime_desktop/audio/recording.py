"""Conversation recording (off by default): microphone and assistant audio to WAV files.

The DSP thread hands copies of processed blocks to a queue; a writer thread, the only one that
touches files (as in python-sounddevice's rec_gui example), writes them as 16-bit WAV.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import queue
import threading
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio.codecs import float32_to_pcm16

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float32]


@dataclasses.dataclass(frozen=True)
class RecordingFiles:
    microphone: Path
    assistant: Path


class WavRecorder:
    """Two WAV files written by a writer thread; ``close()`` drains the queue and joins it."""

    def __init__(self, directory: Path, sample_rate: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        self.files = RecordingFiles(
            microphone=directory / f"{stamp}-microphone.wav",
            assistant=directory / f"{stamp}-assistant.wav",
        )
        self.sample_rate = sample_rate
        self._queue: queue.SimpleQueue[tuple[str, FloatArray] | None] = queue.SimpleQueue()
        self._writers: dict[str, wave.Wave_write] = {}
        for name, path in (("microphone", self.files.microphone),
                           ("assistant", self.files.assistant)):  # fmt: skip
            writer = wave.open(str(path), "wb")  # noqa: SIM115 - closed by the writer thread
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(sample_rate)
            self._writers[name] = writer
        self.error: OSError | None = None
        self._thread = threading.Thread(target=self._write_loop, name="wav-recorder", daemon=True)
        self._thread.start()

    def add(self, stream: str, samples: FloatArray) -> None:
        """Queue a copy of ``samples`` for ``stream`` ("microphone" or "assistant")."""
        self._queue.put((stream, np.array(samples, dtype=np.float32, copy=True)))

    def _write_loop(self) -> None:
        try:
            while (entry := self._queue.get()) is not None:
                stream, samples = entry
                self._writers[stream].writeframes(float32_to_pcm16(samples).tobytes())
        except OSError as exc:
            self.error = exc
            log.error("recording stopped: %s", exc)
        finally:
            for writer in self._writers.values():
                writer.close()

    def close(self) -> RecordingFiles:
        self._queue.put(None)
        self._thread.join()
        return self.files
