"""The handshake and the session's end: keys, dialects, paths and the session limit."""

from __future__ import annotations

import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from realtime_desktop.server import Faults

from .helpers import TOKEN, asyncio_test, running
from .sdk_client import RealtimeClient, validate


async def _refusal(url: str, headers: dict[str, str]) -> tuple[dict[str, object], int, str]:
    """What a refused client gets: the upgrade succeeds, then one error event and a close."""
    async with connect(url, additional_headers=headers) as ws:
        event = json.loads(await ws.recv())
        validate(event, "ga")
        await ws.wait_closed()
        assert ws.close_code is not None
        return event, ws.close_code, ws.close_reason or ""


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "You didn't provide an API key"),
        ({"Authorization": "Bearer sk-not-the-token"}, "Incorrect API key provided: sk-*"),
        ({"Authorization": "Basic dGVzdA=="}, "You didn't provide an API key"),
        ({"api-key": "wrong-key-1234"}, "Incorrect API key provided"),
    ],
)
@asyncio_test
async def test_a_bad_key_gets_invalid_api_key_and_close_4000(
    headers: dict[str, str], message: str
) -> None:
    async with running() as server:
        event, code, reason = await _refusal(server.url, headers)
        assert event["type"] == "error"
        error = event["error"]
        assert isinstance(error, dict)
        assert error["code"] == "invalid_api_key"
        assert error["type"] == "invalid_request_error"
        assert str(error["message"]).startswith(message)
        assert "not-the-token" not in str(error["message"])
        assert (code, reason) == (4000, "invalid_request_error.invalid_api_key")
        assert server.sessions_opened == 0


@asyncio_test
async def test_bearer_and_azure_api_key_headers_are_accepted() -> None:
    async with running() as server:
        for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"api-key": TOKEN}):
            async with RealtimeClient.open(server.url, None, headers=headers) as c:
                assert (await c.next())["type"] == "session.created"
        azure_url = server.url.replace("/v1/realtime", "/openai/v1/realtime")
        async with connect(
            azure_url + "?deployment=my-deployment", additional_headers={"api-key": TOKEN}
        ) as ws:
            created = json.loads(await ws.recv())
            assert created["session"]["model"] == "my-deployment"


@asyncio_test
async def test_a_generated_token_is_long_and_random() -> None:
    async with running(token=None) as first, running(token=None) as second:
        assert len(first.token) >= 32
        assert first.token != second.token
        _, code, _ = await _refusal(first.url, {"Authorization": f"Bearer {second.token}"})
        assert code == 4000


@asyncio_test
async def test_reject_auth_fault_refuses_even_the_right_key() -> None:
    async with running(faults=Faults(reject_auth=True)) as server:
        event, code, _ = await _refusal(server.url, {"Authorization": f"Bearer {TOKEN}"})
        assert event["error"]["code"] == "invalid_api_key"  # type: ignore[index]
        assert code == 4000


@asyncio_test
async def test_ga_only_server_refuses_the_beta_header() -> None:
    async with running(dialect="ga") as server:
        event, code, reason = await _refusal(
            server.url, {"Authorization": f"Bearer {TOKEN}", "OpenAI-Beta": "realtime=v1"}
        )
        assert event["error"] == {  # type: ignore[comparison-overlap]
            "type": "invalid_request_error",
            "code": "beta_api_shape_disabled",
            "message": "The Realtime Beta API is no longer supported. Please use /v1/realtime "
            "for the GA API.",
            "param": None,
            "event_id": None,
        }
        assert (code, reason) == (4000, "invalid_request_error.beta_api_shape_disabled")
        # GA clients are served as usual.
        async with RealtimeClient.open(server.url, TOKEN) as c:
            assert (await c.next())["session"]["type"] == "realtime"


@pytest.mark.parametrize(
    ("server_dialect", "beta_header", "served"),
    [("auto", False, "ga"), ("auto", True, "beta"), ("beta", False, "beta"), ("ga", False, "ga")],
)
@asyncio_test
async def test_dialect_choice(server_dialect: str, beta_header: bool, served: str) -> None:
    headers = {"OpenAI-Beta": "realtime=v1"} if beta_header else {}
    async with (
        running(dialect=server_dialect) as server,
        RealtimeClient.open(server.url, TOKEN, dialect=served, headers=headers) as c,
    ):
        created = await c.next()
        assert ("type" in created["session"]) == (served == "ga")
        assert server.sessions[0].dialect == served


@asyncio_test
async def test_other_paths_are_not_found() -> None:
    async with running() as server:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(server.url.replace("/v1/realtime", "/v1/chat")):
                pass
        assert caught.value.response.status_code == 404


@asyncio_test
async def test_session_limit_ends_with_session_expired_and_1001() -> None:
    async with running(session_limit_s=0.5) as server, RealtimeClient.open(server.url, TOKEN) as c:
        created = await c.next()
        before = time.time()
        assert created["session"]["expires_at"] - before <= 1.5
        error = (await c.next_of("error"))["error"]
        assert error["code"] == "session_expired"
        assert error["message"] == "Your session hit the maximum duration of 0.5 seconds."
        assert await c.wait_closed() == 1001
        assert c.ws.close_reason == error["message"]


@asyncio_test
async def test_expire_now_uses_the_real_sixty_minute_message() -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        created = await c.next()
        assert 3590 <= created["session"]["expires_at"] - time.time() <= 3610
        await server.sessions[0].expire()
        error = (await c.next_of("error"))["error"]
        assert error["message"] == "Your session hit the maximum duration of 60 minutes."
        assert await c.wait_closed() == 1001
