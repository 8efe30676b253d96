"""The settings file: load with migrations and recovery, save atomically.

Loading never fails and never loses the user's file:

* no file yet: defaults, no notice (first start);
* unreadable (permissions, I/O): defaults and an error notice; the file stays where it is;
* not JSON, not an object, no usable ``schema_version``: moved aside as
  ``settings.corrupt-<time>.json``, defaults, a warning notice;
* from a newer version of the app: moved aside as ``settings.from-newer-version-<time>.json``,
  defaults, a warning notice (so a downgrade does not silently rewrite it);
* from an older version: migrated step by step; the original is kept as
  ``settings.before-migration-v<N>-<time>.json`` and the upgraded file written. If a migration
  fails, the file is left untouched (a copy is kept too, because the next save replaces it) and
  defaults load with a notice;
* fields with invalid values (a hand edit): only those fields take their defaults, a copy of the
  file is kept, and the notice names each field and why.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from realtime_desktop.storage.files import (
    StorageError,
    atomic_write_bytes,
    ensure_directory,
    read_bytes,
    set_aside,
)
from realtime_desktop.storage.migrations import MigrationError, check_chain, migrate
from realtime_desktop.storage.notices import NoticeKind, Severity, StorageNotice
from realtime_desktop.storage.paths import AppPaths
from realtime_desktop.storage.settings import (
    SETTINGS_SCHEMA_VERSION,
    FieldError,
    Settings,
    field_errors_of,
)
from realtime_desktop.storage.settings_migrations import SETTINGS_MIGRATIONS

log = logging.getLogger(__name__)

check_chain(SETTINGS_MIGRATIONS, SETTINGS_SCHEMA_VERSION)

# Recovery drops one invalid key per error and validates again; a file has far fewer keys.
_MAX_RECOVERY_ROUNDS = 200


@dataclasses.dataclass(frozen=True)
class LoadedSettings:
    """What :meth:`SettingsFile.load` found.

    Attributes:
        settings: the settings to use (defaults where the file could not be used).
        notices: what to tell the user, in order; empty on a normal start.
        migrated_from: the file's schema version if it was upgraded, else None.
    """

    settings: Settings
    notices: tuple[StorageNotice, ...] = ()
    migrated_from: int | None = None


class _CorruptSettingsError(Exception):
    """The file's bytes are not a settings document; the message says why."""


class SettingsFile:
    """The settings file at ``path`` (normally ``AppPaths.settings_file``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_paths(cls, paths: AppPaths) -> SettingsFile:
        return cls(paths.settings_file)

    def save(self, settings: Settings) -> None:
        """Writes ``settings`` atomically; raises :class:`StorageError` (a sentence for the
        user) if it cannot."""
        ensure_directory(self.path.parent)
        atomic_write_bytes(self.path, settings.model_dump_json(indent=2).encode("utf-8"))
        log.info("saved settings to %s", self.path)

    async def save_async(self, settings: Settings) -> None:
        """:meth:`save` off the event loop (fsync can take tens of milliseconds)."""
        await asyncio.to_thread(self.save, settings)

    def load(self) -> LoadedSettings:
        if not self.path.exists():
            log.info("no settings file at %s yet; using defaults", self.path)
            return LoadedSettings(Settings())
        try:
            raw = read_bytes(self.path)
        except StorageError as exc:
            return self._defaults(NoticeKind.SETTINGS_UNREADABLE, Severity.ERROR, str(exc))
        try:
            data, version = _parse(raw)
        except _CorruptSettingsError as exc:
            return self._set_aside(NoticeKind.SETTINGS_CORRUPT, "corrupt", str(exc))
        if version > SETTINGS_SCHEMA_VERSION:
            return self._set_aside(
                NoticeKind.SETTINGS_FROM_NEWER_VERSION,
                "from-newer-version",
                f"it was written by a newer version of the app (settings version {version}; "
                f"this version reads up to {SETTINGS_SCHEMA_VERSION})",
            )
        if version < SETTINGS_SCHEMA_VERSION:
            return self._migrate(data, version)
        settings, reset = _validate_with_recovery(data)
        if not reset:
            return LoadedSettings(settings)
        return LoadedSettings(settings, (self._fields_reset_notice(reset),))

    # ---------------------------------------------------------------------------------------

    def _migrate(self, data: dict[str, Any], version: int) -> LoadedSettings:
        try:
            migrated = migrate(
                data,
                SETTINGS_MIGRATIONS,
                from_version=version,
                current_version=SETTINGS_SCHEMA_VERSION,
            )
        except MigrationError as exc:
            log.warning("settings migration failed: %s", exc)
            return self._keep_copy_and_default(
                NoticeKind.SETTINGS_MIGRATION_FAILED,
                f"migration-failed-v{version}",
                f"Your settings from an older version could not be upgraded ({exc}). "
                f"{self.path.name} was left as it was",
            )
        settings, reset = _validate_with_recovery(migrated)
        notices: list[StorageNotice] = []
        backup: Path | None = None
        try:
            backup = set_aside(self.path, f"before-migration-v{version}", copy=True)
            self.save(settings)
            message = (
                f"Your settings were upgraded from version {version} to "
                f"{SETTINGS_SCHEMA_VERSION}. The original is kept as {backup.name}."
            )
            severity = Severity.INFO
        except StorageError as exc:
            message = (
                f"Your settings were upgraded from version {version} for this session, but the "
                f"upgraded file could not be saved: {exc}"
            )
            severity = Severity.WARNING
        notices.append(
            StorageNotice(NoticeKind.SETTINGS_MIGRATED, severity, message, self.path, backup)
        )
        if reset:
            notices.append(self._fields_reset_notice(reset, backup))
        return LoadedSettings(settings, tuple(notices), migrated_from=version)

    def _defaults(self, kind: NoticeKind, severity: Severity, reason: str) -> LoadedSettings:
        message = f"{reason} Default settings are in use."
        log.warning("settings: %s", message)
        return LoadedSettings(Settings(), (StorageNotice(kind, severity, message, self.path),))

    def _set_aside(self, kind: NoticeKind, label: str, reason: str) -> LoadedSettings:
        try:
            moved_to = set_aside(self.path, label)
        except StorageError as exc:
            return self._defaults(
                kind, Severity.ERROR, f"{self.path} cannot be used ({reason}) nor moved: {exc}"
            )
        message = (
            f"Your settings file could not be used because {reason}. It was moved to "
            f"{moved_to.name}, and default settings are in use."
        )
        log.warning("settings: %s", message)
        return LoadedSettings(
            Settings(), (StorageNotice(kind, Severity.WARNING, message, self.path, moved_to),)
        )

    def _keep_copy_and_default(self, kind: NoticeKind, label: str, reason: str) -> LoadedSettings:
        try:
            copied: Path | None = set_aside(self.path, label, copy=True)
            kept = f"; a copy is kept as {copied.name}" if copied else ""
        except StorageError as exc:
            copied, kept = None, f"; a copy could not be made ({exc})"
        message = f"{reason}{kept}. Default settings are in use."
        log.warning("settings: %s", message)
        return LoadedSettings(
            Settings(), (StorageNotice(kind, Severity.WARNING, message, self.path, copied),)
        )

    def _fields_reset_notice(
        self, reset: list[FieldError], backup: Path | None = None
    ) -> StorageNotice:
        if backup is None:
            try:
                backup = set_aside(self.path, "invalid-values", copy=True)
            except StorageError as exc:
                log.warning("could not keep a copy of %s: %s", self.path, exc)
        by_path: dict[str, str] = {}
        for error in reset:
            by_path.setdefault(error.path, error.message)
        fields = "; ".join(f"{path}: {message}" for path, message in by_path.items())
        kept = f" The file as it was is kept as {backup.name}." if backup else ""
        message = (
            f"Some settings were not valid and now have their default values ({fields}).{kept}"
        )
        log.warning("settings: %s", message)
        return StorageNotice(
            NoticeKind.SETTINGS_FIELDS_RESET, Severity.WARNING, message, self.path, backup
        )


def _parse(raw: bytes) -> tuple[dict[str, Any], int]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _CorruptSettingsError(
            f"it is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except json.JSONDecodeError as exc:
        raise _CorruptSettingsError(
            f"it is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from exc
    if not isinstance(data, dict):
        raise _CorruptSettingsError("it does not contain a settings object")
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _CorruptSettingsError("it has no valid schema version")
    return data, version


def _validate_with_recovery(data: dict[str, Any]) -> tuple[Settings, list[FieldError]]:
    """Validates ``data``; each invalid value is dropped so its default applies. Returns the
    settings and the problems that were repaired that way."""
    data = copy.deepcopy(data)
    reset: list[FieldError] = []
    for _ in range(_MAX_RECOVERY_ROUNDS):
        try:
            return Settings.model_validate(data), reset
        except ValidationError as exc:
            errors = field_errors_of(exc)
        dropped = [error for error in errors if _drop(data, error.loc)]
        if not dropped:
            break
        reset.extend(dropped)
    # Nothing left to drop (or a rule no single key explains): start from defaults.
    log.warning("settings could not be repaired key by key; using defaults")
    return Settings(), reset


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    """Removes the value at ``loc`` (or, if that is already absent, its nearest present
    parent below the top level) so the default applies. False when nothing could be removed."""
    parts = [part for part in loc if part != "[key]"]
    for depth in range(len(parts), 0, -1):
        node: Any = data
        for part in parts[: depth - 1]:
            node = node.get(part) if isinstance(node, dict) else None
        key = parts[depth - 1]
        if isinstance(node, dict) and key in node:
            del node[key]
            return True
        if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            del node[key]
            return True
    return False
