"""Fixtures of the packaging tests: the helper modules under ``packaging/``."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.bundle.layout import load_packaging_module


@pytest.fixture(scope="session")
def icon_files() -> ModuleType:
    return load_packaging_module("icon_files")


@pytest.fixture(scope="session")
def platform_info() -> ModuleType:
    return load_packaging_module("platform_info")


@pytest.fixture(scope="session")
def install_desktop() -> ModuleType:
    return load_packaging_module("install_desktop")
