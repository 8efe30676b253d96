"""What an ``error`` event or a WebSocket close means for the client (PROTOCOL.md §6.6, §1.4).

Errors are classified where they enter, once (STYLE.md lesson 10):

* ``FATAL`` — stop, do not retry, tell the user what to do (bad key, no quota, beta shape, …);
* ``TRANSIENT`` — the session is gone or the turn failed for reasons outside the user's control:
  reconnect or retry with backoff;
* ``RECOVERABLE`` — a request was rejected but the session goes on; worth showing (a rejected
  ``session.update`` silently leaves instructions unapplied, PROTOCOL.md §9.2);
* ``BENIGN`` — a known race the client handles by itself; log it, never show it as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    FATAL = "fatal"
    TRANSIENT = "transient"
    RECOVERABLE = "recoverable"
    BENIGN = "benign"


@dataclass(frozen=True, slots=True)
class Classification:
    severity: Severity
    hint: str
    """What the user can do about it, in one sentence."""

    @property
    def is_fatal(self) -> bool:
        return self.severity is Severity.FATAL

    @property
    def should_reconnect(self) -> bool:
        return self.severity is Severity.TRANSIENT


_CHECK_KEY = "Check the API key in Settings → Connection, then connect again."

_ERROR_CODES: dict[str, Classification] = {
    # Fatal: retrying cannot help.
    "invalid_api_key": Classification(Severity.FATAL, "The API key was rejected. " + _CHECK_KEY),
    "insufficient_quota": Classification(
        Severity.FATAL, "The account has no quota left. Add credit or use another project's key."
    ),
    "billing_hard_limit_reached": Classification(
        Severity.FATAL, "The account reached its billing limit. Raise it on the billing page."
    ),
    "account_deactivated": Classification(
        Severity.FATAL, "The account is deactivated. Use a key from an active account."
    ),
    "beta_api_shape_disabled": Classification(
        Severity.FATAL,
        "The server no longer accepts the beta protocol. Choose the GA dialect in Settings.",
    ),
    "missing_model": Classification(
        Severity.FATAL, "No model was given. Choose a model in Settings → Connection."
    ),
    "invalid_model": Classification(
        Severity.FATAL, "The server does not offer this model. Choose another in Settings."
    ),
    "model_not_found": Classification(
        Severity.FATAL, "The server does not offer this model. Choose another in Settings."
    ),
    "permission_denied": Classification(
        Severity.FATAL, "This key may not use the Realtime API. " + _CHECK_KEY
    ),
    # Transient: the session or the turn is lost, not the configuration.
    "session_expired": Classification(
        Severity.TRANSIENT, "The session reached its time limit; a new one starts by itself."
    ),
    "rate_limit_exceeded": Classification(
        Severity.TRANSIENT, "Rate limit reached; the request is retried after a pause."
    ),
    "server_error": Classification(
        Severity.TRANSIENT, "The service had an internal error; try the turn again."
    ),
    # Benign races the response sequencer and barge-in logic handle by themselves.
    "response_cancel_not_active": Classification(
        Severity.BENIGN, "The response had already finished when the cancel arrived."
    ),
    "conversation_already_has_active_response": Classification(
        Severity.BENIGN, "A response was still running; the request waits its turn."
    ),
    "unsupported_content_type": Classification(
        Severity.BENIGN, "Nothing of that item had been played, so there was nothing to truncate."
    ),
    # Recoverable: a request was rejected; the session goes on.
    "input_audio_buffer_commit_empty": Classification(
        Severity.RECOVERABLE, "Too little audio to send: hold push-to-talk for a moment longer."
    ),
    "cannot_update_voice": Classification(
        Severity.RECOVERABLE,
        "The voice is fixed once the assistant has spoken; it applies from the next session.",
    ),
    "missing_required_parameter": Classification(
        Severity.RECOVERABLE, "A request was missing a field; it was not applied."
    ),
    "unknown_parameter": Classification(
        Severity.RECOVERABLE, "The server does not know one of the settings; it was not applied."
    ),
    "invalid_value": Classification(
        Severity.RECOVERABLE, "The server refused a setting's value; it was not applied."
    ),
    "invalid_event": Classification(
        Severity.RECOVERABLE, "The server could not read a request; it was ignored."
    ),
    "invalid_json": Classification(
        Severity.RECOVERABLE, "The server could not read a request; it was ignored."
    ),
}

_TRUNCATE_OVERSHOOT = "already shorter than"


def classify_error(
    code: str | None, error_type: str | None = None, message: str | None = None
) -> Classification:
    """Classifies the ``error`` object of an ``error`` event (or a failed response's details)."""
    if code and code in _ERROR_CODES:
        return _ERROR_CODES[code]
    if error_type == "server_error":
        return _ERROR_CODES["server_error"]
    if message and _TRUNCATE_OVERSHOOT in message:
        # "Audio content of X ms is already shorter than Y ms": a truncate past the end. The
        # server keeps the whole item; nothing for the user to do (PROTOCOL.md §5.5).
        return Classification(Severity.BENIGN, "The item was shorter than the truncation point.")
    if error_type in ("authentication_error", "invalid_api_key"):
        return _ERROR_CODES["invalid_api_key"]
    return Classification(
        Severity.RECOVERABLE, "The server rejected a request; the session goes on."
    )


# WebSocket close codes (RFC 6455 §7.4 and what the service sends, PROTOCOL.md §6.6).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # also the 60-minute session cap, with a "maximum duration" reason
CLOSE_NO_STATUS = 1005
CLOSE_ABNORMAL = 1006
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_FATAL_APPLICATION = 4000  # the service's close after a fatal error event

_TRANSIENT_CLOSES = frozenset(
    {
        CLOSE_NORMAL,
        CLOSE_GOING_AWAY,
        CLOSE_NO_STATUS,
        CLOSE_ABNORMAL,
        CLOSE_INTERNAL_ERROR,
        CLOSE_SERVICE_RESTART,
        CLOSE_TRY_AGAIN_LATER,
        1014,  # bad gateway
        1015,  # TLS handshake failure
    }
)


def classify_close(code: int | None, reason: str = "") -> Classification:
    """Classifies a close the client did not ask for. Every close loses the server session."""
    if code is None or code in _TRANSIENT_CLOSES:
        if code == CLOSE_GOING_AWAY and "maximum duration" in reason:
            return _ERROR_CODES["session_expired"]
        return Classification(
            Severity.TRANSIENT,
            "The connection dropped; reconnecting and restoring the conversation.",
        )
    if code == CLOSE_MESSAGE_TOO_BIG:
        return Classification(
            Severity.FATAL,
            "The server sent a message larger than the client accepts; please report it.",
        )
    detail = f" ({reason})" if reason else ""
    if 4000 <= code < 5000:
        return Classification(
            Severity.FATAL, f"The server ended the session{detail}. " + _CHECK_KEY
        )
    return Classification(
        Severity.FATAL, f"The server closed the connection with code {code}{detail}."
    )
