"""The ``error`` events the offline server sends, with the real service's codes (PROTOCOL.md §6.6).

Handlers raise :class:`RealtimeError`; the session turns it into one ``error`` event carrying
the client's ``event_id``, and the session goes on. Messages quoted from captured traffic are
marked [OBS] (PROTOCOL.md and the threads it cites); the others follow the service's wording
style (``Unknown parameter: 'session.voice'.``) where no capture was found.
"""

from __future__ import annotations

import logging
from typing import Final

from realtime_desktop.protocol import ErrorDetail, ErrorEvent

log = logging.getLogger(__name__)

INVALID_REQUEST: Final = "invalid_request_error"
SERVER_ERROR: Final = "server_error"

# Close codes and reasons the real service uses (PROTOCOL.md §1.4, §6.6).
CLOSE_GOING_AWAY: Final = 1001
CLOSE_FATAL: Final = 4000

# The maximum size of one input_audio_buffer.append's base64 audio (PROTOCOL.md §1.5).
MAX_APPEND_BASE64_CHARS: Final = 15 * 1024 * 1024


class RealtimeError(Exception):
    """A rejected client request: becomes one ``error`` event; the session survives."""

    def __init__(
        self,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        error_type: str = INVALID_REQUEST,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.error_type = error_type

    def event(self, client_event_id: str | None = None) -> ErrorEvent:
        detail = ErrorDetail(
            type=self.error_type,
            code=self.code,
            message=self.message,
            param=self.param,
            event_id=client_event_id,
        )
        return ErrorEvent(error=detail)

    def close_reason(self) -> str:
        """The close reason the service sends with a fatal error: ``type.code`` [OBS]."""
        return f"{self.error_type}.{self.code}"


# Connection-level errors (the socket is closed after them) -------------------------------------


def invalid_api_key(presented: str | None) -> RealtimeError:
    if not presented:
        return RealtimeError(
            "invalid_api_key",
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
            "or as an api-key header. The offline server prints its key when it starts.",
        )
    return RealtimeError(
        "invalid_api_key",
        f"Incorrect API key provided: {_redact(presented)}. "
        "The offline server prints its key when it starts.",
    )


def beta_api_shape_disabled() -> RealtimeError:
    # [OBS] jsboige/CoursIA PR #13149, pickle-com/glass issue #220.
    return RealtimeError(
        "beta_api_shape_disabled",
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
    )


def session_expired(limit_s: float) -> RealtimeError:
    # [OBS] "Your session hit the maximum duration of 60 minutes." (PROTOCOL.md §1.4)
    return RealtimeError(
        "session_expired", f"Your session hit the maximum duration of {_duration(limit_s)}."
    )


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} seconds"


def _redact(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


# Frames that are not events ---------------------------------------------------------------------


def binary_frame() -> RealtimeError:
    return RealtimeError(
        "invalid_event",
        "Binary frames are not supported: send each event as a JSON text frame "
        "(audio travels base64-encoded inside input_audio_buffer.append).",
    )


def invalid_json(detail: str) -> RealtimeError:
    return RealtimeError("invalid_json", f"The event is not valid JSON: {detail}")


def not_an_object(kind: str) -> RealtimeError:
    return RealtimeError("invalid_event", f"The event must be a JSON object, not {kind}.")


def missing_type() -> RealtimeError:
    # [OBS] the official example error (PROTOCOL.md §3.4).
    return RealtimeError("invalid_event", "The 'type' field is missing.", param="type")


def unknown_event_type(event_type: str, supported: list[str]) -> RealtimeError:
    listed = ", ".join(f"'{name}'" for name in supported)
    return RealtimeError(
        "invalid_value",
        f"Invalid value: '{event_type}'. Supported values are: {listed}.",
        param="type",
    )


# Parameters -------------------------------------------------------------------------------------


def missing_parameter(param: str) -> RealtimeError:
    return RealtimeError(
        "missing_required_parameter", f"Missing required parameter: '{param}'.", param=param
    )


def unknown_parameter(param: str) -> RealtimeError:
    return RealtimeError("unknown_parameter", f"Unknown parameter: '{param}'.", param=param)


def invalid_value(param: str, message: str) -> RealtimeError:
    return RealtimeError("invalid_value", message, param=param)


def string_too_long(param: str, maximum: int, length: int) -> RealtimeError:
    return RealtimeError(
        "string_above_max_length",
        f"Invalid '{param}': string too long. Expected a string with maximum length "
        f"{maximum}, but got a string with length {length} instead.",
        param=param,
    )


# Requests the state of the session refuses ------------------------------------------------------


def commit_empty(buffered_ms: float) -> RealtimeError:
    # [OBS] betalgo/openai issue #674.
    return RealtimeError(
        "input_audio_buffer_commit_empty",
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
        f"audio, but buffer only has {buffered_ms:.2f}ms of audio.",
    )


def active_response(response_id: str) -> RealtimeError:
    # [OBS] openai-agents-python issue #1466.
    return RealtimeError(
        "conversation_already_has_active_response",
        f"Conversation already has an active response in progress: {response_id}. "
        "Wait until the response is finished before creating a new one.",
    )


def cancel_not_active() -> RealtimeError:
    # [OBS] PROTOCOL.md §6.5.
    return RealtimeError(
        "response_cancel_not_active", "Cancellation failed: no active response found"
    )


def cannot_update_voice() -> RealtimeError:
    # [OBS] PROTOCOL.md §9.6.
    return RealtimeError(
        "cannot_update_voice",
        "Cannot update a conversation's voice if assistant audio is present.",
        param="session.audio.output.voice",
    )


def unsupported_content_type() -> RealtimeError:
    # [OBS] livekit/agents issue #6157.
    return RealtimeError(
        "unsupported_content_type", "Only model output audio messages can be truncated"
    )


def truncate_past_end(audio_ms: int, audio_end_ms: int) -> RealtimeError:
    # [OBS] message of twilio-samples issue #45; no code was seen with it, so none is sent.
    return RealtimeError(
        None,
        f"Audio content of {audio_ms}ms is already shorter than {audio_end_ms}ms",
        param="audio_end_ms",
    )


def item_not_found(item_id: str, param: str = "item_id") -> RealtimeError:
    return RealtimeError(
        "invalid_value",
        f"Invalid value: '{item_id}'. No item with this id exists in the conversation.",
        param=param,
    )


def server_error(session_id: str) -> RealtimeError:
    # [OBS] wording of openai-realtime-console issue #493.
    return RealtimeError(
        None,
        "The server had an error while processing your request. Sorry about that! "
        f"You can retry your request, or contact us if the error persists. (Please include "
        f"the session ID {session_id} in your message.)",
        error_type=SERVER_ERROR,
    )
