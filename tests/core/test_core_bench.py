"""The core benchmark runs end to end and reports the figures the issue asks for (no timing
assertions: the numbers come from ``realtime-desktop-bench core``)."""

from __future__ import annotations

import argparse
import json

from realtime_desktop.bench import core_bench


def test_core_bench_reports_every_figure() -> None:
    parser = argparse.ArgumentParser()
    core_bench.add_arguments(parser)
    args = parser.parse_args(
        [
            "--deltas",
            "300",
            "--reconnect-runs",
            "2",
            "--replay-items",
            "4",
            "--reconnect-delay",
            "0.01",
        ]
    )
    result = json.loads(json.dumps(core_bench.run(args)))
    delta = result["audio_delta"]
    assert delta["deltas"] == 300
    assert 0 < delta["median"] <= delta["p99"]
    assert "enqueue_playback" in delta["handoff"]
    assert result["audio_delta_over_websocket"]["mean"] > 0
    reconnect = result["reconnect_after_drop"]
    assert reconnect["replayed_items"] == 4
    assert reconnect["no_backoff"]["runs"] == 2
    assert reconnect["with_backoff"]["runs"] == 3
    assert reconnect["no_backoff"]["median"] > 0
