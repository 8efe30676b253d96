"""The spec and hooks as source: lint-clean, and every hook names a module that exists.

Ruff does not pick up ``*.spec`` files on its own (``make test`` runs ``ruff check .``), so this
lints the spec explicitly. A hook whose file name no longer matches an importable module is
silently never run by PyInstaller, which would drop PortAudio or the echo canceller from the
bundle without an error.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.bundle.layout import PACKAGING

SPEC = PACKAGING / "realtime-desktop.spec"


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_spec_is_ruff_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, str(SPEC)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "hook", sorted(path.name for path in (PACKAGING / "hooks").glob("hook-*.py"))
)
def test_hook_names_an_installed_module(hook: str) -> None:
    module = hook.removeprefix("hook-").removesuffix(".py")
    assert importlib.util.find_spec(module) is not None, f"{hook}: no module {module}"


def test_every_runtime_hook_is_in_the_spec() -> None:
    spec_text = SPEC.read_text()
    for runtime_hook in (PACKAGING / "rthooks").glob("pyi_rth_*.py"):
        assert f'"{runtime_hook.name}"' in spec_text, f"{runtime_hook.name} is not used"
