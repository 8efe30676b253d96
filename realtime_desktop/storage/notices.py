"""Notices: what the storage layer tells the user when it had to act on its own.

A corrupt settings file, a conversation from a newer version, a failed migration: the storage
layer recovers (defaults load, the file is set aside, nothing crashes) and returns a notice. The
app shows each notice once (a banner or a message box); the storage layer never shows anything.
"""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path


class Severity(enum.Enum):
    INFO = "info"  # done on the user's behalf, nothing lost (a migration)
    WARNING = "warning"  # something was set aside or reset; the user should know
    ERROR = "error"  # something could not be read or written at all


class NoticeKind(enum.Enum):
    SETTINGS_CORRUPT = "settings-corrupt"
    SETTINGS_FROM_NEWER_VERSION = "settings-from-newer-version"
    SETTINGS_MIGRATED = "settings-migrated"
    SETTINGS_MIGRATION_FAILED = "settings-migration-failed"
    SETTINGS_FIELDS_RESET = "settings-fields-reset"
    SETTINGS_UNREADABLE = "settings-unreadable"
    CONVERSATION_CORRUPT = "conversation-corrupt"
    CONVERSATION_FROM_NEWER_VERSION = "conversation-from-newer-version"
    CONVERSATION_UNREADABLE = "conversation-unreadable"
    INDEX_REBUILT = "index-rebuilt"


@dataclasses.dataclass(frozen=True)
class StorageNotice:
    """One thing to tell the user.

    Attributes:
        kind: what happened, for code that reacts to it (tests, the history window's banner).
        severity: how loudly to say it.
        message: a complete sentence or two for the user, naming the file and what was done.
        path: the file concerned, where it was.
        moved_to: where the file was set aside, if it was.
    """

    kind: NoticeKind
    severity: Severity
    message: str
    path: Path
    moved_to: Path | None = None
