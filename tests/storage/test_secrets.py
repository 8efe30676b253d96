"""API keys: in the keyring (an in-memory backend here), the environment as a fallback that is
explained, and never in a file under the profile or in a log line."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from pathlib import Path

import keyring.errors
import pytest

from realtime_desktop.storage.autosave import Autosaver
from realtime_desktop.storage.conversation_store import ConversationStore
from realtime_desktop.storage.paths import AppPaths
from realtime_desktop.storage.secrets import (
    KEYRING_USER,
    ApiKey,
    KeySource,
    SecretStore,
    SecretStoreError,
    key_problem,
    mask_key,
    service_name,
)
from realtime_desktop.storage.settings import Settings, SettingsInvalidError
from realtime_desktop.storage.settings_file import SettingsFile

from .conftest import BrokenKeyring, MemoryKeyring, make_document

KEY = "sk-proj-Zx81TEST0000secret0000key0000abcd"
AZURE_KEY = "3f1c0ffee0ddba11deadbeef00c0ffee"


def test_keys_live_in_the_keyring_one_entry_per_provider(memory_keyring: MemoryKeyring) -> None:
    secrets = SecretStore(environ={})
    secrets.store_key("openai", KEY)
    secrets.store_key("azure", f"  {AZURE_KEY}\n")  # pasted with whitespace
    assert memory_keyring.entries == {
        ("realtime-desktop/openai", KEYRING_USER): KEY,
        ("realtime-desktop/azure", KEYRING_USER): AZURE_KEY,
    }
    assert secrets.stored_key("openai") == KEY
    assert secrets.stored_key("custom") is None
    assert service_name("custom") == "realtime-desktop/custom"


def test_resolve_says_where_the_key_came_from(memory_keyring: MemoryKeyring) -> None:
    environ = {"OPENAI_API_KEY": "sk-fromtheenvironment0000000000", "AZURE_OPENAI_API_KEY": ""}
    secrets = SecretStore(environ=environ)

    from_environment = secrets.resolve("openai")
    assert from_environment.source is KeySource.ENVIRONMENT
    assert from_environment.value == environ["OPENAI_API_KEY"]
    assert "OPENAI_API_KEY" in from_environment.explanation

    secrets.store_key("openai", KEY)
    from_keyring = secrets.resolve("openai")  # the keyring wins over the environment
    assert (from_keyring.source, from_keyring.value) == (KeySource.KEYRING, KEY)
    assert "system keyring" in from_keyring.explanation

    missing = secrets.resolve("azure")  # the variable is set but empty
    assert (missing.source, missing.value) == (KeySource.NONE, None)
    assert "AZURE_OPENAI_API_KEY is not set" in missing.explanation

    offline = secrets.resolve("offline")
    assert offline.source is KeySource.NOT_NEEDED
    assert offline.value is None


def test_a_custom_server_never_gets_the_openai_key_from_the_environment(
    memory_keyring: MemoryKeyring,
) -> None:
    secrets = SecretStore(environ={"OPENAI_API_KEY": KEY})
    custom = secrets.resolve("custom")
    assert custom.source is KeySource.NONE
    assert custom.value is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (keyring.errors.NoKeyringError("none"), "no system keyring is available"),
        (keyring.errors.KeyringLocked("locked"), "keyring is locked"),
        (keyring.errors.KeyringError("dbus"), "reported an error"),
    ],
)
def test_an_unusable_keyring_is_explained_and_the_environment_still_works(
    error: keyring.errors.KeyringError, expected: str
) -> None:
    secrets = SecretStore(backend=BrokenKeyring(error), environ={"OPENAI_API_KEY": KEY})
    resolved = secrets.resolve("openai")
    assert resolved.source is KeySource.ENVIRONMENT
    assert resolved.value == KEY
    assert expected in resolved.explanation
    with pytest.raises(SecretStoreError, match=expected):
        secrets.store_key("openai", KEY)
    with pytest.raises(SecretStoreError, match=expected):
        secrets.delete_key("openai")
    nothing = SecretStore(backend=BrokenKeyring(error), environ={}).resolve("openai")
    assert nothing.source is KeySource.NONE
    assert expected in nothing.explanation


def test_unusable_keys_are_refused(memory_keyring: MemoryKeyring) -> None:
    secrets = SecretStore(environ={})
    for bad in ("", "   ", "sk-with space", "sk-two\nlines"):
        with pytest.raises(SecretStoreError):
            secrets.store_key("openai", bad)
    assert key_problem("") == "Enter an API key."
    assert key_problem(KEY) is None
    assert memory_keyring.entries == {}
    with pytest.raises(ValueError, match="has no key"):
        secrets.store_key("offline", KEY)


def test_delete(memory_keyring: MemoryKeyring) -> None:
    secrets = SecretStore(environ={})
    assert secrets.delete_key("openai") is False
    secrets.store_key("openai", KEY)
    assert secrets.delete_key("openai") is True
    assert secrets.resolve("openai").source is KeySource.NONE


def test_the_key_is_masked_and_kept_out_of_repr() -> None:
    resolved = ApiKey("openai", KeySource.KEYRING, "x", KEY)
    assert KEY not in repr(resolved)
    assert KEY not in str(resolved)
    assert resolved.masked == "sk-…abcd"
    assert mask_key("short") == "•••••"


def test_every_key_seen_is_reported_for_log_redaction(memory_keyring: MemoryKeyring) -> None:
    seen: list[str] = []
    secrets = SecretStore(
        environ={"OPENAI_API_KEY": "sk-env000000000000000000"}, on_key_seen=seen.append
    )
    secrets.resolve("openai")
    secrets.store_key("azure", AZURE_KEY)
    secrets.resolve("azure")
    assert seen == ["sk-env000000000000000000", AZURE_KEY, AZURE_KEY]


def test_async_variants_run_off_the_loop(memory_keyring: MemoryKeyring) -> None:
    secrets = SecretStore(environ={})

    async def scenario() -> ApiKey:
        await secrets.store_key_async("openai", KEY)
        resolved = await secrets.resolve_async("openai")
        assert await secrets.delete_key_async("openai") is True
        return resolved

    assert asyncio.run(scenario()).value == KEY


def test_storing_off_the_loop_hands_the_executor_no_key(memory_keyring: MemoryKeyring) -> None:
    """qasync's executor logs every call it is given, arguments included, at DEBUG."""
    submitted: list[str] = []

    class RecordingExecutor(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            submitted.append(repr((fn, args, kwargs)))
            return super().submit(fn, *args, **kwargs)

    async def scenario() -> None:
        with RecordingExecutor(max_workers=1) as executor:
            asyncio.get_running_loop().set_default_executor(executor)
            await SecretStore(environ={}).store_key_async("azure", AZURE_KEY)

    asyncio.run(scenario())
    assert memory_keyring.entries[(service_name("azure"), KEYRING_USER)] == AZURE_KEY
    assert submitted
    assert not [call for call in submitted if AZURE_KEY in call]


def test_the_key_is_never_in_a_file_or_a_log_line(
    memory_keyring: MemoryKeyring, paths: AppPaths, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 7 acceptance 2: everything the app does with settings, keys and conversations,
    with every logger at DEBUG, and then a search of every file and every log record."""
    caplog.set_level(logging.DEBUG)
    secrets = SecretStore(environ={"OPENAI_API_KEY": KEY})
    secrets.resolve("openai")  # from the environment first
    secrets.store_key("openai", KEY)
    assert secrets.resolve("openai").value == KEY

    # Attempts to put the key where it does not belong are refused without echoing it.
    for path, value in (
        ("connection.custom_headers", {"Authorization": f"Bearer {KEY}"}),
        ("connection.custom_url", f"wss://proxy.example.com/?api-key={KEY}"),
        ("connection.ephemeral_key_url", f"https://{KEY}:x@keys.example.com/"),
    ):
        with pytest.raises(SettingsInvalidError) as refused:
            Settings.production().with_value(path, value)
        assert KEY not in str(refused.value)

    settings_file = SettingsFile.for_paths(paths)
    settings_file.save(Settings.production().with_value("connection.provider", "openai"))
    settings_file.load()

    store = ConversationStore(paths.conversations_dir())

    async def converse() -> None:
        document = make_document(12)
        autosaver = Autosaver(store, document)
        document.title = "Weather"
        autosaver.mark_changed()
        await autosaver.close()

    asyncio.run(converse())
    (summary,) = store.list_conversations()
    store.export(summary.id, "markdown", paths.data_dir / "export.md")
    store.search("weather")

    files = [p for root in (paths.config_dir, paths.data_dir, paths.log_dir) for p in _files(root)]
    assert len(files) >= 4  # settings, conversation, index, export
    for file in files:
        assert KEY.encode() not in file.read_bytes(), file
    assert caplog.records  # the operations above do log
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in (record.exc_text or "")


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]
