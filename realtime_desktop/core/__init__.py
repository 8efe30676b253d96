"""The asyncio core between the protocol models and the app (no Qt, no audio devices).

Public API (the desktop app and other programs are built on these names):

* :class:`RealtimeSession`, :class:`ConnectionSettings` — one logical session over WebSocket
  connections: providers, ephemeral keys, reconnect with replay, rollover before ``expires_at``;
  observed through :class:`SessionState` and :class:`StateChange`;
* :class:`Conversation` — the reducer from server events to typed :class:`ConversationItem` and
  :class:`ResponseState` objects, with :class:`ConversationListener` notifications, replay items
  and snapshots;
* :class:`ResponseSequencer` — one response at a time, tool outputs then one ``response.create``;
* :class:`ToolRegistry`, :class:`ToolExecutor` and the built-ins (:func:`builtin_registry`);
* :class:`CostMeter` and its editable :class:`PriceTable`;
* the exception hierarchy rooted at :class:`RealtimeError`;
* :func:`install_secret_redaction` — call once at start-up.
"""

from .builtin_tools import builtin_registry, register_builtins
from .calculator import CalculatorError, evaluate
from .connection import PROVIDERS, ConnectionSettings, Endpoint, Provider, resolve_endpoint
from .conversation import (
    Conversation,
    ConversationItem,
    ConversationListener,
    ItemKind,
    ItemStatus,
    ResponseState,
    TranscriptionStatus,
)
from .cost import CostBreakdown, CostMeter, ModelPrices, PriceTable
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
from .sequencer import ResponseSequencer, SequencerState
from .session import (
    RealtimeSession,
    ReplayProvider,
    SentEvent,
    SessionState,
    SessionStream,
    StateChange,
    Traffic,
)
from .tools import ErrorKind, Tool, ToolExecutor, ToolRegistry, ToolRun, ToolRunStatus

__all__ = [
    "PROVIDERS",
    "ApiError",
    "AuthenticationError",
    "CalculatorError",
    "ConnectionSettings",
    "Conversation",
    "ConversationItem",
    "ConversationListener",
    "CostBreakdown",
    "CostMeter",
    "Endpoint",
    "ErrorKind",
    "InvalidInputError",
    "ItemKind",
    "ItemStatus",
    "ModelPrices",
    "NetworkError",
    "OperationCancelledError",
    "OperationTimeoutError",
    "PriceTable",
    "Provider",
    "RealtimeError",
    "RealtimeSession",
    "ReplayProvider",
    "ResponseSequencer",
    "ResponseState",
    "SentEvent",
    "SequencerState",
    "SessionState",
    "SessionStream",
    "StateChange",
    "Tool",
    "ToolExecutor",
    "ToolRegistry",
    "ToolRun",
    "ToolRunStatus",
    "Traffic",
    "TranscriptionStatus",
    "UnsupportedOperationError",
    "builtin_registry",
    "evaluate",
    "install_secret_redaction",
    "redact",
    "register_builtins",
    "register_secret",
    "resolve_endpoint",
]
