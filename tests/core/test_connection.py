"""Providers, URLs, headers and ephemeral keys (DESIGN.md "Providers", PROTOCOL.md §1.1–1.2)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

from realtime_desktop.core import (
    AuthenticationError,
    ConnectionSettings,
    InvalidInputError,
    NetworkError,
    RealtimeSession,
    SessionState,
    resolve_endpoint,
)
from realtime_desktop.core.connection import fetch_ephemeral_key

from .scripted import ScriptedServer

KEY = "sk-test-abcdefghijklmnop"


def test_openai_url_and_bearer_header() -> None:
    endpoint = resolve_endpoint(ConnectionSettings(api_key=KEY, model="gpt-realtime-2.1-mini"), KEY)
    assert endpoint.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1-mini"
    assert endpoint.headers == {"Authorization": f"Bearer {KEY}"}
    assert "OpenAI-Beta" not in endpoint.headers  # it would kill a GA session (close 4000)
    assert KEY not in repr(endpoint)


@pytest.mark.parametrize(
    "resource",
    [
        "myres",
        "myres.openai.azure.com",
        "https://myres.openai.azure.com/",
        "https://myres.openai.azure.com/openai",
    ],
)
def test_azure_url_from_resource_and_deployment(resource: str) -> None:
    settings = ConnectionSettings(
        provider="azure",
        api_key="azkey-0123456789",
        azure_resource=resource,
        azure_deployment="rt-prod",
    )
    endpoint = resolve_endpoint(settings, settings.api_key)
    assert endpoint.url == "wss://myres.openai.azure.com/openai/v1/realtime?model=rt-prod"
    assert endpoint.headers == {"api-key": "azkey-0123456789"}


def test_azure_entra_token_and_missing_fields() -> None:
    settings = ConnectionSettings(
        provider="azure",
        api_key="eyJ0eXAi.token",
        azure_resource="r",
        azure_deployment="d",
        azure_auth="bearer",
    )
    assert resolve_endpoint(settings, settings.api_key).headers == {
        "Authorization": "Bearer eyJ0eXAi.token"
    }
    with pytest.raises(InvalidInputError, match="deployment"):
        resolve_endpoint(ConnectionSettings(provider="azure", api_key="k", azure_resource="r"), "k")


def test_custom_provider_with_headers_and_the_beta_dialect() -> None:
    settings = ConnectionSettings(
        provider="custom",
        url="wss://rt.example.com/v1/realtime?model=m",
        api_key=KEY,
        dialect="beta",
        headers={"OpenAI-Organization": "org-123", "X-Proxy-Token": "proxy-secret-token"},
    )
    endpoint = resolve_endpoint(settings, KEY)
    assert endpoint.url == "wss://rt.example.com/v1/realtime?model=m"
    assert endpoint.headers == {
        "Authorization": f"Bearer {KEY}",
        "OpenAI-Beta": "realtime=v1",
        "OpenAI-Organization": "org-123",
        "X-Proxy-Token": "proxy-secret-token",
    }
    assert endpoint.dialect == "beta"
    assert "headers" not in repr(settings)


def test_offline_server_token_and_loopback_ws() -> None:
    for url in ("ws://127.0.0.1:8765/v1/realtime", "ws://localhost:1/", "ws://[::1]:9/"):
        endpoint = resolve_endpoint(
            ConnectionSettings(provider="offline", url=url, api_key="local-token-1"),
            "local-token-1",
        )
        assert endpoint.url == url
        assert endpoint.is_loopback
        assert endpoint.headers == {"Authorization": "Bearer local-token-1"}


@pytest.mark.parametrize(
    "url", ["ws://api.example.com/v1/realtime", "http://192.168.1.20:8080/", "ws://10.0.0.1/"]
)
def test_clear_text_to_another_host_is_refused(url: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        resolve_endpoint(ConnectionSettings(provider="custom", url=url, api_key=KEY), KEY)
    assert "Refusing an unencrypted ws://" in raised.value.message
    assert "wss://" in raised.value.hint


def test_https_urls_become_wss_and_bad_input_is_explained() -> None:
    endpoint = resolve_endpoint(
        ConnectionSettings(provider="custom", url="https://rt.example.com/x"), None
    )
    assert endpoint.url == "wss://rt.example.com/x"
    assert endpoint.headers == {}
    with pytest.raises(InvalidInputError, match="No API key"):
        resolve_endpoint(ConnectionSettings(), None)
    with pytest.raises(InvalidInputError, match="No URL"):
        resolve_endpoint(ConnectionSettings(provider="offline"), "t")
    with pytest.raises(InvalidInputError, match="not a WebSocket URL"):
        resolve_endpoint(ConnectionSettings(provider="custom", url="ftp://x/"), None)
    with pytest.raises(InvalidInputError, match="single line"):
        resolve_endpoint(
            ConnectionSettings(provider="custom", url="wss://x/", headers={"X-A": "1\r\nX-B: 2"}),
            None,
        )
    with pytest.raises(InvalidInputError):
        ConnectionSettings(provider="carrier-pigeon")  # type: ignore[arg-type]


class KeyService:
    """A local HTTP key service (the user's backend that mints ephemeral keys)."""

    def __init__(self, body: Any = None, *, status: int = 200, text: str | None = None) -> None:
        self.hits: list[dict[str, str]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                service.hits.append({**dict(self.headers), "method": self.command})
                payload = text.encode() if text is not None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "text/plain" if text is not None else "application/json"
                )
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _answer  # noqa: N815
            do_POST = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the default writes every request to stderr

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/session"

    def __enter__(self) -> KeyService:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.mark.parametrize(
    ("body", "text", "expected"),
    [
        ({"value": "ek_ga_0123456789", "expires_at": 1}, None, "ek_ga_0123456789"),
        ({"client_secret": {"value": "ek_beta_0123456789"}}, None, "ek_beta_0123456789"),
        (None, "ek_plain_0123456789\n", "ek_plain_0123456789"),
    ],
    ids=["ga", "beta", "text"],
)
async def test_ephemeral_key_answers(body: Any, text: str | None, expected: str) -> None:
    with KeyService(body, text=text) as service:
        settings = ConnectionSettings(
            ephemeral_key_url=service.url,
            ephemeral_key_headers={"Authorization": "Bearer my-backend-session"},
            ephemeral_key_method="POST",
        )
        assert await fetch_ephemeral_key(settings) == expected
        assert service.hits[0]["Authorization"] == "Bearer my-backend-session"
        assert service.hits[0]["method"] == "POST"


async def test_ephemeral_key_failures_are_classified() -> None:
    with (
        KeyService({"error": "no"}, status=401) as service,
        pytest.raises(AuthenticationError, match="HTTP 401"),
    ):
        await fetch_ephemeral_key(ConnectionSettings(ephemeral_key_url=service.url))
    with KeyService({"error": "later"}, status=503) as service:
        with pytest.raises(NetworkError) as raised:
            await fetch_ephemeral_key(ConnectionSettings(ephemeral_key_url=service.url))
        assert raised.value.retryable
    with (
        KeyService({"something": "else"}) as service,
        pytest.raises(AuthenticationError, match="without a usable key"),
    ):
        await fetch_ephemeral_key(ConnectionSettings(ephemeral_key_url=service.url))
    with pytest.raises(InvalidInputError, match="unencrypted http"):
        await fetch_ephemeral_key(ConnectionSettings(ephemeral_key_url="http://keys.example.com/"))


async def test_every_connection_uses_a_freshly_fetched_key() -> None:
    with KeyService({"value": "ek_fresh_0123456789"}) as service:
        async with ScriptedServer() as server:
            session = RealtimeSession(server.settings(api_key=None, ephemeral_key_url=service.url))
            await session.connect()
            first = await server.peer(1)
            assert first.headers["Authorization"] == "Bearer ek_fresh_0123456789"
            changes = session.state_changes()
            first.abort()
            async for change in changes:
                if change.state is SessionState.CONNECTED:
                    break
            second = await server.peer(2)
            assert second.headers["Authorization"] == "Bearer ek_fresh_0123456789"
            assert len(service.hits) == 2
            await session.close()


async def test_an_unreachable_server_fails_connect_with_a_network_error() -> None:
    async with ScriptedServer() as server:
        url = server.url
    session = RealtimeSession(
        ConnectionSettings(provider="offline", url=url, api_key="t0ken-123456")
    )
    with pytest.raises(NetworkError) as raised:
        await session.connect()
    assert raised.value.retryable
    assert session.state is SessionState.FAILED
