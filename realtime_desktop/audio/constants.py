"""Every rate, size and threshold of the audio layer, in one place (STYLE.md lesson 2).

Other modules import these names; none of them re-derives a rate or a block size on its own.
"""

from __future__ import annotations

from typing import Final

# The Realtime API's PCM format is 16-bit little-endian mono at 24 kHz (PROTOCOL.md,
# "audio/pcm"); G.711 formats are 8-bit at 8 kHz.
WIRE_SAMPLE_RATE: Final = 24_000
G711_SAMPLE_RATE: Final = 8_000

# The rate the DSP thread works at between the device and the wire: echo cancellation, noise
# suppression, VAD, levels and the waveform all see 24 kHz mono, so a PCM session needs no
# second resampling step on the uplink.
PROCESSING_SAMPLE_RATE: Final = WIRE_SAMPLE_RATE

# Device callbacks run every 10 ms by default: short enough that a flush is heard within
# 10 ms, long enough that a Python callback costs well under 2 % of a core.
DEFAULT_BLOCK_MS: Final = 10
MIN_BLOCK_MS: Final = 5
MAX_BLOCK_MS: Final = 40

# While real streams are open the interpreter hands the GIL over every 0.5 ms instead of 5 ms.
# A PortAudio callback that has to wait for the GIL (a busy GUI thread holds it, or the callback
# lost it mid-way to a thread whose wait timed out) waits one switch interval per hand-over:
# at 5 ms, two hand-overs in one 10 ms block were an underrun (callback p99 7.6 ms with the
# main thread busy in bursts; 0.8 ms at 0.5 ms). The cost is a few more forced switches while
# threads contend, nothing while they do not.
GIL_SWITCH_INTERVAL_S: Final = 0.0005

# The uplink sends 20 ms chunks: PEERS.md pain point 12 (20–40 ms) and half the per-message
# overhead of 10 ms chunks.
UPLINK_CHUNK_MS: Final = 20

# The DSP thread processes the microphone in 10 ms frames: WebRTC's audio processing module
# (noise suppression) only takes 10 ms, and the echo canceller's partitions are as long as its
# frames, so 10 ms is also its block (a frame adds no latency: the uplink waits 20 ms anyway).
PROCESSING_FRAME_MS: Final = 10

# Echo cancellation (echo.py). The filter spans a room tail of 150 ms plus the block before the
# direct path it keeps as a margin; the delay estimator searches up to 400 ms beyond the delay
# the callbacks' time info explains (unreported device buffers: PulseAudio, Bluetooth); the
# residual suppressor takes at most 10 dB off, and only while the residual echo dominates.
ECHO_FILTER_MS: Final = 160
ECHO_MAX_DELAY_MS: Final = 400
ECHO_SUPPRESSION_DB: Final = 10.0

# Adaptive prebuffer (issue 5): playback starts once this much is queued, or at the latest
# PREBUFFER_MAX_WAIT_MS after the first sample of an item became available, so it always starts
# within 60 ms of the first delta. Only an underrun grows the target, one step at a time.
PREBUFFER_START_MS: Final = 40
PREBUFFER_MAX_WAIT_MS: Final = 50
PREBUFFER_GROWTH_MS: Final = 20
PREBUFFER_LIMIT_MS: Final = 200

# Barge-in fade: long enough to avoid a click, short enough to be inside one 10 ms block.
FLUSH_FADE_MS: Final = 4

# Ring capacities in seconds of audio, so a stalled DSP thread or a bursty server never loses
# data before the stall is far longer than any GUI hiccup (friture keeps about 3 s).
CAPTURE_RING_SECONDS: Final = 2.0
PLAYBACK_RING_SECONDS: Final = 64.0
RENDERED_RING_SECONDS: Final = 2.0
WAVEFORM_HISTORY_SECONDS: Final = 10.0

# How many items the playback tracker remembers; slots are reused round-robin, so the stats of
# an item are kept until this many newer items have been queued.
PLAYBACK_ITEM_SLOTS: Final = 256

# Device channel counts above this are not opened: the app is mono, stereo covers every
# speaker, and a PulseAudio ALSA device reports up to 32 channels.
MAX_DEVICE_CHANNELS: Final = 2

# The DSP thread wakes once per block, this long after the input callback is due (polling
# every 2.5 ms cost 10-17 % of a core in wake-ups alone), and at most this often while a
# burst of downlink audio is being decoded.
DSP_WAKE_AFTER_BLOCK_MS: Final = 1.0
DSP_MIN_WAIT_MS: Final = 1.0

# A server sends a whole answer faster than real time; the DSP thread decodes at most this much
# per step (100x real time at one step per ms), so a burst never starves the callbacks of
# the CPU or the GIL on a 2-core machine.
DOWNLINK_MS_PER_STEP: Final = 100.0

# Half-duplex fallback: the microphone stays gated this long after the assistant falls silent,
# to cover the room's echo tail.
HALF_DUPLEX_HANGOVER_MS: Final = 150

# Local VAD defaults: webrtcvad frames and the minimum speech before an onset is reported
# (PEERS.md pain point 14: a cough must not interrupt the assistant).
VAD_FRAME_MS: Final = 10
VAD_DEFAULT_THRESHOLD: Final = 0.5
VAD_MIN_SPEECH_MS: Final = 120
VAD_HANGOVER_MS: Final = 300

# Levels below this are reported as this value, never as -inf.
SILENCE_DBFS: Final = -120.0

# A stream that produced no callback for this long while running is treated as lost.
STREAM_STALL_TIMEOUT_S: Final = 1.0
# PulseAudio's ALSA plugin takes up to half a second to deliver the first input block.
STREAM_START_TIMEOUT_S: Final = 3.0
REOPEN_INTERVAL_S: Final = 1.0

# espeak-ng writes 22 050 Hz WAV (ENVIRONMENT.md).
ESPEAK_SAMPLE_RATE: Final = 22_050
