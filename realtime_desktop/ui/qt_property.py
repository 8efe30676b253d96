"""A typed way to declare read-only Qt properties with a change signal.

``Property(str, getter, notify=…)`` puts the property on the meta-object (bindings, tests that
introspect it, accessibility tools), but mypy sees a ``Property`` object where Python callers
read a ``str``. Declaring it through :func:`notify_property` keeps the Qt property and types the
attribute as what the getter returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from PySide6.QtCore import Property, Signal

T = TypeVar("T")


def notify_property(qt_type: type[Any], notify: Signal) -> Callable[[Callable[[Any], T]], T]:
    def declare(getter: Callable[[Any], T]) -> T:
        return cast(T, Property(qt_type, getter, notify=notify))

    return declare
