"""How an offline server is set up: address, token, dialect, session limit, pacing and faults.

Every knob has one home here; the CLI (``realtime-desktop-server --help``) and the Python API
(:class:`ServerConfig`) are two spellings of the same dataclasses.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Final, Literal

log = logging.getLogger(__name__)

DialectChoice = Literal["auto", "ga", "beta"]
DIALECT_CHOICES: Final[tuple[DialectChoice, ...]] = ("auto", "ga", "beta")

SpeechChoice = Literal["auto", "espeak", "tone"]
SPEECH_CHOICES: Final[tuple[SpeechChoice, ...]] = ("auto", "espeak", "tone")

DEFAULT_HOST: Final = "127.0.0.1"
# The real service cuts every session after 60 minutes (PROTOCOL.md §1.4).
DEFAULT_SESSION_LIMIT_S: Final = 60 * 60.0

# The real service produces audio well ahead of playback (PROTOCOL.md §1.5); four times real
# time in 100 ms deltas keeps a client's jitter buffer fed without sending a whole answer at once.
DEFAULT_REALTIME_FACTOR: Final = 4.0
DEFAULT_CHUNK_MS: Final = 100
# "slow" is slower than real time on purpose: a client must survive playback underruns.
SLOW_REALTIME_FACTOR: Final = 0.5


@dataclasses.dataclass(frozen=True)
class DeltaPacing:
    """How fast response deltas leave the server.

    ``realtime_factor`` is how many seconds of audio are sent per second of wall time
    (``math.inf``: as fast as the socket takes them); ``chunk_ms`` is the audio in one delta.
    Text deltas are paced as if each were a fifth of an audio chunk.
    """

    realtime_factor: float = DEFAULT_REALTIME_FACTOR
    chunk_ms: int = DEFAULT_CHUNK_MS

    def __post_init__(self) -> None:
        if not self.realtime_factor > 0:
            raise ValueError(f"realtime_factor must be > 0, not {self.realtime_factor}")
        if self.chunk_ms < 10:
            raise ValueError(f"chunk_ms must be at least 10, not {self.chunk_ms}")

    @classmethod
    def fast(cls) -> DeltaPacing:
        return cls(realtime_factor=math.inf)

    @classmethod
    def normal(cls) -> DeltaPacing:
        return cls()

    @classmethod
    def slow(cls) -> DeltaPacing:
        return cls(realtime_factor=SLOW_REALTIME_FACTOR)

    @classmethod
    def parse(cls, text: str) -> DeltaPacing:
        """``fast``, ``normal``, ``slow`` or a real-time factor such as ``2.5``."""
        presets = {"fast": cls.fast, "normal": cls.normal, "slow": cls.slow}
        if text in presets:
            return presets[text]()
        try:
            return cls(realtime_factor=float(text))
        except ValueError:
            raise ValueError(
                f"pace must be fast, normal, slow or a positive number, not {text!r}"
            ) from None

    def audio_pause_s(self, audio_ms: float) -> float:
        """Wall time to wait after sending ``audio_ms`` of audio."""
        return audio_ms / 1000.0 / self.realtime_factor

    def text_pause_s(self) -> float:
        return self.audio_pause_s(self.chunk_ms / 5)


@dataclasses.dataclass(frozen=True)
class Faults:
    """Misbehaviour on purpose, for testing clients. Counts are server events sent on one
    connection (``session.created`` is event 1); every fault applies to every connection.

    Attributes:
        drop_after_events: abort the TCP connection (no close frame: the client sees 1006)
            right after this many events.
        drop_within_s: abort the connection at a random moment within this many seconds of
            the handshake (``seed`` makes the moment reproducible).
        frame_delay_ms: hold every outgoing frame this long before sending it.
        malformed_frame_after_events: after this many events, send one text frame that is not
            JSON.
        unknown_event_after_events: after this many events, send one event of a type no client
            knows (``offline.unknown_event``).
        huge_event_after_events: after this many events, send one ``session.updated`` of about
            5 MiB (the real config plus a padding field), past websockets' 1 MiB default limit.
        reject_auth: answer every handshake with ``invalid_api_key`` and close 4000.
        seed: seed of the random drop moment.
    """

    drop_after_events: int | None = None
    drop_within_s: float | None = None
    frame_delay_ms: float = 0.0
    malformed_frame_after_events: int | None = None
    unknown_event_after_events: int | None = None
    huge_event_after_events: int | None = None
    reject_auth: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "drop_after_events",
            "malformed_frame_after_events",
            "unknown_event_after_events",
            "huge_event_after_events",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if self.drop_within_s is not None and not self.drop_within_s > 0:
            raise ValueError(f"drop_within_s must be > 0, not {self.drop_within_s}")
        if self.frame_delay_ms < 0:
            raise ValueError(f"frame_delay_ms must be >= 0, not {self.frame_delay_ms}")

    @property
    def any(self) -> bool:
        return self != Faults()


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Everything an :class:`~realtime_desktop.server.OfflineServer` needs.

    Attributes:
        host, port: where to listen; port 0 lets the OS choose.
        token: the API key clients must send; None generates a random one.
        dialect: ``auto`` serves beta to clients sending ``OpenAI-Beta: realtime=v1`` and GA to
            the rest; ``ga`` answers a beta header with ``beta_api_shape_disabled`` and close
            4000, as OpenAI does since 2026-05-12; ``beta`` serves beta to everyone.
        session_limit_s: wall-clock length of a session before ``session_expired`` + close 1001.
        pacing: how fast response deltas are sent.
        faults: misbehaviour for testing clients.
        speech: how text is spoken in audio responses: ``espeak`` (espeak-ng), ``tone`` (the
            honest fallback without espeak-ng) or ``auto`` (espeak-ng when installed).
    """

    host: str = DEFAULT_HOST
    port: int = 0
    token: str | None = None
    dialect: DialectChoice = "auto"
    session_limit_s: float = DEFAULT_SESSION_LIMIT_S
    pacing: DeltaPacing = dataclasses.field(default_factory=DeltaPacing)
    faults: Faults = dataclasses.field(default_factory=Faults)
    speech: SpeechChoice = "auto"

    def __post_init__(self) -> None:
        if self.dialect not in DIALECT_CHOICES:
            raise ValueError(f"dialect must be one of {DIALECT_CHOICES}, not {self.dialect!r}")
        if self.speech not in SPEECH_CHOICES:
            raise ValueError(f"speech must be one of {SPEECH_CHOICES}, not {self.speech!r}")
        if not self.session_limit_s > 0:
            raise ValueError(f"session_limit_s must be > 0, not {self.session_limit_s}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, not {self.port}")
        if self.token == "":
            raise ValueError("token must not be empty")
