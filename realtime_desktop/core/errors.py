"""The core's exception hierarchy: the Python counterpart of the seed's ``TachikomaError``.

Every failure the core reports to the app is one of these, classified once where it enters
(a handshake status, a close code, an ``error`` event, a tool's exception; STYLE.md lesson 10),
with a message a user can act on (``user_message``) and whether trying again can help
(``retryable``), which is what the session's reconnect loop looks at.

::

    RealtimeError
    ├── AuthenticationError       the key was rejected (bad, expired, no permission)
    ├── NetworkError              the connection could not be made or was lost
    ├── ApiError                  the service refused something (error event, HTTP status)
    ├── InvalidInputError         the caller passed something unusable (URL, settings, arguments)
    ├── UnsupportedOperationError not possible in this state or with this provider
    ├── OperationTimeoutError     an operation took longer than its limit
    └── OperationCancelledError   the user or the app cancelled it
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realtime_desktop.protocol import Classification, Severity, classify_error

from .redaction import redact

if TYPE_CHECKING:
    from realtime_desktop.protocol import ErrorDetail


class RealtimeError(Exception):
    """Base of every error the core reports.

    Attributes:
        message: what happened, in one sentence.
        hint: what the user can do about it (may be empty).
        retryable: True when trying again later can succeed (a dropped connection, a 5xx),
            False when it cannot until something changes (a bad key, a wrong URL).
        code: a machine-readable code when the source gave one (``invalid_api_key``, ``http_401``).
    """

    def __init__(
        self, message: str, *, hint: str = "", retryable: bool = False, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retryable = retryable
        self.code = code

    @property
    def user_message(self) -> str:
        """The message and the hint, ready for a status line or a dialog."""
        return f"{self.message} {self.hint}".strip() if self.hint else self.message

    def __str__(self) -> str:
        return self.user_message


class AuthenticationError(RealtimeError):
    """The credentials were rejected: a wrong or expired key, or a key without permission."""


class NetworkError(RealtimeError):
    """The connection could not be opened, or it was lost."""


class ApiError(RealtimeError):
    """The service refused a request or ended the session (an ``error`` event, an HTTP status).

    Attributes:
        error_type: the ``error.type`` (``invalid_request_error``, ``server_error``, …).
        param: the offending field path, when the server named one.
        event_id: the client ``event_id`` the server says caused it.
        severity: the protocol classification (fatal, transient, recoverable, benign).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        retryable: bool = False,
        code: str | None = None,
        error_type: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        severity: Severity = Severity.RECOVERABLE,
    ) -> None:
        super().__init__(message, hint=hint, retryable=retryable, code=code)
        self.error_type = error_type
        self.param = param
        self.event_id = event_id
        self.severity = severity


class InvalidInputError(RealtimeError, ValueError):
    """The caller passed something unusable: a URL, a setting, tool arguments."""


class UnsupportedOperationError(RealtimeError):
    """The operation is not possible in the current state or with this provider."""


class OperationTimeoutError(RealtimeError, TimeoutError):
    """An operation took longer than its limit."""


class OperationCancelledError(RealtimeError):
    """The operation was cancelled by the user or the app.

    Deliberately not an ``asyncio.CancelledError``: that one cancels the task that catches it.
    """


def error_from_detail(detail: ErrorDetail) -> RealtimeError:
    """The exception for the ``error`` object of an ``error`` event, classified once. The
    server's message is redacted: some servers quote the rejected key back."""
    classification = classify_error(detail.code, detail.type, detail.message)
    return error_from_classification(
        classification,
        redact(detail.message),
        code=detail.code,
        error_type=detail.type,
        param=detail.param,
        event_id=detail.event_id,
    )


def error_from_classification(
    classification: Classification,
    message: str,
    *,
    code: str | None = None,
    error_type: str | None = None,
    param: str | None = None,
    event_id: str | None = None,
) -> RealtimeError:
    """Maps a protocol classification to the exception the app sees: rejected credentials are
    an :class:`AuthenticationError`, everything else an :class:`ApiError` carrying the
    severity."""
    retryable = classification.severity is Severity.TRANSIENT
    if classification.is_fatal and _is_credential_problem(code, error_type):
        return AuthenticationError(message, hint=classification.hint, code=code)
    return ApiError(
        message,
        hint=classification.hint,
        retryable=retryable,
        code=code,
        error_type=error_type,
        param=param,
        event_id=event_id,
        severity=classification.severity,
    )


_CREDENTIAL_CODES = frozenset({"invalid_api_key", "permission_denied", "account_deactivated"})


def _is_credential_problem(code: str | None, error_type: str | None) -> bool:
    return code in _CREDENTIAL_CODES or error_type in ("authentication_error", "invalid_api_key")
