"""API keys: in the OS keyring, never in a file or a log line (DESIGN.md "Providers").

Each provider has its own keyring entry (service ``realtime-desktop/<provider>``, user
``api-key``), so an Azure key is never sent to OpenAI or a custom server. When the keyring has no
key, the environment is the fallback: ``OPENAI_API_KEY`` for OpenAI, ``AZURE_OPENAI_API_KEY`` for
Azure; a custom server gets only a key stored for it. The offline server needs none.
:meth:`SecretStore.resolve` says which of these the key in use came from, in a sentence the
dialog shows under the (masked) key field.

Keyring backends can block (a D-Bus round trip, an unlock prompt): from the event loop use the
``*_async`` methods, which run them in a worker thread.

This module never logs a key. Redacting keys that reach a log line elsewhere is the job of
``realtime_desktop.core.redaction`` (installed on the app's log handlers); pass its
``register_secret`` as ``on_key_seen`` so every key this store reads or saves is known to the
redaction before anything else can log it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import keyring
import keyring.errors

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

SERVICE_PREFIX = "realtime-desktop"
KEYRING_USER = "api-key"

# Where a key may come from when the keyring has none (provider → environment variable).
ENVIRONMENT_VARIABLES: Mapping[str, str] = {
    "openai": "OPENAI_API_KEY",
    "azure": "AZURE_OPENAI_API_KEY",
}
PROVIDERS_WITHOUT_KEY = frozenset({"offline"})
KEYED_PROVIDERS = ("openai", "azure", "custom")


class KeySource(enum.Enum):
    KEYRING = "keyring"
    ENVIRONMENT = "environment"
    NONE = "none"
    NOT_NEEDED = "not-needed"


class SecretStoreError(Exception):
    """The keyring could not do what was asked; ``str()`` is a sentence for the user."""


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """The key for one provider and where it came from. ``value`` never appears in ``repr``.

    Attributes:
        provider: "openai", "azure", "custom" or "offline".
        source: keyring, environment, none (the user must enter one) or not needed.
        explanation: a sentence for the dialog, e.g. "Using the key from the OPENAI_API_KEY
            environment variable; save one here to keep it in the system keyring."
        value: the key, or None.
    """

    provider: str
    source: KeySource
    explanation: str
    value: str | None = dataclasses.field(default=None, repr=False)

    @property
    def masked(self) -> str:
        """For display: ``sk-…wxyz``; empty when there is no key."""
        return mask_key(self.value) if self.value else ""


def mask_key(key: str) -> str:
    if len(key) <= 8:
        return "•" * len(key)
    prefix = key[:3] if key[:3] in ("sk-", "ek_") else ""
    return f"{prefix}…{key[-4:]}"


def service_name(provider: str) -> str:
    return f"{SERVICE_PREFIX}/{provider}"


class SecretStore:
    """API keys per provider in the OS keyring, with the environment fallback.

    Args:
        backend: a keyring backend to use instead of the process's default (tests pass an
            in-memory one); None uses ``keyring.get_keyring()`` at each call.
        environ: where to look for fallback variables (default ``os.environ``).
        on_key_seen: called with every key read or stored (the app passes the core's
            ``register_secret``, so log redaction knows keys without a recognisable prefix).
    """

    def __init__(
        self,
        *,
        backend: KeyringBackend | None = None,
        environ: Mapping[str, str] | None = None,
        on_key_seen: Callable[[str], None] | None = None,
    ) -> None:
        self._backend = backend
        self._environ = environ if environ is not None else os.environ
        self._on_key_seen = on_key_seen

    def _keyring(self) -> KeyringBackend:
        return self._backend if self._backend is not None else keyring.get_keyring()

    def _remember(self, secret: str) -> None:
        if self._on_key_seen is not None:
            self._on_key_seen(secret)

    # The keyring ------------------------------------------------------------------------------

    def stored_key(self, provider: str) -> str | None:
        """The key in the keyring for ``provider``, or None; raises :class:`SecretStoreError`."""
        _check_provider(provider)
        try:
            value = self._keyring().get_password(service_name(provider), KEYRING_USER)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(_describe_keyring_error(exc, "read the key")) from exc
        if value:
            self._remember(value)
        return value or None

    def store_key(self, provider: str, key: str) -> None:
        """Saves ``key`` for ``provider`` in the keyring (replacing any). Raises
        :class:`SecretStoreError` for an unusable key or keyring."""
        _check_provider(provider)
        key = key.strip()
        problem = key_problem(key)
        if problem:
            raise SecretStoreError(problem)
        self._remember(key)
        try:
            self._keyring().set_password(service_name(provider), KEYRING_USER, key)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(_describe_keyring_error(exc, "save the key")) from exc
        log.info("stored the %s API key in the system keyring", provider)

    def delete_key(self, provider: str) -> bool:
        """Removes the stored key; False if there was none."""
        _check_provider(provider)
        try:
            if self._keyring().get_password(service_name(provider), KEYRING_USER) is None:
                return False
            self._keyring().delete_password(service_name(provider), KEYRING_USER)
        except keyring.errors.PasswordDeleteError:
            return False
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(_describe_keyring_error(exc, "delete the key")) from exc
        log.info("deleted the %s API key from the system keyring", provider)
        return True

    # What the connection uses -----------------------------------------------------------------

    def resolve(self, provider: str) -> ApiKey:
        """The key to connect with and where it came from. Never raises: a keyring that cannot
        be read is explained and the environment is tried."""
        if provider in PROVIDERS_WITHOUT_KEY:
            return ApiKey(provider, KeySource.NOT_NEEDED, "The offline server needs no key.")
        keyring_problem = ""
        try:
            stored = self.stored_key(provider)
        except SecretStoreError as exc:
            stored, keyring_problem = None, f"{exc} "
        if stored:
            return ApiKey(
                provider, KeySource.KEYRING, "Using the key saved in the system keyring.", stored
            )
        variable = ENVIRONMENT_VARIABLES.get(provider)
        from_environment = self._environ.get(variable, "").strip() if variable else ""
        if variable and from_environment:
            self._remember(from_environment)
            return ApiKey(
                provider,
                KeySource.ENVIRONMENT,
                f"{keyring_problem}Using the key from the {variable} environment variable; save "
                "a key here to keep it in the system keyring instead.",
                from_environment,
            )
        hint = f", and {variable} is not set" if variable else ""
        return ApiKey(
            provider,
            KeySource.NONE,
            f"{keyring_problem}No key is saved for this provider{hint}. Enter one to connect.",
        )

    async def resolve_async(self, provider: str) -> ApiKey:
        return await asyncio.to_thread(self.resolve, provider)

    async def store_key_async(self, provider: str, key: str) -> None:
        # The key travels inside a closure, not as an argument: an executor that logs what it
        # is given (qasync's does, at DEBUG) would otherwise write the key to the log before
        # store_key() has registered it for redaction.
        await asyncio.to_thread(lambda: self.store_key(provider, key))

    async def delete_key_async(self, provider: str) -> bool:
        return await asyncio.to_thread(self.delete_key, provider)


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an API key (for the dialog's inline message), or None."""
    if not key:
        return "Enter an API key."
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        return "The API key must not contain spaces, line breaks or control characters."
    if len(key) > 4096:
        return "The API key is too long."
    return None


def _check_provider(provider: str) -> None:
    if provider not in KEYED_PROVIDERS:
        raise ValueError(f"provider {provider!r} has no key (one of {KEYED_PROVIDERS})")


def _describe_keyring_error(exc: keyring.errors.KeyringError, action: str) -> str:
    if isinstance(exc, keyring.errors.NoKeyringError):
        return (
            f"Could not {action}: no system keyring is available on this computer (on Linux, "
            "a Secret Service such as GNOME Keyring or KWallet)."
        )
    if isinstance(exc, keyring.errors.KeyringLocked):
        return f"Could not {action}: the system keyring is locked. Unlock it and try again."
    return f"Could not {action}: the system keyring reported an error ({type(exc).__name__})."
