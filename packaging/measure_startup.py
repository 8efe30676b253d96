"""Cold start of the app to its main window, timed from the parent process.

Starts ``PROGRAM --exit-after-shown --config-dir <fresh folder>`` several times, each a new
process with settings of its own, and times each from just before the launch to the moment the
app prints ``window shown`` (it does so once its main window is first shown). Prints the median
and every run as JSON.

    python3 packaging/measure_startup.py                      # the bundle, X11 on Xvfb
    python3 packaging/measure_startup.py --platform offscreen
    python3 packaging/measure_startup.py --drop-caches .venv/bin/realtime-desktop

``--platform xcb`` (the default) starts a private Xvfb unless ``DISPLAY`` is set, so the real X11
platform plugin, fonts and input methods load as on a desktop. ``--drop-caches`` (root only)
empties the kernel's page cache before each run, so every run reads the bundle from disk as
after a reboot; it slows down everything else on the machine for a moment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PROGRAM = REPO / "dist" / "realtime-desktop" / "realtime-desktop"
SHOWN = "window shown"
RUN_TIMEOUT_S = 60.0


@contextlib.contextmanager
def private_xvfb() -> Iterator[str]:
    """An Xvfb display for the duration; ``-displayfd`` reports its number once it accepts
    clients, so nothing waits on a guess."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("measure_startup: Xvfb is not installed (Debian package xvfb)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as reported:
            number = reported.readline().strip()
        if not number:
            raise SystemExit("measure_startup: Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def drop_page_cache() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def measure_once(program: Path, env: dict[str, str], drop_caches: bool) -> float:
    """Seconds from launch to ``window shown``.

    Raises:
        RuntimeError: the app did not report its window, or exited with an error.
    """
    with tempfile.TemporaryDirectory(prefix="realtime-desktop-start-") as config:
        if drop_caches:
            drop_page_cache()
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(program), "--exit-after-shown", "--config-dir", config],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        elapsed = time.perf_counter() - started
        _, errors = process.communicate(timeout=RUN_TIMEOUT_S)
    if line.strip() != SHOWN or process.returncode != 0:
        raise RuntimeError(
            f"{program} printed {line.strip()!r} and exited {process.returncode}:\n{errors}"
        )
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("program", nargs="?", type=Path, default=DEFAULT_PROGRAM)
    parser.add_argument("--runs", type=int, default=7, help="cold starts to time (default 7)")
    parser.add_argument("--platform", choices=["xcb", "offscreen"], default="xcb")
    parser.add_argument(
        "--drop-caches", action="store_true", help="empty the page cache before each run (root)"
    )
    args = parser.parse_args(argv)
    if not args.program.is_file():
        parser.error(f"{args.program} does not exist (make bundle builds the default)")

    env = {**os.environ, "QT_QPA_PLATFORM": args.platform}
    with contextlib.ExitStack() as stack:
        if args.platform == "xcb" and not env.get("DISPLAY"):
            env["DISPLAY"] = stack.enter_context(private_xvfb())
        seconds = [measure_once(args.program, env, args.drop_caches) for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "program": str(args.program),
                "platform": args.platform,
                "page_cache_dropped": args.drop_caches,
                "median_s": round(statistics.median(seconds), 3),
                "min_s": round(min(seconds), 3),
                "max_s": round(max(seconds), 3),
                "runs_s": [round(s, 3) for s in seconds],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
