"""The asyncio core between the protocol models and the app (no Qt, no audio devices).

Public API (the desktop app and other programs are built on these names):

* :class:`RealtimeSession`, :class:`ConnectionSettings` — one logical session over WebSocket
  connections: providers, ephemeral keys, reconnect with replay, rollover before ``expires_at``;
  :class:`SessionState`, :class:`StateChange` to observe it;
* the exception hierarchy rooted at :class:`RealtimeError`;
* :func:`install_secret_redaction` — call once at start-up.
"""

from .connection import PROVIDERS, ConnectionSettings, Endpoint, Provider, resolve_endpoint
from .errors import (
    ApiError,
    AuthenticationError,
    InvalidInputError,
    NetworkError,
    OperationCancelledError,
    OperationTimeoutError,
    RealtimeError,
    UnsupportedOperationError,
)
from .redaction import install_secret_redaction, redact, register_secret
from .session import (
    RealtimeSession,
    ReplayProvider,
    SentEvent,
    SessionState,
    SessionStream,
    StateChange,
    Traffic,
)

__all__ = [
    "PROVIDERS",
    "ApiError",
    "AuthenticationError",
    "ConnectionSettings",
    "Endpoint",
    "InvalidInputError",
    "NetworkError",
    "OperationCancelledError",
    "OperationTimeoutError",
    "Provider",
    "RealtimeError",
    "RealtimeSession",
    "ReplayProvider",
    "SentEvent",
    "SessionState",
    "SessionStream",
    "StateChange",
    "Traffic",
    "UnsupportedOperationError",
    "install_secret_redaction",
    "redact",
    "register_secret",
    "resolve_endpoint",
]
