"""The settings file: first start, atomic saves, migration from version 1, and every way a
file can be unusable — each sets the file aside (or keeps a copy) and loads defaults with a
notice, never an exception."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from realtime_desktop.storage.migrations import MigrationError, migrate
from realtime_desktop.storage.notices import NoticeKind, Severity
from realtime_desktop.storage.paths import AppPaths
from realtime_desktop.storage.settings import SETTINGS_SCHEMA_VERSION, Settings
from realtime_desktop.storage.settings_file import SettingsFile
from realtime_desktop.storage.settings_migrations import SETTINGS_MIGRATIONS

# A complete version 1 file, as the seed-shaped first release wrote it.
V1_FILE: dict[str, Any] = {
    "schema_version": 1,
    "provider": "azure",
    "base_url": "wss://proxy.example.com/realtime",
    "dialect": "beta",
    "headers": {"X-Team": "voice"},
    "azure_endpoint": "https://contoso-east.openai.azure.com/",
    "azure_deployment": "realtime-prod",
    "model": "gpt-realtime-1.5",
    "voice": "cedar",
    "instructions": "Answer in French.",
    "modalities": ["text"],
    "speed": 1.1,
    "max_response_output_tokens": "inf",
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.65,
        "prefix_padding_ms": 250,
        "silence_duration_ms": 700,
        "create_response": True,
        "interrupt_response": False,
    },
    "input_audio_transcription": {"model": "whisper-1", "language": "fr", "prompt": None},
    "input_audio_noise_reduction": {"type": "far_field"},
    "conversation": {
        "auto_reconnect": False,
        "max_reconnect_attempts": 8,
        "reconnect_delay": 3.0,
        "buffer_while_disconnected": False,
        "enable_echo_cancellation": False,
        "enable_noise_suppression": True,
        "vad_threshold": 0.3,
        "show_audio_levels": False,
        "persist_conversation": True,
        "persistence_path": "/srv/conversations",
    },
    "devices": {"input": "USB Mic", "output": None},
    "tools": {"enabled": True, "require_approval": False, "timeout_seconds": 45},
    "record_audio": True,
    "log_level": "warning",
    "prices": {"gpt-realtime-1.5": {"text_in": 4, "text_out": 16, "audio_in": 32, "audio_out": 64}},
}


@pytest.fixture
def settings_file(paths: AppPaths) -> SettingsFile:
    return SettingsFile.for_paths(paths)


def _write(path: Path, content: bytes | str | dict[str, Any]) -> bytes:
    if isinstance(content, dict):
        content = json.dumps(content)
    raw = content.encode() if isinstance(content, str) else content
    path.write_bytes(raw)
    return raw


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.is_file())


def test_first_start_has_defaults_and_no_notice(settings_file: SettingsFile) -> None:
    loaded = settings_file.load()
    assert loaded.settings == Settings.production()
    assert loaded.notices == ()
    assert not settings_file.path.exists()  # nothing is written until the user saves


def test_save_is_atomic_and_leaves_no_temporary_file(settings_file: SettingsFile) -> None:
    settings_file.save(Settings.production())
    first_inode = settings_file.path.stat().st_ino
    with settings_file.path.open("rb") as reader_of_old_version:
        settings_file.save(Settings.development())
        # The old file was replaced, not rewritten in place: a reader keeps a whole old file.
        assert json.loads(reader_of_old_version.read())["connection"]["provider"] == "openai"
    assert settings_file.path.stat().st_ino != first_inode
    assert _siblings(settings_file.path) == ["settings.json"]
    assert settings_file.load().settings == Settings.development()
    assert json.loads(settings_file.path.read_text())["schema_version"] == SETTINGS_SCHEMA_VERSION


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        ("[1, 2, 3]", "does not contain a settings object"),
        ('{"connection": {}}', "no valid schema version"),
        ('{"schema_version": "2"}', "no valid schema version"),
        ('{"schema_version": true}', "no valid schema version"),
    ],
)
def test_corrupt_file_is_set_aside_and_defaults_load(
    settings_file: SettingsFile, content: str | bytes, reason: str
) -> None:
    raw = _write(settings_file.path, content)
    loaded = settings_file.load()
    assert loaded.settings == Settings.production()
    (notice,) = loaded.notices
    assert notice.kind is NoticeKind.SETTINGS_CORRUPT
    assert notice.severity is Severity.WARNING
    assert reason in notice.message
    assert notice.moved_to is not None
    assert notice.moved_to.name.startswith("settings.corrupt-")
    assert notice.moved_to.name.endswith(".json")
    assert notice.moved_to.name in notice.message
    assert notice.moved_to.read_bytes() == raw  # nothing of the user's file is lost
    assert not settings_file.path.exists()
    # The next start is a clean one.
    assert settings_file.load().notices == ()


def test_two_corrupt_files_in_one_second_do_not_overwrite_each_other(
    settings_file: SettingsFile,
) -> None:
    _write(settings_file.path, "first")
    first = settings_file.load().notices[0].moved_to
    _write(settings_file.path, "second")
    second = settings_file.load().notices[0].moved_to
    assert first is not None
    assert second is not None
    assert first != second
    assert (first.read_text(), second.read_text()) == ("first", "second")


def test_file_from_a_newer_version_is_set_aside(settings_file: SettingsFile) -> None:
    newer = {"schema_version": SETTINGS_SCHEMA_VERSION + 1, "connection": {"flux": True}}
    raw = _write(settings_file.path, newer)
    loaded = settings_file.load()
    assert loaded.settings == Settings.production()
    (notice,) = loaded.notices
    assert notice.kind is NoticeKind.SETTINGS_FROM_NEWER_VERSION
    assert notice.moved_to is not None
    assert notice.moved_to.name.startswith("settings.from-newer-version-")
    assert "newer version" in notice.message
    assert notice.moved_to.read_bytes() == raw


def test_version_1_file_migrates(settings_file: SettingsFile) -> None:
    original = _write(settings_file.path, V1_FILE)
    loaded = settings_file.load()
    assert loaded.migrated_from == 1
    (notice,) = loaded.notices
    assert notice.kind is NoticeKind.SETTINGS_MIGRATED
    assert notice.severity is Severity.INFO
    assert notice.moved_to is not None
    assert notice.moved_to.name.startswith("settings.before-migration-v1-")
    assert notice.moved_to.read_bytes() == original

    s = loaded.settings
    # Renamed and regrouped keys.
    assert s.connection.provider == "azure"
    assert s.connection.custom_url == "wss://proxy.example.com/realtime"
    assert s.connection.custom_dialect == "beta"
    assert s.connection.custom_headers == {"X-Team": "voice"}
    assert s.connection.azure_resource == "contoso-east"  # from the endpoint URL
    assert s.connection.azure_deployment == "realtime-prod"
    assert s.connection.model == "gpt-realtime-1.5"
    assert (s.connection.auto_reconnect, s.connection.max_reconnect_attempts) == (False, 8)
    assert s.connection.reconnect_delay_s == 3.0
    assert s.connection.buffer_while_disconnected is False
    assert (s.voice.voice, s.voice.instructions, s.voice.speed) == (
        "cedar",
        "Answer in French.",
        1.1,
    )
    assert s.voice.output_modality == "text"  # from modalities ["text"]
    assert s.voice.max_output_tokens is None  # "inf"
    assert s.turn_detection.mode == "server_vad"
    assert (s.turn_detection.threshold, s.turn_detection.silence_duration_ms) == (0.65, 700)
    assert s.turn_detection.interrupt_response is False
    assert s.transcription.enabled is True
    assert (s.transcription.model, s.transcription.language) == ("whisper-1", "fr")
    assert s.transcription.prompt == ""  # null became empty
    assert s.transcription.noise_reduction == "far_field"
    assert s.audio.echo_cancellation is False
    assert s.audio.noise_suppression is True
    assert s.audio.local_vad_threshold == 0.3
    assert s.audio.show_audio_levels is False
    assert (s.audio.input_device, s.audio.output_device) == ("USB Mic", "")
    assert s.tools.approval == "never"
    assert s.tools.timeout_s == 45
    assert s.privacy.save_conversations is True
    assert s.privacy.conversations_dir == "/srv/conversations"
    assert s.privacy.record_audio is True
    assert s.privacy.log_level == "WARNING"
    assert s.prices["gpt-realtime-1.5"].text_output == 16

    # The upgraded file was written; the next start reads it with no notice.
    assert json.loads(settings_file.path.read_text())["schema_version"] == 2
    again = settings_file.load()
    assert again.notices == ()
    assert again.settings == s


def test_version_1_push_to_talk_and_sparse_file(settings_file: SettingsFile) -> None:
    _write(
        settings_file.path,
        {"schema_version": 1, "turn_detection": None, "input_audio_transcription": None},
    )
    s = settings_file.load().settings
    assert s.turn_detection.mode == "push_to_talk"
    assert s.transcription.enabled is False
    # Everything the file did not mention has the version 2 default.
    assert s.voice == Settings.production().voice
    assert s.prices == Settings.production().prices


def test_migrations_are_pure() -> None:
    before = copy.deepcopy(V1_FILE)
    migrated = migrate(V1_FILE, SETTINGS_MIGRATIONS, from_version=1, current_version=2)
    assert before == V1_FILE
    assert migrated["schema_version"] == 2


def test_failing_migration_leaves_the_file_untouched(settings_file: SettingsFile) -> None:
    broken = dict(V1_FILE, turn_detection={"type": "clap_twice"})
    raw = _write(settings_file.path, broken)
    with pytest.raises(MigrationError):
        migrate(broken, SETTINGS_MIGRATIONS, from_version=1, current_version=2)
    loaded = settings_file.load()
    assert loaded.settings == Settings.production()
    (notice,) = loaded.notices
    assert notice.kind is NoticeKind.SETTINGS_MIGRATION_FAILED
    assert "could not be upgraded" in notice.message
    assert settings_file.path.read_bytes() == raw  # untouched
    # A copy is kept too, because the next save replaces the file.
    assert notice.moved_to is not None
    assert notice.moved_to.read_bytes() == raw
    assert "migration-failed-v1" in notice.moved_to.name


def test_migration_failing_on_a_wrong_type_is_classified(settings_file: SettingsFile) -> None:
    _write(settings_file.path, {"schema_version": 1, "modalities": "audio"})
    (notice,) = settings_file.load().notices
    assert notice.kind is NoticeKind.SETTINGS_MIGRATION_FAILED


def test_invalid_values_reset_only_their_fields(settings_file: SettingsFile) -> None:
    data = Settings.development().model_dump(mode="json")
    data["turn_detection"]["threshold"] = 7
    data["connection"]["custom_url"] = "ws://example.com/"
    data["audio"]["speakers"] = "loud"  # not a setting
    raw = _write(settings_file.path, data)
    loaded = settings_file.load()
    s = loaded.settings
    assert s.turn_detection.threshold == 0.5
    assert s.connection.custom_url == ""
    # Everything else the user set survives.
    assert s.connection.provider == "offline"
    assert s.privacy.log_level == "DEBUG"
    (notice,) = loaded.notices
    assert notice.kind is NoticeKind.SETTINGS_FIELDS_RESET
    assert "turn_detection.threshold: Threshold must be between 0 and 1" in notice.message
    assert "connection.custom_url" in notice.message
    assert "audio.speakers" in notice.message
    assert notice.moved_to is not None
    assert notice.moved_to.read_bytes() == raw


def test_cross_field_conflict_in_a_file_resets_its_group(settings_file: SettingsFile) -> None:
    data = Settings.production().model_dump(mode="json")
    data["connection"]["provider"] = "custom"  # with no URL: no way to connect
    data["voice"]["voice"] = "ash"
    _write(settings_file.path, data)
    loaded = settings_file.load()
    assert loaded.settings.connection == Settings.production().connection
    assert loaded.settings.voice.voice == "ash"
    assert loaded.notices[0].kind is NoticeKind.SETTINGS_FIELDS_RESET


def test_unreadable_file_is_reported_and_left_in_place(settings_file: SettingsFile) -> None:
    settings_file.path.mkdir()  # reading a folder fails like an unreadable file
    loaded = settings_file.load()
    assert loaded.settings == Settings.production()
    (notice,) = loaded.notices
    assert notice.kind is NoticeKind.SETTINGS_UNREADABLE
    assert notice.severity is Severity.ERROR
    assert notice.moved_to is None
    assert settings_file.path.is_dir()
