"""The API key field: per provider, masked, saved to the system keyring on Apply.

The key is not a setting (it never reaches the settings file): the field shows where the key
in use comes from (:meth:`SecretStore.resolve`: the keyring, the ``OPENAI_API_KEY`` fallback or
nowhere), takes a new key, or marks the saved one for removal. Nothing reaches the keyring
until the dialog applies; Cancel forgets what was typed. Keyring calls can block (D-Bus, an
unlock prompt), so they run through the store's ``*_async`` methods.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from realtime_desktop.storage.secrets import (
    KEYED_PROVIDERS,
    ApiKey,
    KeySource,
    SecretStore,
    SecretStoreError,
    key_problem,
)
from realtime_desktop.ui.settings.background import BackgroundTasks
from realtime_desktop.ui.settings.fields import secondary_button
from realtime_desktop.ui.settings.labels import StatusLabel, Tone

log = logging.getLogger(__name__)

REMOVE_PENDING = None
"""A pending change that removes the saved key (a ``str`` saves that key)."""


class ApiKeyEditor(QObject):
    """The key for the provider chosen in the dialog.

    Signals:
        changed: a key was typed or marked for removal (the dialog re-validates).
        looked_up: the keyring was read for a provider (the explanation is up to date).
    """

    changed = Signal()
    looked_up = Signal(str)

    def __init__(self, secrets: SecretStore, tasks: BackgroundTasks, parent: QObject) -> None:
        super().__init__(parent)
        self._secrets = secrets
        self._tasks = tasks
        self._provider = ""
        self._resolved: dict[str, ApiKey] = {}
        self._pending: dict[str, str | None] = {}

        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setAccessibleName("API key")
        self.edit.setAccessibleDescription(
            "A new key for this provider, saved in the system keyring when you apply."
        )
        self.label = QLabel("API key")
        self.label.setBuddy(self.edit)
        self.show_button = secondary_button("Show", "Show the key as typed")
        self.show_button.setCheckable(True)
        self.remove_button = secondary_button(
            "Remove saved key", "Remove the key saved in the system keyring"
        )
        self.explanation = StatusLabel("", Tone.MUTED)
        self.explanation.setObjectName("api-key-explanation")
        self.error_label = StatusLabel("", Tone.ERROR)
        self.error_label.setObjectName("error:api_key")
        self.error_label.setVisible(False)

        self.field = QWidget()
        column = QVBoxLayout(self.field)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(self.show_button)
        row.addWidget(self.remove_button)
        column.addLayout(row)
        column.addWidget(self.explanation)
        column.addWidget(self.error_label)

        self.edit.textEdited.connect(self._typed)
        self.show_button.toggled.connect(self._show_typed)
        self.remove_button.clicked.connect(self._mark_for_removal)

    # What the dialog asks ------------------------------------------------------------------------

    @property
    def provider(self) -> str:
        return self._provider

    def set_provider(self, provider: str) -> None:
        """Shows the key of ``provider`` (what was typed for it stays pending)."""
        if provider == self._provider:
            return
        self._provider = provider
        pending = self._pending.get(provider)
        self.edit.setText(pending or "")
        needs_key = provider in KEYED_PROVIDERS
        self.field.setEnabled(needs_key)
        self.label.setEnabled(needs_key)
        self._describe()
        if provider not in self._resolved:
            self._tasks.start(self._look_up(provider), name=f"resolve {provider} key")

    def error(self) -> str | None:
        typed = self._pending.get(self._provider)
        return key_problem(typed.strip()) if isinstance(typed, str) else None

    def has_pending_changes(self) -> bool:
        return bool(self._pending)

    def key_for_connection(self) -> str | None:
        """The key a connection test should use: the one typed, else the one in use (unless
        it is marked for removal)."""
        provider = self._provider
        if provider in self._pending:
            typed = self._pending[provider]
            return typed.strip() if typed is not None else self._environment_key(provider)
        resolved = self._resolved.get(provider)
        return resolved.value if resolved is not None else None

    async def resolved(self, provider: str) -> ApiKey:
        """Where the key for ``provider`` comes from now (reads the keyring off the loop)."""
        if provider not in self._resolved:
            await self._look_up(provider)
        return self._resolved[provider]

    async def apply(self) -> None:
        """Saves typed keys and removes marked ones; raises :class:`SecretStoreError` (a
        sentence for the user) and keeps what was not done pending."""
        for provider, key in list(self._pending.items()):
            if key is REMOVE_PENDING:
                await self._secrets.delete_key_async(provider)
            else:
                await self._secrets.store_key_async(provider, key.strip())
            del self._pending[provider]
            self._resolved.pop(provider, None)
        self.edit.clear()
        if self._provider:
            await self._look_up(self._provider)

    def show_error(self, message: str | None) -> None:
        self.error_label.show_message(message or "")

    # Internals -----------------------------------------------------------------------------------

    def _environment_key(self, provider: str) -> str | None:
        resolved = self._resolved.get(provider)
        if resolved is not None and resolved.source is KeySource.ENVIRONMENT:
            return resolved.value
        return None

    async def _look_up(self, provider: str) -> None:
        self._resolved[provider] = await self._secrets.resolve_async(provider)
        if provider == self._provider:
            self._describe()
        self.looked_up.emit(provider)

    def _typed(self, text: str) -> None:
        if text:
            self._pending[self._provider] = text
        else:
            self._pending.pop(self._provider, None)
        self._describe()
        self.changed.emit()

    def _mark_for_removal(self) -> None:
        self.edit.clear()
        self._pending[self._provider] = REMOVE_PENDING
        self._describe()
        self.changed.emit()

    def _show_typed(self, shown: bool) -> None:
        self.edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_button.setText("Hide" if shown else "Show")

    def _describe(self) -> None:
        provider = self._provider
        resolved = self._resolved.get(provider)
        saved = resolved is not None and resolved.source is KeySource.KEYRING
        pending = self._pending.get(provider, "")
        if provider not in KEYED_PROVIDERS:
            text, placeholder = "The offline server needs no key.", ""
        elif resolved is None:
            text, placeholder = "Looking in the system keyring…", ""
        elif provider in self._pending and pending is REMOVE_PENDING:
            text = "The saved key will be removed from the system keyring when you apply."
            placeholder = "Type a new key, or apply to remove the saved one"
        elif pending:
            text = "The new key will be saved in the system keyring when you apply."
            placeholder = ""
        else:
            text = resolved.explanation
            placeholder = (
                f"{resolved.masked}  (type to replace it)" if resolved.masked else "Paste your key"
            )
        self.explanation.show_message(text)
        self.edit.setPlaceholderText(placeholder)
        self.remove_button.setEnabled(saved and provider not in self._pending)


__all__ = ["ApiKeyEditor", "SecretStoreError"]
