"""``realtime-desktop-bench``: speed and latency figures, as medians and ratios.

Every figure an issue asks for comes from here, never from timed assertions in tests: the
machines are shared and noisy, so each benchmark repeats its measurement and reports medians
and percentiles. Each subcommand lives in its own module with ``add_arguments`` and ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, Protocol, cast

# subcommand -> (module, what it measures)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "protocol": ("realtime_desktop.bench.protocol_bench", "event parsing and serialisation"),
    "core": ("realtime_desktop.bench.core_bench", "main-loop cost per audio delta, reconnect"),
    "server": ("realtime_desktop.bench.server_bench", "offline server CPU and echo latency"),
    "audio": ("realtime_desktop.bench.audio_bench", "audio engine on real devices"),
    "app": ("realtime_desktop.bench.app_bench", "GUI start-up, repaint, stalls, memory"),
    "storage": ("realtime_desktop.bench.storage_bench", "conversation store and history"),
}


class BenchModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> dict[str, Any]: ...


def _load(name: str) -> BenchModule | None:
    """The benchmark's module, or None while the part it measures is not built yet."""
    module_name = BENCHMARKS[name][0]
    try:
        return cast(BenchModule, importlib.import_module(module_name))
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime-desktop-bench", description=__doc__)
    sub = parser.add_subparsers(dest="benchmark", required=True)
    for name, (_, what) in BENCHMARKS.items():
        sp = sub.add_parser(name, help=what)
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        module = _load(name)
        if module is not None:
            module.add_arguments(sp)
    sp_all = sub.add_parser("all", help="every benchmark, one JSON object keyed by name")
    sp_all.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    if args.benchmark == "all":
        results: dict[str, Any] = {}
        for name in BENCHMARKS:
            module = _load(name)
            if module is None:
                results[name] = {"error": "not built yet"}
                continue
            sub_parser = argparse.ArgumentParser()
            module.add_arguments(sub_parser)
            print(f"running {name} benchmark…", file=sys.stderr)
            results[name] = module.run(sub_parser.parse_args([]))
    else:
        chosen = _load(args.benchmark)
        if chosen is None:
            print(f"realtime-desktop-bench: '{args.benchmark}' is not built yet", file=sys.stderr)
            return 2
        results = chosen.run(args)

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print_table(results)
    return 0


def _print_table(results: dict[str, Any], indent: str = "") -> None:
    for key, value in results.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_table(value, indent + "  ")
        elif isinstance(value, float):
            print(f"{indent}{key:<32} {value:.3f}")
        else:
            print(f"{indent}{key:<32} {value}")
