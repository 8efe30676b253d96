"""Ordered schema migrations for the versioned JSON files (settings, conversations, index).

Each migration is a pure function from the dict of one version to the dict of the next. The
runner applies them in order to a deep copy, so a migration that fails leaves the caller's data
(and the file it came from) exactly as they were; napari's ``do_migrations`` restores a backup
for the same reason (ANCHORS.md §5).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Migration:
    """Turns a version ``from_version`` document into a version ``from_version + 1`` one."""

    from_version: int
    apply: Callable[[JsonObject], JsonObject]
    description: str

    @property
    def to_version(self) -> int:
        return self.from_version + 1


class MigrationError(Exception):
    """A migration raised or produced something that is not an object. ``str()`` is for the
    user; ``from_version`` is the version the failing step started from."""

    def __init__(self, message: str, *, from_version: int) -> None:
        super().__init__(message)
        self.from_version = from_version


def check_chain(migrations: Sequence[Migration], current_version: int) -> None:
    """Raises ``ValueError`` unless the migrations form an unbroken chain 1 → current."""
    expected = list(range(1, current_version))
    found = [m.from_version for m in migrations]
    if found != expected:
        raise ValueError(f"migrations must start at versions {expected}, found {found}")


def migrate(
    data: JsonObject,
    migrations: Sequence[Migration],
    *,
    from_version: int,
    current_version: int,
) -> JsonObject:
    """Runs every migration from ``from_version`` up to ``current_version`` on a copy of
    ``data`` and returns the result with ``schema_version`` set. ``data`` is never modified."""
    result = copy.deepcopy(data)
    for migration in migrations:
        if migration.from_version < from_version or migration.from_version >= current_version:
            continue
        try:
            migrated = migration.apply(result)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # The migrations index, convert and compare values of an untrusted file: these are
            # the errors a malformed old file produces. Anything else is a bug and propagates.
            raise MigrationError(
                f"Could not upgrade from version {migration.from_version} to "
                f"{migration.to_version} ({migration.description}): {exc!r}",
                from_version=migration.from_version,
            ) from exc
        if not isinstance(migrated, dict):
            raise MigrationError(
                f"Upgrading from version {migration.from_version} produced no settings object",
                from_version=migration.from_version,
            )
        migrated["schema_version"] = migration.to_version
        log.info("migrated from version %d: %s", migration.from_version, migration.description)
        result = migrated
    return result
