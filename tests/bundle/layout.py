"""Where the packaging tests find things: the repository, ``packaging/`` and the bundle.

``packaging/`` is not a Python package (its name would shadow the ``packaging`` library), so its
modules are loaded from their files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
ICONS = REPO / "resources" / "icons"
BUNDLE_DIR = REPO / "dist" / "realtime-desktop"
BUNDLE_EXECUTABLE = BUNDLE_DIR / "realtime-desktop"


def load_packaging_module(name: str) -> ModuleType:
    module_name = f"_realtime_desktop_packaging_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, PACKAGING / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up while the class is built.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
