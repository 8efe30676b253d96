"""G.711 against an independent reading of the standard, and the wire formats' round trips."""

from __future__ import annotations

import bisect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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

# The quantisation intervals of ITU-T G.711, written out from its tables (Table 1a: A-law,
# 13-bit magnitudes; Table 2a: µ-law, 14-bit magnitudes) rather than from any bit trick: each
# segment is (first decision value, step), with 16 intervals per segment.
_ALAW_SEGMENTS = [(0, 2), (32, 2), (64, 4), (128, 8), (256, 16), (512, 32), (1024, 64), (2048, 128)]
_ULAW_SEGMENTS = [
    (1, 2),
    (31, 4),
    (95, 8),
    (223, 16),
    (479, 32),
    (991, 64),
    (2015, 128),
    (4063, 256),
]


def _intervals(segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(lower, upper) bounds of the magnitude intervals, in code order."""
    return [
        (start + j * step, start + (j + 1) * step) for start, step in segments for j in range(16)
    ]


_ALAW_INTERVALS = _intervals(_ALAW_SEGMENTS)
# µ-law's first interval is the single value 0 (decision value 1); segment 0 then has 15 more.
_ULAW_INTERVALS = [(0, 1), *_intervals(_ULAW_SEGMENTS)[:15], *_intervals(_ULAW_SEGMENTS)[16:]]
assert len(_ALAW_INTERVALS) == len(_ULAW_INTERVALS) == 128
_ALAW_LOWERS = [lo for lo, _ in _ALAW_INTERVALS]
_ULAW_LOWERS = [lo for lo, _ in _ULAW_INTERVALS]


def _magnitude(sample: int, drop_bits: int) -> int:
    # G.711 works on sign + magnitude; a negative two's-complement sample maps to the
    # magnitude of its one's complement, as in the ITU-T software tool library (G.191).
    return (sample if sample >= 0 else -sample - 1) >> drop_bits


def reference_alaw_encode(sample: int) -> int:
    index = bisect.bisect_right(_ALAW_LOWERS, _magnitude(sample, 3)) - 1
    sign = 0x80 if sample >= 0 else 0
    return (index | sign) ^ 0x55  # G.711 inverts the even bits of A-law codes


def reference_alaw_decode(code: int) -> int:
    index = (code ^ 0x55) & 0x7F
    lower, upper = _ALAW_INTERVALS[index]
    value = (lower + upper) * 8 // 2  # the interval's midpoint, back on the 16-bit scale
    return value if code & 0x80 else -value


def reference_ulaw_encode(sample: int) -> int:
    magnitude = min(_magnitude(sample, 2), 8158)
    index = bisect.bisect_right(_ULAW_LOWERS, magnitude) - 1
    sign = 0x80 if sample >= 0 else 0
    return (0x7F - index) | sign  # µ-law codes are the inverted index


def reference_ulaw_decode(code: int) -> int:
    index = 0x7F - (code & 0x7F)
    lower, upper = _ULAW_INTERVALS[index]
    value = 0 if index == 0 else (lower + upper) * 4 // 2
    return value if code & 0x80 else -value


ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)


def test_ulaw_encode_matches_the_standard_for_every_16_bit_sample() -> None:
    expected = np.array([reference_ulaw_encode(int(s)) for s in ALL_INT16], dtype=np.uint8)
    mismatches = np.flatnonzero(ulaw_encode(ALL_INT16) != expected)
    assert mismatches.size == 0, f"first mismatch at sample {ALL_INT16[mismatches[0]]}"


def test_alaw_encode_matches_the_standard_for_every_16_bit_sample() -> None:
    expected = np.array([reference_alaw_encode(int(s)) for s in ALL_INT16], dtype=np.uint8)
    mismatches = np.flatnonzero(alaw_encode(ALL_INT16) != expected)
    assert mismatches.size == 0, f"first mismatch at sample {ALL_INT16[mismatches[0]]}"


def test_ulaw_decode_matches_the_standard_for_every_code() -> None:
    expected = [reference_ulaw_decode(int(c)) for c in ALL_CODES]
    assert ulaw_decode(ALL_CODES).tolist() == expected


def test_alaw_decode_matches_the_standard_for_every_code() -> None:
    expected = [reference_alaw_decode(int(c)) for c in ALL_CODES]
    assert alaw_decode(ALL_CODES).tolist() == expected


def test_known_g711_code_points() -> None:
    # Values every G.711 implementation agrees on: silence and full scale.
    assert ulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)).tolist() == [0xFF, 0x80, 0x00]
    assert alaw_encode(np.array([0, 32767, -32768], dtype=np.int16)).tolist() == [0xD5, 0xAA, 0x2A]
    assert ulaw_decode(np.array([0xFF, 0x7F, 0x80], dtype=np.uint8)).tolist() == [0, 0, 32124]
    assert alaw_decode(np.array([0xD5, 0xAA], dtype=np.uint8)).tolist() == [8, 32256]


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_decoded_codes_re_encode_to_themselves(encode, decode) -> None:  # type: ignore[no-untyped-def]
    # µ-law has two zeros; "negative zero" (0x7F) decodes to 0, which encodes as 0xFF.
    codes = [c for c in ALL_CODES.tolist() if not (encode is ulaw_encode and c == 0x7F)]
    assert encode(decode(np.array(codes, dtype=np.uint8))).tolist() == codes


def test_pcm16_float_round_trip_is_exact() -> None:
    assert float32_to_pcm16(pcm16_to_float32(ALL_INT16)).tolist() == ALL_INT16.tolist()


def test_float_to_pcm16_clips_instead_of_wrapping() -> None:
    clipped = float32_to_pcm16(np.array([1.5, -1.5, 1.0], dtype=np.float32))
    assert clipped.tolist() == [32767, -32768, 32767]


@given(hnp.arrays(np.float32, st.integers(0, 400), elements=st.floats(-1, 0.75, width=32)))
@pytest.mark.parametrize("fmt", list(WireFormat))
def test_wire_format_round_trip_is_within_one_quantisation_step(
    fmt: WireFormat, samples: np.ndarray
) -> None:
    encoded = fmt.encode(samples)
    assert len(encoded) == samples.size * fmt.bytes_per_sample
    decoded = fmt.decode(encoded)
    assert decoded.dtype == np.float32
    # G.711's coarsest step is 1/32 of full scale at the top segment; PCM16's is 2**-15.
    tolerance = 2.0**-15 if fmt is WireFormat.PCM16 else np.maximum(np.abs(samples) / 16, 2**-11)
    assert np.all(np.abs(decoded - samples) <= tolerance)


def test_wire_format_metadata() -> None:
    assert WireFormat.from_type("audio/pcm") is WireFormat.PCM16
    assert WireFormat.from_type("audio/pcmu") is WireFormat.PCMU
    assert WireFormat.from_type("g711_alaw") is WireFormat.PCMA
    assert WireFormat.PCM16.sample_rate == 24000
    assert WireFormat.PCMU.sample_rate == 8000
    assert WireFormat.PCM16.bytes_per_ms == 48
    assert WireFormat.PCMA.bytes_per_ms == 8
    assert WireFormat.PCM16.duration_ms(4800) == 100.0
    with pytest.raises(ValueError, match="unknown audio format"):
        WireFormat.from_type("audio/opus")


def test_pcm16_decode_rejects_half_samples() -> None:
    with pytest.raises(CodecError, match="odd length"):
        WireFormat.PCM16.decode(b"\x00\x01\x02")


def test_base64_helpers() -> None:
    audio = bytes(range(256))
    assert b64decode_audio(b64encode_audio(audio)) == audio
    with pytest.raises(CodecError):
        b64decode_audio("not base64!")
