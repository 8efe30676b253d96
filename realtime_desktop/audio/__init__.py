"""Audio layer: devices, rings, resampling, echo cancellation, VAD and the wire codecs."""

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

__all__ = [
    "CodecError",
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
