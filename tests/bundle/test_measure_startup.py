"""packaging/measure_startup.py times to the app's "window shown" line and refuses anything else.

A stand-in program takes the app's place: the tool's own logic (launch, read the line, check the
exit status, summarise) is what is tested here; the real figure comes from running it on the
bundle.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from types import ModuleType

import pytest

from tests.bundle.layout import load_packaging_module


@pytest.fixture(scope="module")
def measure_startup() -> ModuleType:
    return load_packaging_module("measure_startup")


def _program(folder: Path, body: str) -> Path:
    program = folder / "fake-app"
    program.write_text("#!/bin/sh\n" + body)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def test_reports_every_run_and_the_median(
    measure_startup: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The stand-in checks it was given the flags the app needs, and a fresh config folder.
    program = _program(
        tmp_path,
        '[ "$1" = --exit-after-shown ] && [ "$2" = --config-dir ] && [ -d "$3" ] || exit 3\n'
        "echo 'window shown'\n",
    )
    assert measure_startup.main([str(program), "--runs", "3", "--platform", "offscreen"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["runs_s"]) == 3
    assert report["min_s"] <= report["median_s"] <= report["max_s"]
    assert report["platform"] == "offscreen"


@pytest.mark.parametrize(
    "body", ["echo 'window shown'\nexit 1\n", "echo 'something else'\n", "exit 0\n"]
)
def test_a_run_without_the_window_is_an_error(
    measure_startup: ModuleType, tmp_path: Path, body: str
) -> None:
    with pytest.raises(RuntimeError, match="printed"):
        measure_startup.main(
            [str(_program(tmp_path, body)), "--runs", "1", "--platform", "offscreen"]
        )
