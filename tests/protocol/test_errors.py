"""Error classification (PROTOCOL.md §6.6): fatal, transient, recoverable, benign."""

import pytest

from realtime_desktop.protocol import Severity, classify_close, classify_error


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("invalid_api_key", Severity.FATAL),
        ("insufficient_quota", Severity.FATAL),
        ("beta_api_shape_disabled", Severity.FATAL),
        ("session_expired", Severity.TRANSIENT),
        ("response_cancel_not_active", Severity.BENIGN),
        ("conversation_already_has_active_response", Severity.BENIGN),
        ("unsupported_content_type", Severity.BENIGN),
        ("input_audio_buffer_commit_empty", Severity.RECOVERABLE),
        ("unknown_parameter", Severity.RECOVERABLE),
        ("missing_required_parameter", Severity.RECOVERABLE),
        ("something_new", Severity.RECOVERABLE),
    ],
)
def test_error_codes(code: str, severity: Severity) -> None:
    classification = classify_error(code, "invalid_request_error")
    assert classification.severity is severity
    assert classification.hint.endswith(".")


def test_server_errors_without_a_code_are_transient() -> None:
    assert classify_error(None, "server_error").should_reconnect


def test_truncation_overshoot_is_benign() -> None:
    message = "Audio content of 1200ms is already shorter than 1300ms"
    assert classify_error(None, "invalid_request_error", message).severity is Severity.BENIGN


@pytest.mark.parametrize(
    ("code", "reason", "severity"),
    [
        (1000, "", Severity.TRANSIENT),  # unexpected clean close mid-session: still a loss
        (1001, "Your session hit the maximum duration of 60 minutes.", Severity.TRANSIENT),
        (1006, "", Severity.TRANSIENT),
        (1011, "", Severity.TRANSIENT),
        (None, "", Severity.TRANSIENT),
        (4000, "beta_api_shape_disabled", Severity.FATAL),
        (1009, "", Severity.FATAL),
        (1008, "policy", Severity.FATAL),
    ],
)
def test_close_codes(code: int | None, reason: str, severity: Severity) -> None:
    assert classify_close(code, reason).severity is severity


def test_session_expiry_close_explains_itself() -> None:
    hint = classify_close(1001, "Your session hit the maximum duration of 60 minutes.").hint
    assert "time limit" in hint
    assert classify_close(4000, "invalid_api_key").is_fatal
