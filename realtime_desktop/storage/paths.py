"""Where the app keeps its files: one place that answers it.

By default the folders follow the platform (platformdirs, app name ``realtime-desktop``; on Linux
``~/.config/realtime-desktop``, ``~/.local/share/realtime-desktop`` and
``~/.local/state/realtime-desktop/log``). The app's ``--config-dir DIR`` puts everything under
``DIR`` instead: settings in ``DIR``, conversations in ``DIR/conversations``, logs in
``DIR/logs`` — so a test, a second profile or a portable install is one flag.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import platformdirs

from realtime_desktop.storage.files import ensure_directory

log = logging.getLogger(__name__)

APP_NAME = "realtime-desktop"
SETTINGS_FILE_NAME = "settings.json"
CONVERSATIONS_FOLDER_NAME = "conversations"
LOGS_FOLDER_NAME = "logs"


@dataclasses.dataclass(frozen=True)
class AppPaths:
    """The three roots. Nothing is created until :meth:`ensure` (or a writer) needs it."""

    config_dir: Path
    data_dir: Path
    log_dir: Path

    @classmethod
    def platform_default(cls) -> AppPaths:
        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        return cls(
            config_dir=dirs.user_config_path,
            data_dir=dirs.user_data_path,
            log_dir=dirs.user_log_path,
        )

    @classmethod
    def under(cls, root: Path) -> AppPaths:
        """Everything under one folder (the app's ``--config-dir``)."""
        root = root.expanduser().absolute()
        return cls(config_dir=root, data_dir=root, log_dir=root / LOGS_FOLDER_NAME)

    @classmethod
    def resolve(cls, config_dir_override: Path | None) -> AppPaths:
        """The paths for the command line: the override if given, else the platform's."""
        if config_dir_override is None:
            paths = cls.platform_default()
        else:
            paths = cls.under(config_dir_override)
        log.debug("storage paths: %s", paths)
        return paths

    @property
    def settings_file(self) -> Path:
        return self.config_dir / SETTINGS_FILE_NAME

    @property
    def default_conversations_dir(self) -> Path:
        """Where conversations go unless the user chose a folder (Privacy & storage)."""
        return self.data_dir / CONVERSATIONS_FOLDER_NAME

    def conversations_dir(self, chosen: str = "") -> Path:
        """The conversations folder: ``chosen`` (a setting, ``~`` allowed) or the default."""
        return Path(chosen).expanduser() if chosen else self.default_conversations_dir

    def ensure(self) -> AppPaths:
        """Creates the three folders (user-only permissions). Returns ``self``."""
        for folder in (self.config_dir, self.data_dir, self.log_dir):
            ensure_directory(folder)
        return self
