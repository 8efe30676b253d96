"""The ``realtime-desktop-server`` command: URL first on stdout, token on stderr, clean exit."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect

from realtime_desktop.server.cli import build_parser, config_from_args


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "realtime_desktop.server.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _first_event(url: str, token: str) -> dict[str, object]:
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        event: dict[str, object] = json.loads(await ws.recv())
        return event


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_url_first_then_serves_until_signalled(stop: signal.Signals) -> None:
    process = _start("--pace", "fast", "--dialect", "ga")
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        url = process.stdout.readline().strip()
        assert url.startswith("ws://127.0.0.1:")
        assert url.endswith("/v1/realtime")
        token_line = process.stderr.readline().strip()
        assert token_line.startswith("realtime-desktop-server: token ")
        token = token_line.rsplit(" ", 1)[1]
        created = asyncio.run(_first_event(url, token))
        assert created["type"] == "session.created"
        process.send_signal(stop)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_given_token_is_not_printed() -> None:
    process = _start("--token", "secret-token", "--pace", "fast")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        created = asyncio.run(_first_event(url, "secret-token"))
        assert created["type"] == "session.created"
        process.terminate()
        _, stderr = process.communicate(timeout=15)
        assert "secret-token" not in stderr
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_help_documents_the_triggers() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "realtime_desktop.server.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    for text in ("/call NAME {JSON}", "/history", "--drop-after-events", "--huge-event-after"):
        assert text in result.stdout


def test_fault_flags_become_the_config() -> None:
    args = build_parser().parse_args(
        [
            "--drop-after-events",
            "5",
            "--drop-within",
            "2.5",
            "--frame-delay-ms",
            "20",
            "--malformed-frame-after",
            "3",
            "--unknown-event-after",
            "4",
            "--huge-event-after",
            "6",
            "--reject-auth",
            "--fault-seed",
            "9",
            "--pace",
            "slow",
            "--session-limit",
            "90",
        ]
    )
    config = config_from_args(args)
    faults = config.faults
    assert (faults.drop_after_events, faults.drop_within_s, faults.frame_delay_ms) == (5, 2.5, 20)
    assert (faults.malformed_frame_after_events, faults.unknown_event_after_events) == (3, 4)
    assert (faults.huge_event_after_events, faults.reject_auth, faults.seed) == (6, True, 9)
    assert config.pacing.realtime_factor == 0.5
    assert config.session_limit_s == 90


def test_bad_values_are_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "realtime_desktop.server.cli", "--drop-after-events", "0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "drop_after_events must be at least 1" in result.stderr
