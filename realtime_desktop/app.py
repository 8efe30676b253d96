"""The ``realtime-desktop`` command: the desktop app, and its headless modes.

Heavy imports (Qt, the audio engine) happen only in the mode that needs them, so ``--version``
and ``--help`` answer at once and ``--list-devices`` works without a display.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from realtime_desktop import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtime-desktop",
        description=(
            "Talk to an OpenAI Realtime model from your desktop. With no API key the app "
            "connects to its own offline echo server, which plays back what you say."
        ),
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--list-devices", action="store_true", help="list audio devices (defaults marked) and exit"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help=(
            "run headless checks against the offline server (a voice turn, a text turn, a tool "
            "call, a barge-in with truncation) and exit 0 only if all pass"
        ),
    )
    parser.add_argument("--json", action="store_true", help="with --self-test: print JSON")
    parser.add_argument(
        "--exit-after-shown",
        action="store_true",
        help='print "window shown" once the main window is shown, then quit (start-up timing)',
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="use the offline echo server even when an API key is configured",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        help="keep all settings, conversations and logs under DIR",
    )
    return parser


def list_devices() -> int:
    from realtime_desktop.audio.backends import SoundDeviceBackend

    try:
        devices = SoundDeviceBackend().list_devices()
    except OSError as exc:  # PortAudio missing: sounddevice raises OSError on import/init
        print(f"realtime-desktop: cannot list audio devices: {exc}", file=sys.stderr)
        print("Install PortAudio (Debian: apt-get install libportaudio2).", file=sys.stderr)
        return 1
    if not devices:
        print("No audio devices found.")
        return 0
    for device in devices:
        marks = []
        if device.is_default_input:
            marks.append("default input")
        if device.is_default_output:
            marks.append("default output")
        mark = f"  [{', '.join(marks)}]" if marks else ""
        print(
            f"{device.index:3d}  {device.name}  ({device.host_api}; "
            f"in {device.max_input_channels}, out {device.max_output_channels}, "
            f"{device.default_sample_rate:.0f} Hz){mark}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        print(f"realtime-desktop {__version__}")
        return 0
    if args.list_devices:
        return list_devices()
    if args.self_test:
        from realtime_desktop.selftest import run_self_test

        report = run_self_test(config_dir=args.config_dir)
        print(json.dumps(report.as_dict(), indent=2) if args.json else report.as_text())
        return 0 if report.passed else 1
    if args.json:
        build_parser().error("--json only goes with --self-test")
    from realtime_desktop.ui.application import run_app

    return run_app(
        config_dir=args.config_dir,
        force_offline=args.offline,
        exit_after_shown=args.exit_after_shown,
    )
