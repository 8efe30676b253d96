"""Keeping secrets out of logs (DESIGN.md "Providers": secrets never in settings files or logs).

Three layers, because a key can reach a log record from places the core does not control:

* :func:`redact` rewrites ``sk-…`` and ``ek_…`` keys, ``Authorization`` and ``api-key``
  values (as headers, JSON keys or query parameters) and every secret registered with
  :func:`register_secret` (Azure keys and offline tokens have no recognisable prefix);
* :class:`SecretRedactingFilter` applies it to a log record's message, arguments, traceback
  and stack text, in place, so every handler after it sees the redacted record;
* :func:`install_secret_redaction`, which the app calls once at start-up after configuring
  logging, puts the filter on every handler of the root logger. The core also puts it on the
  logger it hands to ``websockets``, whose debug output prints the handshake headers.
"""

from __future__ import annotations

import logging
import re
import threading

log = logging.getLogger(__name__)

REDACTED = "[redacted]"

# Keys of OpenAI (sk-…, sk-proj-…) and ephemeral client secrets (ek_…). Eight characters at least
# so prose like "sk-learn" is left alone.
_KEY_PATTERN = re.compile(r"\b(sk-|ek_)[A-Za-z0-9_\-]{8,}")
# `Authorization: Bearer x`, `"authorization": "Basic x"`, `Authorization=x`: keep the scheme.
_AUTHORIZATION_PATTERN = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)((?:bearer|basic)\s+)?([^\s\"',;&}]+)"
)
# `api-key: x`, `"api_key": "x"`, `?api-key=x` (Azure's header and old query parameter).
_API_KEY_PATTERN = re.compile(r"(?i)(\bapi[-_]key[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)")

_MIN_REGISTERED_LENGTH = 8

_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None
_registered_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Redact ``value`` wherever it appears from now on.

    The session registers every key and token it uses. Values shorter than eight characters
    are ignored: redacting them would mangle ordinary words and they are not real secrets.
    """
    global _registered_pattern  # noqa: PLW0603 - one process-wide set, like the logging tree
    if not value or len(value) < _MIN_REGISTERED_LENGTH:
        return
    with _registered_lock:
        if value in _registered:
            return
        _registered.add(value)
        # Longest first, so a secret that contains another is replaced whole.
        alternatives = sorted(_registered, key=len, reverse=True)
        _registered_pattern = re.compile("|".join(re.escape(v) for v in alternatives))


def redact(text: str) -> str:
    """``text`` with every secret this module recognises replaced by ``[redacted]``."""
    pattern = _registered_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _KEY_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)
    text = _AUTHORIZATION_PATTERN.sub(
        lambda m: (
            m.group(1) + (m.group(2) or "") + REDACTED if m.group(3) != REDACTED else m.group(0)
        ),
        text,
    )
    return _API_KEY_PATTERN.sub(
        lambda m: m.group(1) + REDACTED if m.group(2) != REDACTED else m.group(0), text
    )


class SecretRedactingFilter(logging.Filter):
    """Redacts secrets in a record before any handler after it formats the record.

    The record is changed in place (message merged with its arguments, traceback text
    formatted early), so handlers and formatters that run later cannot undo it.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A record whose arguments do not fit its format string: logging itself reports
            # that when a handler formats it; redact the parts as they are.
            message = f"{record.msg} {record.args}"
        redacted = redact(message)
        if record.args or redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = SecretRedactingFilter()


def secret_filter() -> SecretRedactingFilter:
    """The process-wide filter instance (adding it twice to a handler is a no-op)."""
    return _FILTER


def install_secret_redaction(*loggers: logging.Logger) -> None:
    """Put the redacting filter on every handler of the root logger (and of ``loggers``), and
    on ``logging.lastResort``. Call once at start-up, after logging is configured; calling it
    again covers handlers added since."""
    targets = [logging.getLogger(), *loggers]
    handlers = [handler for logger in targets for handler in logger.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    log.debug("secret redaction installed on %d handlers", len(handlers))
