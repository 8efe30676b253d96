"""The settings model: every field round-trips through the file, bad input is refused with a
message for that field, and the session object it builds is complete."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_desktop.protocol import SessionUpdate, parse_client_event
from realtime_desktop.protocol.session import GA_VOICES
from realtime_desktop.storage.paths import AppPaths
from realtime_desktop.storage.settings import (
    FIELDS,
    FIELDS_BY_PATH,
    GROUPS,
    Settings,
    SettingsGroup,
    SettingsInvalidError,
)
from realtime_desktop.storage.settings_file import SettingsFile

# A valid value different from the default for every field: the round-trip test walks them all,
# and a new field without an example here fails test_examples_cover_every_field.
NON_DEFAULT_EXAMPLES: dict[str, Any] = {
    "connection.provider": "offline",
    "connection.model": "gpt-realtime-2.1-mini",
    "connection.models": ["gpt-realtime-2", "my-fine-tune:v3"],
    "connection.custom_url": "wss://realtime.example.com/v1/realtime?model=x",
    "connection.custom_dialect": "beta",
    "connection.custom_auth": "api-key",
    "connection.custom_headers": {"X-Team": "voice", "OpenAI-Project": "proj_123"},
    "connection.azure_resource": "contoso-east",
    "connection.azure_deployment": "realtime-prod",
    "connection.azure_auth": "entra",
    "connection.ephemeral_key_url": "https://keys.example.com/ephemeral",
    "connection.auto_reconnect": False,
    "connection.max_reconnect_attempts": 12,
    "connection.reconnect_delay_s": 2.5,
    "connection.buffer_while_disconnected": False,
    "voice.voice": "cedar",
    "voice.instructions": "Speak like a pirate.\nNever mention the weather.",
    "voice.output_modality": "text",
    "voice.speed": 1.25,
    "voice.max_output_tokens": 2048,
    "turn_detection.mode": "semantic_vad",
    "turn_detection.threshold": 0.72,
    "turn_detection.prefix_padding_ms": 450,
    "turn_detection.silence_duration_ms": 800,
    "turn_detection.idle_timeout_ms": 12_000,
    "turn_detection.create_response": False,
    "turn_detection.interrupt_response": False,
    "turn_detection.eagerness": "high",
    "audio.input_device": "USB Headset Microphone",
    "audio.output_device": "Built-in Speakers (Pulse)",
    "audio.echo_cancellation": False,
    "audio.noise_suppression": False,
    "audio.headset_mode": True,
    "audio.half_duplex": True,
    "audio.local_vad_threshold": 0.8,
    "audio.show_audio_levels": False,
    "transcription.enabled": False,
    "transcription.model": "whisper-1",
    "transcription.language": "de",
    "transcription.prompt": "Realtime, PySide6, qasync",
    "transcription.noise_reduction": "far_field",
    "tools.builtins_enabled": False,
    "tools.disabled_tools": ["get_time", "open_url"],
    "tools.approval": "always",
    "tools.timeout_s": 90.0,
    "privacy.save_conversations": False,
    "privacy.conversations_dir": "~/Documents/Conversations",
    "privacy.record_audio": False,  # default, but see below: needs save on to differ
    "privacy.log_level": "DEBUG",
    "prices": {"gpt-realtime-2": {"text_input": 3.5, "audio_output": 60.0}},
}
# record_audio=True needs save_conversations=True (a cross-field rule), so it is checked with it.
NON_DEFAULT_EXAMPLES["privacy.record_audio"] = True
NON_DEFAULT_EXAMPLES["privacy.save_conversations"] = True


def _save_and_load(settings_obj: Settings, paths: AppPaths) -> Settings:
    settings_file = SettingsFile.for_paths(paths)
    settings_file.save(settings_obj)
    loaded = settings_file.load()
    assert loaded.notices == ()
    return loaded.settings


def test_examples_cover_every_field() -> None:
    assert set(NON_DEFAULT_EXAMPLES) == {spec.path for spec in FIELDS}
    groups = {name for name, info in Settings.model_fields.items() if name != "schema_version"}
    assert {group.name for group in GROUPS} == groups
    for group in groups:
        annotation = Settings.model_fields[group].annotation
        if isinstance(annotation, type) and issubclass(annotation, SettingsGroup):
            assert {f"{group}.{name}" for name in annotation.model_fields} <= set(FIELDS_BY_PATH)


@pytest.mark.parametrize("path", [spec.path for spec in FIELDS if spec.path != "prices"])
def test_each_field_round_trips_through_the_file(path: str, paths: AppPaths) -> None:
    value = NON_DEFAULT_EXAMPLES[path]
    changes = {path: value}
    if path == "privacy.record_audio":
        changes["privacy.save_conversations"] = True
    changed = Settings.production().with_values(changes)
    assert changed.value_at(path) == value
    if path != "privacy.save_conversations":  # True is also its default
        assert changed.value_at(path) != Settings.production().value_at(path)
    loaded = _save_and_load(changed, paths)
    assert loaded == changed
    assert loaded.value_at(path) == value


def test_price_table_round_trips(paths: AppPaths) -> None:
    table = {
        "gpt-realtime-2": {"text_input": 3.5, "audio_output": 60.0},
        "my-model-2027": {"audio_input": 1.0, "image_cached_input": 0.25},
    }
    changed = Settings().with_value("prices", table)
    loaded = _save_and_load(changed, paths)
    assert loaded.prices["my-model-2027"].image_cached_input == 0.25
    assert loaded.prices["gpt-realtime-2"].text_output == 0.0  # unspecified prices are zero
    assert set(loaded.prices) == set(table)
    one_cell = loaded.with_value("prices[my-model-2027].audio_input", 2.0)
    assert one_cell.prices["my-model-2027"].audio_input == 2.0
    assert one_cell.value_at("prices[my-model-2027].audio_input") == 2.0


# --- property: any valid combination round-trips ------------------------------------------------

_model_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,30}", fullmatch=True)
_header_names = st.from_regex(r"X-[A-Za-z0-9-]{1,20}", fullmatch=True)
_line = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40).map(
    str.strip
)
_free_text = st.text(max_size=200)
_hosts = st.sampled_from(["api.example.com", "realtime.example.org", "10.0.0.7", "[2001:db8::1]"])
_loopback = st.sampled_from(["localhost", "127.0.0.1", "[::1]", "127.8.9.10"])
_ports = st.integers(1, 65535)


def _url(secure: str, plain: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(""),
        st.builds(lambda h, p: f"{secure}://{h}:{p}/v1/realtime", _hosts, _ports),
        st.builds(lambda h, p: f"{plain}://{h}:{p}/", _loopback, _ports),
    )


def _number(path: str) -> st.SearchStrategy[float]:
    spec = FIELDS_BY_PATH[path]
    assert spec.minimum is not None
    assert spec.maximum is not None
    return st.floats(spec.minimum, spec.maximum, allow_nan=False)


def _integer(path: str) -> st.SearchStrategy[int]:
    spec = FIELDS_BY_PATH[path]
    assert spec.minimum is not None
    assert spec.maximum is not None
    return st.integers(int(spec.minimum), int(spec.maximum))


_prices = st.dictionaries(
    _model_names,
    st.fixed_dictionaries(
        {},
        optional={
            name: st.floats(0, 10_000, allow_nan=False)
            for name in ("text_input", "text_output", "audio_input", "audio_output")
        },
    ),
    max_size=4,
)

_SPECIAL: dict[str, st.SearchStrategy[Any]] = {
    "connection.model": _model_names,
    "connection.models": st.lists(_model_names, unique=True, max_size=6),
    "connection.custom_url": _url("wss", "ws"),
    "connection.custom_headers": st.dictionaries(_header_names, _line, max_size=3),
    "connection.azure_resource": st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
    | st.just(""),
    "connection.azure_deployment": _model_names | st.just(""),
    "connection.ephemeral_key_url": _url("https", "http"),
    "voice.voice": st.sampled_from(GA_VOICES)
    | st.from_regex(r"voice_[a-z0-9]{4,12}", fullmatch=True),
    "voice.instructions": _free_text,
    "audio.input_device": _free_text,
    "audio.output_device": _free_text,
    "transcription.model": _model_names,
    "transcription.language": st.just("") | st.from_regex(r"[a-z]{2}", fullmatch=True),
    "transcription.prompt": _free_text,
    "tools.disabled_tools": st.lists(
        st.from_regex(r"[a-z_]{1,12}", fullmatch=True), unique=True, max_size=4
    ),
    "privacy.conversations_dir": st.sampled_from(["", "/srv/talks", "~/Conversations"]),
    "prices": _prices,
}


def _strategy(path: str) -> st.SearchStrategy[Any]:
    if path in _SPECIAL:
        return _SPECIAL[path]
    spec = FIELDS_BY_PATH[path]
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "choice":
        return st.sampled_from(spec.choices)
    if spec.kind == "int":
        return _integer(path)
    if spec.kind == "optional_int":
        return st.none() | _integer(path)
    if spec.kind == "float":
        return _number(path)
    raise AssertionError(f"no strategy for {path} ({spec.kind})")


@st.composite
def valid_changes(draw: st.DrawFn) -> dict[str, Any]:
    changes = {spec.path: draw(_strategy(spec.path)) for spec in FIELDS}
    # The cross-field rules, satisfied the way a user would satisfy them.
    if changes["connection.provider"] == "custom" and not changes["connection.custom_url"]:
        changes["connection.custom_url"] = "wss://realtime.example.com/"
    if changes["connection.provider"] == "azure":
        changes["connection.azure_resource"] = changes["connection.azure_resource"] or "res"
        changes["connection.azure_deployment"] = changes["connection.azure_deployment"] or "dep"
    if changes["privacy.record_audio"]:
        changes["privacy.save_conversations"] = True
    return changes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=valid_changes())
def test_any_valid_settings_round_trip_through_the_file(
    changes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    paths = AppPaths.under(tmp_path_factory.mktemp("profile"))
    built = Settings.production().with_values(changes)
    for path, value in changes.items():
        if path == "prices":
            assert set(built.prices) == set(value)
        else:
            assert built.value_at(path) == value, path
    assert _save_and_load(built, paths) == built


# --- refusing bad input, field by field ---------------------------------------------------------

INVALID: list[tuple[str, Any, str]] = [
    ("connection.custom_url", "ws://example.com/realtime", "only for a server on this computer"),
    ("connection.custom_url", "ws://192.168.1.20:8080/", "only for a server on this computer"),
    ("connection.custom_url", "https://api.example.com/v1", "must start with wss://"),
    ("connection.custom_url", "wss://", "no host name"),
    ("connection.custom_url", "wss://exa mple.com", "must not contain spaces"),
    ("connection.custom_url", "wss://bob:hunter2@example.com/", "user name and password"),
    ("connection.custom_url", "wss://example.com/?api-key=abc", "Remove 'api-key'"),
    ("connection.custom_url", "wss://example.com:99999/", "not a valid URL"),
    ("connection.ephemeral_key_url", "http://keys.example.com/", "this computer"),
    ("connection.ephemeral_key_url", "ftp://keys.example.com/", "must start with https://"),
    ("connection.custom_headers", {"Authorization": "Bearer x"}, "system keyring"),
    ("connection.custom_headers", {"api-key": "x"}, "system keyring"),
    ("connection.custom_headers", {"OpenAI-Beta": "realtime=v1"}, "set by the connection"),
    ("connection.custom_headers", {"bad header": "x"}, "not a valid header name"),
    ("connection.custom_headers", {"X-A": "one\r\ntwo"}, "single line"),
    ("connection.azure_resource", "my_resource!", "resource name"),
    ("connection.provider", "anthropic", "Provider must be one of: OpenAI, Azure OpenAI"),
    ("connection.model", "", "model name"),
    ("connection.models", ["a", "a"], "only once"),
    ("connection.max_reconnect_attempts", 0, "Reconnect attempts must be between 1 and 100"),
    ("connection.reconnect_delay_s", "soon", "Reconnect delay must be a number"),
    ("turn_detection.threshold", 1.5, "Threshold must be between 0 and 1"),
    ("turn_detection.threshold", -0.01, "Threshold must be between 0 and 1"),
    ("turn_detection.threshold", math.nan, "Threshold must be"),
    ("turn_detection.prefix_padding_ms", 2.5, "Prefix padding must be a whole number"),
    ("turn_detection.idle_timeout_ms", 1000, "Idle timeout must be between 5000 and 30000 ms"),
    ("turn_detection.mode", "clap", "Turn detection must be one of"),
    ("audio.local_vad_threshold", 2, "Local VAD sensitivity must be between 0 and 1"),
    ("audio.echo_cancellation", "maybe", "Echo cancellation must be on or off"),
    ("voice.voice", "robot", "custom voice id"),
    ("voice.speed", 3, "Speech speed must be between 0.25 and 1.5"),
    ("voice.speed", math.inf, "Speech speed must be between 0.25 and 1.5"),
    ("voice.max_output_tokens", 0, "Max output tokens must be between 1 and 32768 tokens"),
    ("transcription.language", "english", "two-letter language code"),
    ("tools.disabled_tools", ["no spaces allowed"], "is not a tool name"),
    ("tools.timeout_s", 0, "Tool timeout must be between 1 and 600 s"),
    ("privacy.conversations_dir", "relative/folder", "full folder path"),
    ("privacy.log_level", "LOUD", "Log level must be one of"),
    ("prices[gpt-realtime-2].audio_output", -1, "Audio output price must be between 0 and"),
]


@pytest.mark.parametrize(("path", "value", "expected"), INVALID)
def test_invalid_input_is_refused_at_its_field(path: str, value: Any, expected: str) -> None:
    current = Settings.production()
    errors = current.field_errors(path, value)
    assert list(errors) == [path]
    assert expected in errors[path]
    assert current.validate_field(path, value) == errors[path]
    with pytest.raises(SettingsInvalidError) as raised:
        current.with_value(path, value)
    assert raised.value.errors == errors


def test_good_values_pass_field_validation() -> None:
    current = Settings.production()
    for path, value in NON_DEFAULT_EXAMPLES.items():
        if path == "privacy.record_audio":
            continue  # valid only together with saving, which is on by default anyway
        assert current.validate_field(path, value) is None, path
    assert current.validate_field("connection.custom_url", "ws://localhost:8765/v1") is None
    assert current.validate_field("connection.custom_url", "ws://[::1]:8765/") is None


@pytest.mark.parametrize(
    ("changes", "path", "expected"),
    [
        ({"connection.provider": "custom"}, "connection.custom_url", "Enter the server URL"),
        ({"connection.provider": "azure"}, "connection.azure_resource", "resource name"),
        (
            {"connection.provider": "azure", "connection.azure_resource": "contoso"},
            "connection.azure_deployment",
            "deployment name",
        ),
        (
            {"privacy.save_conversations": False, "privacy.record_audio": True},
            "privacy.record_audio",
            "turn on Save conversations",
        ),
    ],
)
def test_cross_field_rules_report_at_the_field_to_fix(
    changes: dict[str, Any], path: str, expected: str
) -> None:
    with pytest.raises(SettingsInvalidError) as raised:
        Settings.production().with_values(changes)
    assert list(raised.value.errors) == [path]
    assert expected in raised.value.errors[path]
    # The dialog sees the consequence when it validates the field the user just changed.
    first_path, first_value = next(iter(changes.items()))
    if len(changes) == 1:
        assert path in Settings.production().field_errors(first_path, first_value)
        assert Settings.production().validate_field(first_path, first_value) is None


def test_errors_in_lists_every_problem_of_a_pending_form() -> None:
    data = Settings.production().model_dump(mode="json")
    data["turn_detection"]["threshold"] = 9
    data["voice"]["voice"] = "robot"
    data["connection"]["custom_url"] = "ws://example.com"
    errors = Settings.errors_in(data)
    assert set(errors) == {"turn_detection.threshold", "voice.voice", "connection.custom_url"}
    assert Settings.errors_in(Settings.production().model_dump(mode="json")) == {}


def test_values_are_normalised_the_way_they_are_stored() -> None:
    s = Settings.production().with_values(
        {
            "connection.azure_resource": "https://Contoso-East.openai.azure.com/",
            "transcription.language": " EN ",
            "connection.custom_url": "  wss://example.com/  ",
        }
    )
    assert s.connection.azure_resource == "contoso-east"
    assert s.transcription.language == "en"
    assert s.connection.custom_url == "wss://example.com/"


def test_settings_are_immutable_and_paths_are_checked() -> None:
    s = Settings.production()
    with pytest.raises(Exception, match="frozen"):
        s.turn_detection.threshold = 0.9  # type: ignore[misc]
    with pytest.raises(KeyError):
        s.with_value("turn_detection.treshold", 0.9)
    with pytest.raises(KeyError):
        s.with_value("schema_version", 3)
    with pytest.raises(KeyError):
        s.value_at("audio.volume")


def test_field_descriptions_carry_what_a_dialog_needs() -> None:
    threshold = FIELDS_BY_PATH["turn_detection.threshold"]
    assert (threshold.kind, threshold.minimum, threshold.maximum) == ("float", 0.0, 1.0)
    assert threshold.title == "Threshold"
    assert threshold.group == "turn_detection"
    provider = FIELDS_BY_PATH["connection.provider"]
    assert provider.kind == "choice"
    assert provider.choices == ("openai", "azure", "custom", "offline")
    assert provider.labels["offline"] == "Offline (echo test)"
    assert FIELDS_BY_PATH["voice.instructions"].kind == "multiline"
    assert FIELDS_BY_PATH["voice.max_output_tokens"].kind == "optional_int"
    assert FIELDS_BY_PATH["turn_detection.silence_duration_ms"].unit == "ms"
    assert FIELDS_BY_PATH["voice.voice"].suggestions == GA_VOICES
    for spec in FIELDS:
        assert spec.title, spec.path
        assert spec.title != spec.path, spec.path
        assert Settings.production().value_at(spec.path) == spec.default


# --- presets ------------------------------------------------------------------------------------


def test_presets() -> None:
    production, development = Settings.production(), Settings.development()
    assert production == Settings()
    assert production.connection.provider == "openai"
    assert production.privacy.record_audio is False
    assert production.privacy.log_level == "INFO"
    # The seed's conversation settings, in production.
    assert production.connection.auto_reconnect is True
    assert production.connection.max_reconnect_attempts == 5
    assert production.connection.buffer_while_disconnected is True
    assert production.audio.echo_cancellation
    assert production.audio.noise_suppression
    assert production.privacy.save_conversations is True
    assert development.connection.provider == "offline"
    assert development.privacy.log_level == "DEBUG"
    assert development.privacy.save_conversations is False
    assert development.connection.reconnect_delay_s < production.connection.reconnect_delay_s


# --- the session object -------------------------------------------------------------------------


def _wire(s: Settings, **kwargs: bool) -> dict[str, Any]:
    return s.to_session_config(**kwargs).wire_dict()


def test_session_config_sends_the_complete_server_vad_object() -> None:
    s = Settings.production().with_values(
        {"turn_detection.threshold": 0.7, "turn_detection.silence_duration_ms": 650}
    )
    detection = _wire(s)["audio"]["input"]["turn_detection"]
    assert detection == {
        "type": "server_vad",
        "threshold": 0.7,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 650,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


def test_session_config_semantic_vad_and_push_to_talk() -> None:
    semantic = Settings.production().with_values(
        {"turn_detection.mode": "semantic_vad", "turn_detection.eagerness": "low"}
    )
    assert _wire(semantic)["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": True,
    }
    manual = Settings.production().with_value("turn_detection.mode", "push_to_talk")
    audio_input = _wire(manual)["audio"]["input"]
    assert "turn_detection" in audio_input
    assert audio_input["turn_detection"] is None


def test_session_config_carries_voice_transcription_and_limits() -> None:
    s = Settings.production().with_values(
        {
            "voice.voice": "voice_abc123",
            "voice.instructions": "",
            "voice.output_modality": "text",
            "voice.speed": 1.2,
            "voice.max_output_tokens": 300,
            "transcription.model": "whisper-1",
            "transcription.language": "fr",
            "transcription.noise_reduction": "near_field",
        }
    )
    wire = _wire(s)
    assert wire["model"] == "gpt-realtime-2"
    assert wire["instructions"] == ""  # sent, so clearing them takes effect live
    assert wire["output_modalities"] == ["text"]
    assert wire["max_output_tokens"] == 300
    assert wire["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": {"id": "voice_abc123"},
        "speed": 1.2,
    }
    assert wire["audio"]["input"]["transcription"] == {"model": "whisper-1", "language": "fr"}
    assert wire["audio"]["input"]["noise_reduction"] == {"type": "near_field"}

    off = Settings.production().with_value("transcription.enabled", False)
    assert _wire(off)["audio"]["input"]["transcription"] is None
    assert _wire(off)["audio"]["input"]["noise_reduction"] is None
    assert _wire(off)["max_output_tokens"] == "inf"


def test_live_update_leaves_out_model_and_voice() -> None:
    wire = _wire(Settings.production(), include_model=False, include_voice=False)
    assert "model" not in wire
    assert "voice" not in wire["audio"]["output"]
    azure = Settings.production().with_values(
        {
            "connection.provider": "azure",
            "connection.azure_resource": "contoso",
            "connection.azure_deployment": "my-deployment",
        }
    )
    assert _wire(azure)["model"] == "my-deployment"


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_session_update_survives_both_wire_dialects(dialect: str) -> None:
    s = Settings.production().with_value("turn_detection.idle_timeout_ms", 8000)
    event = SessionUpdate(session=s.to_session_config())
    parsed = parse_client_event(event.to_wire(dialect), dialect=dialect)  # type: ignore[arg-type]
    assert isinstance(parsed, SessionUpdate)
    detection = parsed.session.turn_detection  # type: ignore[union-attr]
    assert detection is not None
    assert detection.idle_timeout_ms == 8000
    assert detection.silence_duration_ms == 500
    assert detection.prefix_padding_ms == 300


def test_changes_say_what_they_need() -> None:
    base = Settings.production()
    threshold = base.with_value("turn_detection.threshold", 0.8)
    assert threshold.changed_paths(base) == {"turn_detection.threshold"}
    assert threshold.session_differs(base)
    assert not threshold.needs_reconnect(base)
    provider = base.with_value("connection.provider", "offline")
    assert provider.needs_reconnect(base)
    assert not provider.session_differs(base)
    attempts = base.with_value("connection.max_reconnect_attempts", 9)
    assert not attempts.needs_reconnect(base)
    assert not attempts.session_differs(base)
    levels = base.with_value("audio.show_audio_levels", False)
    assert levels.changed_paths(base) == {"audio.show_audio_levels"}
    assert not levels.session_differs(base)


def test_price_lookup_follows_dated_snapshots() -> None:
    s = Settings.production()
    assert s.price_for("gpt-realtime-2") == s.prices["gpt-realtime-2"]
    assert s.price_for("gpt-realtime-mini-2025-12-15") == s.prices["gpt-realtime-mini"]
    assert s.price_for("gpt-realtime-2025-08-28") == s.prices["gpt-realtime"]
    assert s.price_for("gpt-realtime-2.1-mini") == s.prices["gpt-realtime-2.1-mini"]
    assert s.price_for("whisper-1") is None
    assert s.prices["gpt-realtime-2"].audio_output == 64.0  # PROTOCOL.md §7.4
