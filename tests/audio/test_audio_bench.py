"""``realtime-desktop-bench audio --json`` on the null sinks it sets up itself (issue 5, 6)."""

from __future__ import annotations

import json
import math

import pytest

from realtime_desktop.audio.espeak import espeak_available
from realtime_desktop.audio.virtual_devices import pulse_answers
from realtime_desktop.bench.cli import main

pytestmark = [pytest.mark.realaudio, pytest.mark.slow]

ISSUE_KEYS = {
    "callback_p99_us",
    "dsp_cpu_pct_no_aec",
    "dsp_cpu_pct_aec",
    "mouth_to_wire_ms",
    "wire_to_ear_ms",
    "barge_in_cutoff_ms",
    "truncation_error_ms",
    "aec_erle_db",
    "xruns",
}


@pytest.mark.timeout(180)
def test_prints_one_json_object_with_every_figure_the_issue_names(
    pulse_rig: object, capsys: pytest.CaptureFixture[str]
) -> None:
    # pulse_rig: the fixture has started the sound server (or skipped, saying why).
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    assert pulse_answers()
    assert main(["audio", "--json", "--seconds", "2", "--barge-ins", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures.keys() >= ISSUE_KEYS
    for key in ISSUE_KEYS | {"dsp_cpu_pct_aec_echo"}:
        assert isinstance(figures[key], (int, float)), key
        assert math.isfinite(figures[key]), key
    assert figures["dsp_cpu_pct_aec_echo"] > 0
