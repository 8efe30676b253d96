"""Sample formats of the wire: PCM16, G.711 µ-law and A-law, float32, base64.

Everything is vectorised numpy. G.711 follows the ITU-T reference implementation (the G.191
software tool library): negative samples are folded with the one's complement, so the
encoders are bit-exact with it, and a decoded code re-encodes to itself. Encoding goes
through 65 536-entry tables built once from the standard's segment formulas, so a 20 ms chunk
costs one table lookup.
"""

from __future__ import annotations

import base64
import binascii
import enum
from typing import Final

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio.constants import G711_SAMPLE_RATE, WIRE_SAMPLE_RATE

FloatArray = npt.NDArray[np.float32]
Int16Array = npt.NDArray[np.int16]
UInt8Array = npt.NDArray[np.uint8]

_PCM16_SCALE: Final = 32768.0


class CodecError(ValueError):
    """Audio bytes that cannot be decoded in the declared format."""


def pcm16_to_float32(samples: Int16Array) -> FloatArray:
    """Scale int16 samples to float32 in [-1, 1)."""
    return samples.astype(np.float32) * np.float32(1.0 / _PCM16_SCALE)


def float32_to_pcm16(samples: npt.NDArray[np.floating]) -> Int16Array:
    """Round float samples to int16, clipping anything outside [-1, 1)."""
    scaled: FloatArray = np.rint(np.asarray(samples, dtype=np.float32) * np.float32(_PCM16_SCALE))
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def _bit_length(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Number of significant bits of each non-negative value (0 for 0)."""
    # frexp gives the binary exponent exactly for integers far below 2**24.
    _, exponent = np.frexp(values.astype(np.float64))
    return np.where(values > 0, exponent, 0).astype(np.int32)


def _ulaw_compress_table() -> UInt8Array:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    negative = linear < 0
    # 33 is the offset between the µ-law and A-law decision thresholds in G.711.
    magnitude = (np.where(negative, ~linear, linear) >> 2) + 33
    magnitude = np.minimum(magnitude, 0x1FFF)
    segment = _bit_length(magnitude >> 6) + 1
    high_nibble = 8 - segment
    low_nibble = 15 - ((magnitude >> segment) & 0x0F)
    code = (high_nibble << 4) | low_nibble
    code = np.where(negative, code, code | 0x80)
    table = code.astype(np.uint8)
    # Index by the int16's bit pattern, so encoding is table[pcm.view(np.uint16)].
    return np.roll(table, -32768)


def _ulaw_expand_table() -> Int16Array:
    code = np.arange(256, dtype=np.int32)
    sign = np.where(code < 0x80, -1, 1)
    inverted = ~code
    exponent = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    step = np.left_shift(4, exponent + 1)
    magnitude = np.left_shift(0x80, exponent) + step * mantissa + step // 2 - 4 * 33
    signed: npt.NDArray[np.int32] = sign * magnitude
    return signed.astype(np.int16)


def _alaw_compress_table() -> UInt8Array:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    negative = linear < 0
    folded = np.where(negative, ~linear, linear) >> 4  # 0 .. 2047
    exponent = np.maximum(_bit_length(folded) - 4, 0)
    shift = np.maximum(exponent - 1, 0)
    segmented = (exponent << 4) + (folded >> shift) - 16
    code = np.where(folded > 15, segmented, folded)
    code = np.where(negative, code, code | 0x80) ^ 0x55
    return np.roll(code.astype(np.uint8), -32768)


def _alaw_expand_table() -> Int16Array:
    code = np.arange(256, dtype=np.int32)
    toggled = (code ^ 0x55) & 0x7F
    exponent = toggled >> 4
    mantissa = toggled & 0x0F
    mantissa = np.where(exponent > 0, mantissa + 16, mantissa)
    # Mantissa left-justified plus half a quantisation step.
    magnitude = (mantissa << 4) + 8
    magnitude = np.where(exponent > 1, magnitude << np.maximum(exponent - 1, 0), magnitude)
    return np.where(code > 127, magnitude, -magnitude).astype(np.int16)


_ULAW_COMPRESS: Final = _ulaw_compress_table()
_ULAW_EXPAND: Final = _ulaw_expand_table()
_ALAW_COMPRESS: Final = _alaw_compress_table()
_ALAW_EXPAND: Final = _alaw_expand_table()


def ulaw_encode(pcm: Int16Array) -> UInt8Array:
    """G.711 µ-law codes for 16-bit linear samples (the two low bits are ignored)."""
    return _ULAW_COMPRESS[np.asarray(pcm, dtype=np.int16).view(np.uint16)]


def ulaw_decode(codes: UInt8Array) -> Int16Array:
    """16-bit linear samples for G.711 µ-law codes."""
    return _ULAW_EXPAND[np.asarray(codes, dtype=np.uint8)]


def alaw_encode(pcm: Int16Array) -> UInt8Array:
    """G.711 A-law codes for 16-bit linear samples (the three low bits are ignored)."""
    return _ALAW_COMPRESS[np.asarray(pcm, dtype=np.int16).view(np.uint16)]


def alaw_decode(codes: UInt8Array) -> Int16Array:
    """16-bit linear samples for G.711 A-law codes."""
    return _ALAW_EXPAND[np.asarray(codes, dtype=np.uint8)]


def b64encode_audio(audio: bytes) -> str:
    """The base64 text the Realtime protocol carries in ``audio`` / ``delta`` fields."""
    return base64.b64encode(audio).decode("ascii")


def b64decode_audio(text: str) -> bytes:
    """Bytes of a base64 audio field; raises CodecError on malformed input."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CodecError(f"audio is not valid base64: {exc}") from exc


class WireFormat(enum.Enum):
    """An audio format of the Realtime protocol, named by its GA ``type`` string."""

    PCM16 = "audio/pcm"
    PCMU = "audio/pcmu"
    PCMA = "audio/pcma"

    @classmethod
    def from_type(cls, type_: str) -> WireFormat:
        """The format for a GA ``type`` (``audio/pcm``) or a beta name (``pcm16``, ``g711_ulaw``).

        Raises:
            ValueError: for a type the protocol does not define.
        """
        try:
            return _BY_NAME[type_.strip().lower()]
        except KeyError:
            raise ValueError(f"unknown audio format type {type_!r}") from None

    @property
    def type(self) -> str:
        """The GA ``type`` string."""
        return self.value

    @property
    def beta_name(self) -> str:
        """The retired beta protocol's name for this format."""
        return _BETA_NAMES[self]

    @property
    def sample_rate(self) -> int:
        return WIRE_SAMPLE_RATE if self is WireFormat.PCM16 else G711_SAMPLE_RATE

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self is WireFormat.PCM16 else 1

    @property
    def bytes_per_ms(self) -> int:
        return self.sample_rate * self.bytes_per_sample // 1000

    def duration_ms(self, n_bytes: int) -> float:
        """Milliseconds of audio in ``n_bytes`` of this format."""
        return n_bytes / self.bytes_per_ms

    def encode(self, samples: npt.NDArray[np.floating]) -> bytes:
        """Wire bytes for float mono samples already at ``sample_rate``."""
        pcm = float32_to_pcm16(samples)
        if self is WireFormat.PCM16:
            return pcm.astype("<i2").tobytes()
        if self is WireFormat.PCMU:
            return ulaw_encode(pcm).tobytes()
        return alaw_encode(pcm).tobytes()

    def decode(self, audio: bytes) -> FloatArray:
        """Float32 mono samples at ``sample_rate`` for wire bytes.

        Raises:
            CodecError: when PCM16 bytes do not hold a whole number of samples.
        """
        if self is WireFormat.PCM16:
            if len(audio) % 2:
                raise CodecError(f"PCM16 audio has an odd length ({len(audio)} bytes)")
            return pcm16_to_float32(np.frombuffer(audio, dtype="<i2").astype(np.int16))
        codes = np.frombuffer(audio, dtype=np.uint8)
        if self is WireFormat.PCMU:
            return pcm16_to_float32(ulaw_decode(codes))
        return pcm16_to_float32(alaw_decode(codes))


_BETA_NAMES: Final = {
    WireFormat.PCM16: "pcm16",
    WireFormat.PCMU: "g711_ulaw",
    WireFormat.PCMA: "g711_alaw",
}
_BY_NAME: Final = {
    **{fmt.value: fmt for fmt in WireFormat},
    **{name: fmt for fmt, name in _BETA_NAMES.items()},
}
