"""Audio layer: devices, rings, resampling, echo cancellation, VAD and the wire codecs.

The engine API the rest of the app codes against is re-exported here; see
``realtime_desktop.audio.engine`` for the threads and what runs where.
"""

from realtime_desktop.audio.backends import (
    AudioBackend,
    DeviceError,
    DeviceInfo,
    FakeBackend,
    OpenedStreams,
    SoundDeviceBackend,
)
from realtime_desktop.audio.codecs import (
    CodecError,
    WireFormat,
    alaw_decode,
    alaw_encode,
    b64decode_audio,
    b64encode_audio,
    float32_to_pcm16,
    pcm16_to_float32,
    ulaw_decode,
    ulaw_encode,
)
from realtime_desktop.audio.engine import (
    AudioEngine,
    AudioEngineConfig,
    AudioStats,
    DeviceEvent,
    DeviceEventKind,
    FlushReport,
    Level,
    LocalVadEvent,
    UplinkChunk,
)
from realtime_desktop.audio.playback import PlaybackTracker
from realtime_desktop.audio.recording import RecordingFiles
from realtime_desktop.audio.vad import (
    SpeechDetector,
    SpeechSegmenter,
    VadEvent,
    VadEventKind,
    VadFrame,
    VadSensitivity,
)

__all__ = [
    "AudioBackend",
    "AudioEngine",
    "AudioEngineConfig",
    "AudioStats",
    "CodecError",
    "DeviceError",
    "DeviceEvent",
    "DeviceEventKind",
    "DeviceInfo",
    "FakeBackend",
    "FlushReport",
    "Level",
    "LocalVadEvent",
    "OpenedStreams",
    "PlaybackTracker",
    "RecordingFiles",
    "SoundDeviceBackend",
    "SpeechDetector",
    "SpeechSegmenter",
    "UplinkChunk",
    "VadEvent",
    "VadEventKind",
    "VadFrame",
    "VadSensitivity",
    "WireFormat",
    "alaw_decode",
    "alaw_encode",
    "b64decode_audio",
    "b64encode_audio",
    "float32_to_pcm16",
    "pcm16_to_float32",
    "ulaw_decode",
    "ulaw_encode",
]
