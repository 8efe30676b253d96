"""Where and how to connect: :class:`ConnectionSettings`, the providers, ephemeral keys.

Providers (DESIGN.md "Providers", PROTOCOL.md §1.1–1.2):

* ``openai`` — ``wss://api.openai.com/v1/realtime?model=<model>``, ``Authorization: Bearer``;
* ``azure`` — ``wss://<resource>.openai.azure.com/openai/v1/realtime?model=<deployment>`` with an
  ``api-key`` header (or ``Authorization: Bearer`` for an Entra ID token);
* ``custom`` — any URL, extra headers, the GA or the beta dialect;
* ``offline`` — the embedded server's local URL and its token (``Authorization: Bearer``).

A key may instead be an ephemeral ``ek_…`` secret fetched, before every connection, from a URL the
user configures (their own backend; PROTOCOL.md §1.2). ``ws://`` (and ``http://`` for the key URL)
is refused unless the host is a loopback address: a key must never cross a network in clear.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from realtime_desktop.protocol import Dialect, RealtimeSessionConfig
from realtime_desktop.protocol.session import DEFAULT_MODEL

from .errors import (
    AuthenticationError,
    InvalidInputError,
    NetworkError,
    OperationTimeoutError,
    RealtimeError,
)
from .redaction import redact, register_secret

log = logging.getLogger(__name__)

Provider = Literal["openai", "azure", "custom", "offline"]
PROVIDERS: tuple[Provider, ...] = ("openai", "azure", "custom", "offline")

OPENAI_REALTIME_URL = "wss://api.openai.com/v1/realtime"
AZURE_HOST_SUFFIX = ".openai.azure.com"
# Sent only with the beta dialect: OpenAI answers it with beta_api_shape_disabled and close 4000
# since 2026-05-12 (PROTOCOL.md §0.1); third-party beta servers may still need it.
BETA_HEADER = ("OpenAI-Beta", "realtime=v1")
# Extra headers whose values are treated as secrets (redacted from logs).
_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie")


@dataclass(frozen=True, kw_only=True)
class ConnectionSettings:
    """Everything :class:`~realtime_desktop.core.RealtimeSession` needs to connect and to stay
    connected. Immutable; build a new one to change it.

    Attributes:
        url: the WebSocket URL. Required for ``custom`` and ``offline``; for ``openai`` and
            ``azure`` it overrides the URL built from ``model`` / the Azure fields.
        api_key: the key or token (``sk-…``, an Azure key, an Entra token, the offline server's
            token). Never printed: it is left out of ``repr`` and registered for log redaction.
        dialect: ``"ga"`` (OpenAI and Azure) or ``"beta"`` (some third-party servers).
        auto_reconnect: reconnect by itself after a transient loss (a drop, a 1011, the session
            time limit). Fatal errors (a rejected key, no quota, a 4000 close) never reconnect.
        max_reconnect_attempts: attempts per loss before the session fails.
        reconnect_delay: base of the exponential backoff, in seconds (attempt n waits between
            half and all of ``reconnect_delay * 2**(n-1)``, at most ``max_reconnect_delay``).
        max_reconnect_delay: cap of one backoff delay, in seconds.
        provider: ``openai``, ``azure``, ``custom`` or ``offline``.
        model: the model for ``openai`` (ignored when ``url`` is given).
        azure_resource: the Azure resource name (``myres``), host (``myres.openai.azure.com``)
            or endpoint URL (``https://myres.openai.azure.com/``).
        azure_deployment: the Azure deployment name (the ``model`` query parameter).
        azure_auth: ``"api-key"`` (a resource key) or ``"bearer"`` (an Entra ID token).
        headers: extra handshake headers (``OpenAI-Organization``, a proxy's token, …).
        session_config: the session configuration sent after every connect and reconnect.
            :meth:`RealtimeSession.update` merges later updates into what is re-applied.
        ephemeral_key_url: when set, the key is fetched from this URL before every connection
            (a JSON answer with ``value`` or ``client_secret.value``, or the key as plain text).
        ephemeral_key_headers: headers for that request (how your backend authenticates you).
        ephemeral_key_method: ``"GET"`` or ``"POST"`` (an empty JSON object is posted).
        open_timeout: seconds for the handshake and the first ``session.created``.
        ping_interval, ping_timeout: WebSocket keepalive, in seconds (``None`` turns it off).
        close_timeout: seconds to wait for the closing handshake.
        max_message_size: the largest server message accepted, in bytes; ``None`` = no limit,
            because ``conversation.item.retrieved`` and ``session.updated`` can be several MiB
            and websockets' 1 MiB default closes the connection with 1009 (PROTOCOL.md §1.5).
        rollover_margin: seconds before ``expires_at`` from which the session rolls over to a
            fresh one by itself, at the next turn boundary (PROTOCOL.md §1.4).
        replay_timeout: seconds to wait for the server to acknowledge the session
            configuration and the replayed items after a (re)connect.
    """

    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    dialect: Dialect = "ga"
    auto_reconnect: bool = True
    max_reconnect_attempts: int = 5
    reconnect_delay: float = 1.0
    max_reconnect_delay: float = 30.0
    provider: Provider = "openai"
    model: str = DEFAULT_MODEL
    azure_resource: str | None = None
    azure_deployment: str | None = None
    azure_auth: Literal["api-key", "bearer"] = "api-key"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    session_config: RealtimeSessionConfig | None = None
    ephemeral_key_url: str | None = None
    ephemeral_key_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    ephemeral_key_method: Literal["GET", "POST"] = "GET"
    open_timeout: float = 10.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    close_timeout: float = 5.0
    max_message_size: int | None = None
    rollover_margin: float = 120.0
    replay_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise InvalidInputError(
                f"Unknown provider {self.provider!r}.",
                hint=f"Choose one of {', '.join(PROVIDERS)}.",
            )
        if self.dialect not in ("ga", "beta"):
            raise InvalidInputError(
                f"Unknown dialect {self.dialect!r}.", hint="Choose 'ga' or 'beta'."
            )
        if self.max_reconnect_attempts < 0:
            raise InvalidInputError("max_reconnect_attempts must not be negative.")
        if self.reconnect_delay < 0 or self.max_reconnect_delay < 0:
            raise InvalidInputError("Reconnect delays must not be negative.")
        if self.open_timeout <= 0 or self.replay_timeout <= 0 or self.close_timeout <= 0:
            raise InvalidInputError("Timeouts must be positive.")
        register_secret(self.api_key)
        for mapping in (self.headers, self.ephemeral_key_headers):
            for name, value in mapping.items():
                if any(word in name.lower() for word in _SECRET_HEADER_WORDS):
                    register_secret(_token_of(value))


@dataclass(frozen=True)
class Endpoint:
    """A resolved WebSocket endpoint: the URL and the handshake headers (which hold the key;
    never log them, ``repr`` leaves them out)."""

    url: str
    headers: dict[str, str] = field(repr=False)
    dialect: Dialect

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(urlsplit(self.url).hostname or "")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_endpoint(settings: ConnectionSettings, key: str | None) -> Endpoint:
    """The URL and headers for ``settings`` with the key ``key`` (the API key or a fetched
    ephemeral key). Raises :class:`InvalidInputError` with a fix the user can make."""
    headers: dict[str, str] = {}
    if settings.provider == "openai":
        url = settings.url or f"{OPENAI_REALTIME_URL}?model={quote(settings.model, safe='')}"
        _require_key(key, "OpenAI")
        headers["Authorization"] = f"Bearer {key}"
    elif settings.provider == "azure":
        url = settings.url or _azure_url(settings)
        _require_key(key, "Azure OpenAI")
        if settings.azure_auth == "bearer":
            headers["Authorization"] = f"Bearer {key}"
        else:
            headers["api-key"] = str(key)
    else:
        if not settings.url:
            what = "the offline server" if settings.provider == "offline" else "a custom provider"
            raise InvalidInputError(
                f"No URL is set for {what}.", hint="Enter the server's ws:// or wss:// URL."
            )
        url = settings.url
        if key:
            headers["Authorization"] = f"Bearer {key}"
    url = websocket_url(url)
    if settings.dialect == "beta":
        headers[BETA_HEADER[0]] = BETA_HEADER[1]
    for name, value in settings.headers.items():
        _check_header(name, value)
        headers[name] = value
    return Endpoint(url=url, headers=headers, dialect=settings.dialect)


def websocket_url(url: str) -> str:
    """``url`` as a ``ws``/``wss`` URL (``http(s)`` is mapped), refusing clear text to any host
    that is not loopback."""
    parts = urlsplit(url.strip())
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise InvalidInputError(
            f"{redact(url)!r} is not a WebSocket URL.",
            hint="Use a wss:// URL (ws:// only for this computer).",
        )
    if scheme == "ws" and not is_loopback_host(parts.hostname):
        raise InvalidInputError(
            f"Refusing an unencrypted ws:// connection to {parts.hostname}: the key would "
            "cross the network in clear.",
            hint="Use wss:// (ws:// is allowed only for localhost).",
        )
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def _azure_url(settings: ConnectionSettings) -> str:
    resource = (settings.azure_resource or "").strip()
    deployment = (settings.azure_deployment or "").strip()
    if not resource or not deployment:
        raise InvalidInputError(
            "Azure needs a resource and a deployment name.",
            hint="Enter both in Settings → Connection, or a full wss:// URL.",
        )
    if "://" in resource:
        host = urlsplit(resource).hostname or ""
    elif "." in resource:
        host = resource.split("/", 1)[0]
    else:
        host = resource + AZURE_HOST_SUFFIX
    if not host:
        raise InvalidInputError(f"{resource!r} is not an Azure resource or endpoint.")
    return f"wss://{host}/openai/v1/realtime?model={quote(deployment, safe='')}"


def _require_key(key: str | None, provider: str) -> None:
    if not key:
        raise InvalidInputError(
            f"No API key is set for {provider}.",
            hint="Enter a key in Settings → Connection, or set OPENAI_API_KEY.",
        )


def _check_header(name: str, value: str) -> None:
    # A CR or LF would let a pasted value inject further headers into the handshake.
    if any(c in name + value for c in "\r\n") or not name.strip():
        raise InvalidInputError(
            f"The header {name!r} has an invalid name or value.",
            hint="Header names and values must be a single line.",
        )


def _token_of(header_value: str) -> str:
    scheme, _, rest = header_value.partition(" ")
    return rest if scheme.lower() in ("bearer", "basic") and rest else header_value


# Ephemeral keys ---------------------------------------------------------------------------------


async def fetch_ephemeral_key(settings: ConnectionSettings) -> str:
    """A fresh key from ``settings.ephemeral_key_url`` (run in a thread: ``urllib`` blocks).

    Accepts the GA ``client_secrets`` answer (``{"value": "ek_…"}``), the beta one
    (``{"client_secret": {"value": "ek_…"}}``) or the key as plain text.
    """
    url = settings.ephemeral_key_url
    if not url:
        raise InvalidInputError("No ephemeral key URL is set.")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInputError(
            f"{redact(url)!r} is not an http(s) URL.", hint="Enter your key service's URL."
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InvalidInputError(
            f"Refusing to fetch a key over unencrypted http from {parts.hostname}.",
            hint="Use https:// (http:// is allowed only for localhost).",
        )
    for name, value in settings.ephemeral_key_headers.items():
        _check_header(name, value)
    key = await asyncio.to_thread(
        _fetch_key_blocking,
        url,
        dict(settings.ephemeral_key_headers),
        settings.ephemeral_key_method,
        settings.open_timeout,
    )
    register_secret(key)
    return key


def _fetch_key_blocking(url: str, headers: dict[str, str], method: str, timeout: float) -> str:
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method)
    for name, value in headers.items():
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    host = urlsplit(url).hostname
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read(64 * 1024)
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        raise _key_service_error(exc.code, host) from None
    except TimeoutError:
        raise OperationTimeoutError(
            f"The key service at {host} did not answer within {timeout:g} s.", retryable=True
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise NetworkError(
            f"The key service's certificate was not accepted: {exc.verify_message}.",
            hint="Check the key service URL.",
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise NetworkError(
            f"Could not reach the key service at {host}: {reason}.",
            hint="Check the network and the key service URL.",
            retryable=True,
        ) from None
    return _key_from_body(body, content_type)


def _key_service_error(status: int, host: str | None) -> RealtimeError:
    if status in (401, 403):
        return AuthenticationError(
            f"The key service at {host} refused the request (HTTP {status}).",
            hint="Check the key service's credentials in Settings → Connection.",
            code=f"http_{status}",
        )
    return NetworkError(
        f"The key service at {host} answered HTTP {status}.",
        hint="Try again later, or check the key service URL.",
        retryable=status >= 500 or status == 429,
        code=f"http_{status}",
    )


def _key_from_body(body: bytes, content_type: str) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    key: Any = text
    if "json" in content_type or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        key = _find_key(data)
    if not isinstance(key, str) or not key or any(c.isspace() for c in key):
        raise AuthenticationError(
            "The key service answered without a usable key.",
            hint='It should return {"value": "ek_…"} or the key as plain text.',
        )
    return key


def _find_key(data: Any) -> Any:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("value"), str):
        return data["value"]
    secret = data.get("client_secret")
    if isinstance(secret, dict):
        return secret.get("value")
    return secret
