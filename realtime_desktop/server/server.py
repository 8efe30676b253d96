"""The offline server: a WebSocket endpoint that speaks the Realtime protocol.

Embedding it::

    server = OfflineServer(ServerConfig(token="secret"))
    await server.start()            # on a running loop
    ...server.url, server.token...
    await server.stop()             # every connection closed, every task ended

    with start_in_thread() as running:   # its own thread and loop, for the desktop app
        connect(running.url, running.token)

As the real service does, the handshake always succeeds (HTTP 101) on ``/v1/realtime`` (also
Azure's ``/openai/v1/realtime`` and ``/openai/realtime``); a bad key or a refused dialect is
answered afterwards with an ``error`` event and close code 4000 (PROTOCOL.md §1.3).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import hmac
import http
import logging
import secrets
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from realtime_desktop.protocol import Dialect
from realtime_desktop.server import errors
from realtime_desktop.server.config import DeltaPacing, Faults, ServerConfig
from realtime_desktop.server.errors import RealtimeError
from realtime_desktop.server.session import RealtimeSession
from realtime_desktop.server.session_config import DEFAULT_MODEL
from realtime_desktop.server.speech import Speaker, choose_speaker

log = logging.getLogger(__name__)

T = TypeVar("T")

REALTIME_PATH: Final = "/v1/realtime"
# Azure's GA path and its retired preview path, so the app's Azure provider runs offline too.
REALTIME_PATHS: Final = frozenset({REALTIME_PATH, "/openai/v1/realtime", "/openai/realtime"})
# Above the 15 MiB append limit, so an oversized append is answered with the service's error
# instead of a bare 1009 close (issue 4, acceptance 5).
MAX_CLIENT_FRAME_BYTES: Final = 64 * 1024 * 1024
CLOSED_SESSIONS_KEPT: Final = 16
BETA_HEADER_VALUE: Final = "realtime=v1"


class OfflineServer:
    """The Realtime protocol on ``ws://host:port/v1/realtime``, answered by the echo assistant.

    ``faults`` and ``pacing`` may be changed while it runs; they apply to connections made
    afterwards (a live session has its own ``pacing`` attribute).
    """

    def __init__(self, config: ServerConfig | None = None, **overrides: Any) -> None:
        self.config = dataclasses.replace(config or ServerConfig(), **overrides)
        self.token = self.config.token or secrets.token_urlsafe(24)
        self.faults: Faults = self.config.faults
        self.pacing: DeltaPacing = self.config.pacing
        self.sessions: list[RealtimeSession] = []
        """Open sessions, oldest first."""
        self.closed_sessions: collections.deque[RealtimeSession] = collections.deque(
            maxlen=CLOSED_SESSIONS_KEPT
        )
        """The most recently closed sessions, oldest first."""
        self._speaker: Speaker = choose_speaker(self.config.speech)
        self._server: Server | None = None
        self._port = self.config.port
        self.sessions_opened = 0
        """How many sessions were opened since the server started."""

    # Addresses ----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"ws://{self.config.host}:{self._port}{REALTIME_PATH}"

    @property
    def speaker_name(self) -> str:
        return self._speaker.name

    # Lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Starts listening on the running loop; returns once connections are accepted."""
        if self._server is not None:
            raise RuntimeError("the offline server is already running")
        self._server = await serve(
            self._serve_connection,
            self.config.host,
            self.config.port,
            process_request=self._check_path,
            max_size=MAX_CLIENT_FRAME_BYTES,
            # Audio travels as base64 text; deflating it costs both sides CPU for little gain.
            compression=None,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        log.info(
            "offline Realtime server listening on %s (dialect %s)", self.url, self.config.dialect
        )
        return self

    async def stop(self) -> None:
        """Closes every connection (1001) and returns when no task of the server is left."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()
        if server.close_task is not None:
            await server.close_task
        log.info("offline Realtime server stopped")

    @property
    def is_running(self) -> bool:
        return self._server is not None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # Sessions -------------------------------------------------------------------------------------

    def session_by_id(self, session_id: str) -> RealtimeSession | None:
        """The open or recently closed session with this ``sess_…`` id. ``session.created``
        tells a client its id, and the session is listed before that event is sent."""
        for session in (*self.sessions, *self.closed_sessions):
            if session.id == session_id:
                return session
        return None

    # Connections ----------------------------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path.rstrip("/")
        if path not in REALTIME_PATHS:
            return connection.respond(
                http.HTTPStatus.NOT_FOUND,
                f"Not Found: the offline Realtime server serves {REALTIME_PATH}\n",
            )
        return None

    async def _serve_connection(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        faults = self.faults
        presented = _presented_key(request.headers)
        if faults.reject_auth or not self._key_ok(presented):
            await _refuse(connection, errors.invalid_api_key(presented))
            return
        beta_asked = _asks_for_beta(request.headers)
        if beta_asked and self.config.dialect == "ga":
            await _refuse(connection, errors.beta_api_shape_disabled())
            return
        use_beta = self.config.dialect == "beta" or (self.config.dialect == "auto" and beta_asked)
        dialect: Dialect = "beta" if use_beta else "ga"
        session = RealtimeSession(
            connection,
            dialect=dialect,
            model=_model(request.path),
            session_limit_s=self.config.session_limit_s,
            pacing=self.pacing,
            faults=faults,
            speaker=self._speaker,
        )
        self.sessions.append(session)
        self.sessions_opened += 1
        log.info("session %s opened (%s, model %s)", session.id, dialect, session.model)
        try:
            await session.serve()
        finally:
            self.sessions.remove(session)
            self.closed_sessions.append(session)

    def _key_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.token.encode()
        )


def _presented_key(headers: Headers) -> str | None:
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    api_key = headers.get("api-key")
    return api_key.strip() if api_key else None


def _asks_for_beta(headers: Headers) -> bool:
    values = ",".join(headers.get_all("OpenAI-Beta")).replace(" ", "").lower()
    return BETA_HEADER_VALUE in values.split(",")


def _model(path: str) -> str:
    query = parse_qs(urlsplit(path).query)
    # Azure names the model by its deployment.
    for key in ("model", "deployment"):
        if query.get(key):
            return query[key][0]
    return DEFAULT_MODEL


async def _refuse(connection: ServerConnection, error: RealtimeError) -> None:
    """The service's answer to a handshake it will not serve: an error event, then 4000."""
    log.info("refusing a connection: %s", error.code)
    await connection.send(error.event().model_dump_json(exclude_unset=True))
    await connection.close(errors.CLOSE_FATAL, error.close_reason())


class OfflineServerThread:
    """An :class:`OfflineServer` on its own thread and event loop.

    The desktop app embeds the server this way, so its CPU work (VAD, espeak-ng) never runs on
    the GUI loop. ``start()`` returns once the server accepts connections; ``stop()`` returns
    once every connection is closed and the thread has ended. The server's state belongs to its
    loop: read it from another thread through :meth:`call` (``running.call(lambda:
    running.server.sessions[0].conversation.items)``) and drive it through :meth:`run`.
    """

    def __init__(self, config: ServerConfig | None = None, **overrides: Any) -> None:
        self.server = OfflineServer(config, **overrides)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the server thread is not running")
        return self._loop

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            raise RuntimeError("the server thread was already started")
        self._thread = threading.Thread(
            target=self._main, name="offline-realtime-server", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the offline server did not start within {timeout} s")
        if self._failure is not None:
            raise RuntimeError("the offline server failed to start") from self._failure
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._failure = exc
            log.exception("the offline server thread failed")
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.server.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.stop()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Runs ``coro`` on the server's loop and returns its result (from any other thread)."""
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def call(self, func: Callable[[], T], timeout: float | None = 30.0) -> T:
        """Calls ``func`` on the server's loop, so it sees the server's state between events."""

        async def invoke() -> T:
            return func()

        return self.run(invoke(), timeout)

    def stop(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop is not None and thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"the offline server thread did not stop within {timeout} s")

    def __enter__(self) -> Self:
        return self.start() if self._thread is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(config: ServerConfig | None = None, **overrides: Any) -> OfflineServerThread:
    """An offline server running on its own thread; stop it with ``.stop()`` (or ``with``)."""
    return OfflineServerThread(config, **overrides).start()


__all__ = [
    "REALTIME_PATH",
    "OfflineServer",
    "OfflineServerThread",
    "start_in_thread",
]
