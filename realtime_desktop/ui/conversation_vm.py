"""The main window's view model: the conversation controller, as Qt properties, signals and
commands.

It owns what lives as long as the window: the user's settings, the keyring, the conversation
store, the inspector's event log, the audio engine and — when there is no API key or the user
chose it — the embedded offline server on its own thread. It owns one
:class:`RealtimeConversation` at a time (a new conversation, or one continued from history,
replaces it) and the recorder and autosaver that keep it on disk.

Views bind to the properties and signals and call the commands; they never await. Commands are
coroutines; :meth:`ConversationViewModel.run` schedules one from a slot and turns a
:class:`RealtimeError` into a notice the user can act on, so nothing fails silently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets as random_tokens
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from realtime_desktop.audio.engine import AudioEngine
from realtime_desktop.core import ConnectionSettings, RealtimeError, StateChange
from realtime_desktop.core.controller import (
    ControllerListener,
    ControllerStats,
    Notice,
    NoticeAction,
    NoticeLevel,
    Phase,
    RealtimeConversation,
)
from realtime_desktop.core.event_log import EventLog
from realtime_desktop.core.from_settings import (
    OfflineEndpoint,
    connection_settings,
    engine_config,
    price_table,
    tool_registry,
)
from realtime_desktop.core.recorder import ConversationRecorder, conversation_from_document
from realtime_desktop.core.tools import ToolRun
from realtime_desktop.server import OfflineServerThread, start_in_thread
from realtime_desktop.storage.autosave import Autosaver
from realtime_desktop.storage.conversation import ConversationDocument
from realtime_desktop.storage.conversation_store import ConversationStore
from realtime_desktop.storage.files import StorageError
from realtime_desktop.storage.secrets import KeySource, SecretStore, SecretStoreError
from realtime_desktop.storage.settings import Settings
from realtime_desktop.storage.settings_file import SettingsFile
from realtime_desktop.ui.qt_property import notify_property

log = logging.getLogger(__name__)

PROVIDER_LABELS = {
    "openai": "OpenAI",
    "azure": "Azure",
    "custom": "Custom",
    "offline": "Offline echo",
}
PHASE_LABELS = {
    Phase.IDLE: "Not connected",
    Phase.CONNECTING: "Connecting…",
    Phase.LISTENING: "Listening",
    Phase.USER_SPEAKING: "You are speaking",
    Phase.THINKING: "Thinking…",
    Phase.ASSISTANT_SPEAKING: "Assistant speaking",
    Phase.TOOL_RUNNING: "Running a tool",
    Phase.RECONNECTING: "Reconnecting…",
    Phase.ERROR: "Connection failed",
}
OFFLINE_NOTICE = (
    "Offline echo test: no API key is set, so the assistant plays back what you say. "
    "Add a key in Settings → Connection to talk to a real model."
)

EngineFactory = Callable[[Settings], AudioEngine | None]


class ConversationViewModel(QObject):
    """See the module docstring."""

    phase_changed = Signal(str)
    connection_changed = Signal()
    settings_changed = Signal()
    notice = Signal(object)
    notice_cleared = Signal(str)
    stats_changed = Signal()
    tool_changed = Signal(object)
    conversation_changed = Signal()
    offline_changed = Signal(bool)

    def __init__(
        self,
        *,
        settings: Settings,
        secrets: SecretStore,
        settings_file: SettingsFile | None = None,
        store: ConversationStore | None = None,
        make_engine: EngineFactory | None = None,
        force_offline: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._events = _ControllerEvents(self)
        self._settings = settings
        self._secrets = secrets
        self._settings_file = settings_file
        self._store = store
        self._force_offline = force_offline
        self.event_log = EventLog()
        self._make_engine = make_engine
        self._engine: AudioEngine | None = None
        self._engine_made = False
        self._server: OfflineServerThread | None = None
        self._offline = False
        self._busy = False
        self._shut_down = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.controller = self._new_controller()
        self.document: ConversationDocument | None = None
        self._recorder: ConversationRecorder | None = None
        self._autosaver: Autosaver | None = None

    # Properties ---------------------------------------------------------------------------------
    @notify_property(str, phase_changed)
    def phase(self) -> str:
        return self.controller.phase.value

    @notify_property(str, phase_changed)
    def phase_label(self) -> str:
        return PHASE_LABELS[self.controller.phase]

    @notify_property(bool, connection_changed)
    def connected(self) -> bool:
        return self.controller.is_connected

    @notify_property(bool, settings_changed)
    def listening(self) -> bool:
        return self.controller.is_listening

    @notify_property(bool, settings_changed)
    def push_to_talk(self) -> bool:
        return self.controller.push_to_talk

    @notify_property(str, settings_changed)
    def modality(self) -> str:
        return self.controller.output_modality

    @notify_property(str, connection_changed)
    def provider_label(self) -> str:
        return PROVIDER_LABELS["offline" if self._offline else self._settings.connection.provider]

    @notify_property(str, connection_changed)
    def model(self) -> str:
        return "echo" if self._offline else self._settings.session_model

    @notify_property(str, connection_changed)
    def voice(self) -> str:
        return self._settings.voice.voice

    @notify_property(bool, offline_changed)
    def offline(self) -> bool:
        return self._offline

    @notify_property(bool, connection_changed)
    def busy(self) -> bool:
        return self._busy

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def secrets(self) -> SecretStore:
        return self._secrets

    @property
    def store(self) -> ConversationStore | None:
        return self._store

    @property
    def engine(self) -> AudioEngine | None:
        """The audio engine, made on first use (None when there is no usable audio)."""
        if not self._engine_made:
            self._engine_made = True
            self._engine = self._make_engine(self._settings) if self._make_engine else None
        return self._engine

    @property
    def server(self) -> OfflineServerThread | None:
        return self._server

    @property
    def expires_at(self) -> float | None:
        session = self.controller.session
        return session.expires_at if session is not None else None

    def stats(self) -> ControllerStats:
        return self.controller.stats()

    # Commands -----------------------------------------------------------------------------------
    def run(self, command: Coroutine[Any, Any, object]) -> asyncio.Task[Any]:
        """Schedules a command from a slot; its failure becomes a notice."""
        task = asyncio.get_event_loop().create_task(self._guarded(command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, command: Coroutine[Any, Any, object]) -> None:
        try:
            await command
        except RealtimeError as exc:
            self.notice.emit(Notice(NoticeLevel.WARNING, exc.user_message, key="command"))
        except (StorageError, SecretStoreError) as exc:
            self.notice.emit(Notice(NoticeLevel.ERROR, str(exc), key="storage"))

    async def connect_session(self) -> None:
        """Connects the current conversation (replaying it if it has items)."""
        if self.controller.session is not None:
            return
        self._set_busy(True)
        try:
            connection = await self._connection()
            await self._ensure_recording()
            await self.controller.start(connection)
            if self._recorder is not None:
                self._recorder.session_started()
        finally:
            self._set_busy(False)
            self.connection_changed.emit()
            self.settings_changed.emit()

    async def disconnect_session(self) -> None:
        await self.controller.end()
        if self._recorder is not None:
            self._recorder.session_stopped()
        if self._autosaver is not None:
            await self._autosaver.flush()
        self.connection_changed.emit()
        self.settings_changed.emit()

    async def retry(self) -> None:
        await self.disconnect_session()
        await self.connect_session()

    async def send_text(self, text: str) -> None:
        await self.controller.send_text(text)

    async def interrupt(self) -> None:
        await self.controller.interrupt()

    async def toggle_listening(self) -> None:
        if self.controller.is_listening:
            self.controller.stop_listening()
        else:
            self.controller.start_listening()

    async def push_to_talk_pressed(self) -> None:
        await self.controller.push_to_talk_pressed()

    async def push_to_talk_released(self) -> None:
        await self.controller.push_to_talk_released()

    async def set_modality(self, modality: str) -> None:
        await self.controller.update_modalities(modality)
        self._settings = self._settings.with_value(
            "voice.output_modality", "text" if modality == "text" else "voice"
        )
        await self._save_settings()

    def approve_tool(self, call_id: str) -> None:
        self.controller.approve_tool(call_id)

    def deny_tool(self, call_id: str) -> None:
        self.controller.deny_tool(call_id)

    def cancel_tool(self, call_id: str) -> None:
        self.controller.cancel_tool(call_id)

    async def new_conversation(self) -> None:
        """Ends the current conversation (it stays in the history) and starts an empty one."""
        was_connected = self.controller.session is not None
        await self._finish_conversation()
        self._replace_controller(self._new_controller())
        if was_connected:
            await self.connect_session()

    async def continue_conversation(self, conversation_id: str) -> None:
        """Loads a saved conversation and continues it in a new session: its items are
        replayed into the server (DESIGN.md "Persistence")."""
        if self._store is None:
            raise RealtimeError("Saving conversations is off.", hint="Turn it on in Settings.")
        document = await self._store.open_async(conversation_id)
        await self._finish_conversation()
        controller = self._new_controller(conversation_from_document(document))
        self._replace_controller(controller)
        self.document = document
        await self._ensure_recording()
        await self.connect_session()

    async def apply_settings(self, new: Settings) -> None:
        """Saves the settings and applies what changed: audio at once, the session live with
        ``session.update``, and a reconnect only for what cannot change mid-session."""
        old, self._settings = self._settings, new
        await self._save_settings()
        engine = self._engine
        if engine is not None and new.audio != old.audio:
            wanted = engine_config(new)
            engine.apply_config(
                dataclasses.replace(
                    wanted,
                    input_format=engine.config.input_format,
                    output_format=engine.config.output_format,
                )
            )
        self.controller.cost.prices = price_table(new)
        if new.tools != old.tools:
            self._refill_tools(new)
        connected = self.controller.is_connected
        if connected and (new.needs_reconnect(old) or self._offline_choice_changed(old, new)):
            await self.disconnect_session()
            await self.connect_session()
        elif connected and (new.session_differs(old) or new.tools != old.tools):
            spoken = any(
                i.role == "assistant" and i.has_audio for i in self.controller.conversation
            )
            config = new.to_session_config(include_model=False, include_voice=not spoken)
            config.tools = list(self.controller.tools.function_tools())
            await self.controller.update_session(config)
        self.connection_changed.emit()
        self.settings_changed.emit()

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    async def shutdown(self) -> None:
        """Clean exit: the session closed, tools cancelled, audio stopped, every pending save
        written, the offline server stopped."""
        self._shut_down = True
        await self._finish_conversation()
        engine = self._engine
        if engine is not None and engine.running:
            await asyncio.to_thread(engine.stop)
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.stop)
        for task in list(self._tasks):
            task.cancel()

    # Internals ----------------------------------------------------------------------------------
    def _new_controller(self, conversation: Any = None) -> RealtimeConversation:
        controller = RealtimeConversation(
            audio=self.engine,
            tools=tool_registry(self._settings),
            prices=price_table(self._settings),
            event_log=self.event_log,
            conversation=conversation,
        )
        controller.add_listener(self._events)
        return controller

    def _replace_controller(self, controller: RealtimeConversation) -> None:
        self.controller.remove_listener(self._events)
        self.controller = controller
        self.conversation_changed.emit()
        self.phase_changed.emit(controller.phase.value)
        self.settings_changed.emit()
        self.stats_changed.emit()

    def _refill_tools(self, settings: Settings) -> None:
        registry = self.controller.tools
        for name in list(registry.names):
            registry.unregister(name)
        for tool in tool_registry(settings):
            registry.register(
                tool.handler,
                name=tool.name,
                description=tool.description,
                timeout=tool.timeout,
                requires_approval=tool.requires_approval,
            )

    async def _finish_conversation(self) -> None:
        await self.controller.end()
        if self._recorder is not None:
            self._recorder.detach()
            self._recorder = None
        autosaver, self._autosaver = self._autosaver, None
        if autosaver is not None:
            await autosaver.close()
        self.document = None
        self.connection_changed.emit()

    async def _ensure_recording(self) -> None:
        """Starts saving the conversation (unless the user turned saving off)."""
        if self._store is None or not self._settings.privacy.save_conversations:
            return
        if self._recorder is not None:
            return
        if self.document is None:
            self.document = ConversationDocument(
                provider=self._settings.connection.provider,
                model=self.model,
                voice=self._settings.voice.voice,
                instructions=self._settings.voice.instructions,
            )
        autosaver = Autosaver(self._store, self.document, on_error=self._autosave_failed)
        self._autosaver = autosaver
        self._recorder = ConversationRecorder(
            self.controller, self.document, autosaver.mark_changed
        )

    def _autosave_failed(self, error: StorageError) -> None:
        self.notice.emit(
            Notice(
                NoticeLevel.ERROR,
                f"The conversation could not be saved: {error}. It is retried; check the "
                "conversations folder in Settings → Privacy & storage.",
                NoticeAction.OPEN_SETTINGS,
                key="autosave",
            )
        )

    async def _save_settings(self) -> None:
        if self._settings_file is not None:
            await self._settings_file.save_async(self._settings)

    def _offline_choice_changed(self, old: Settings, new: Settings) -> bool:
        return old.connection.provider != new.connection.provider

    async def _connection(self) -> ConnectionSettings:
        provider = self._settings.connection.provider
        offline = self._force_offline or provider == "offline"
        key: str | None = None
        if not offline:
            resolved = await self._secrets.resolve_async(provider)
            key = resolved.value
            needs_key = provider in ("openai", "azure") and not (
                self._settings.connection.ephemeral_key_url
            )
            if resolved.source is KeySource.NONE and needs_key:
                offline = True
        self._set_offline(offline)
        if offline:
            server = await self._offline_server()
            settings = self._settings.with_value("connection.provider", "offline")
            return connection_settings(
                settings, api_key=None, offline=OfflineEndpoint(server.url, server.token)
            )
        return connection_settings(self._settings, api_key=key)

    async def _offline_server(self) -> OfflineServerThread:
        if self._server is None:
            token = random_tokens.token_urlsafe(16)
            self._server = await asyncio.to_thread(start_in_thread, token=token)
        return self._server

    def _set_offline(self, offline: bool) -> None:
        if offline == self._offline:
            if offline:
                self.notice.emit(self._offline_notice())
            return
        self._offline = offline
        self.offline_changed.emit(offline)
        self.connection_changed.emit()
        if offline:
            self.notice.emit(self._offline_notice())
        else:
            self.notice_cleared.emit("offline")

    def _offline_notice(self) -> Notice:
        if self._settings.connection.provider == "offline" or self._force_offline:
            text = "Offline echo test: the assistant plays back what you say."
        else:
            text = OFFLINE_NOTICE
        return Notice(NoticeLevel.INFO, text, NoticeAction.OPEN_SETTINGS, key="offline")

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.connection_changed.emit()


class _ControllerEvents(ControllerListener):
    """Forwards the controller's callbacks to the view model's signals (same thread)."""

    def __init__(self, vm: ConversationViewModel) -> None:
        self._vm = vm

    def phase_changed(self, phase: Phase) -> None:
        self._vm.phase_changed.emit(phase.value)
        self._vm.connection_changed.emit()

    def notice(self, notice: Notice) -> None:
        self._vm.notice.emit(notice)

    def session_changed(self, change: StateChange) -> None:
        self._vm.connection_changed.emit()

    def tool_changed(self, run: ToolRun) -> None:
        self._vm.tool_changed.emit(run)

    def stats_changed(self) -> None:
        self._vm.stats_changed.emit()

    def settings_changed(self) -> None:
        self._vm.settings_changed.emit()
