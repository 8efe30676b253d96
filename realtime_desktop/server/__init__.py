"""The embedded offline Realtime server: an "echo test call" that behaves like the real service.

With no API key and no network the app talks to this server, which speaks the Realtime protocol
(GA, and the retired beta shape for clients that ask for it) event for event and answers by
playing back what the user said. Every integration test, the app's self-test and the benchmarks
run against it.

What it answers (:mod:`.assistant`):

* a spoken turn: the user's own committed audio, in the session's output format, with the
  transcript "Echo of 2.4 s of your audio";
* typed text: read back as text, or spoken with espeak-ng in audio mode (without espeak-ng a
  chime plays and the transcript says so, :mod:`.speech`);
* ``/history``: a summary of the conversation the server holds;
* ``/call NAME {"json": "args"}``, or a configured tool's name written as a word: a real
  ``function_call`` with streamed arguments; the follow-up response reads the tool's output back;
* input transcription switched on: transcription events saying that no recognizer runs offline.

Embedding (:mod:`.server`)::

    server = await OfflineServer(ServerConfig(token="t")).start()   # on a running loop
    running = start_in_thread(token="t")                              # its own thread + loop
    session = server.session_by_id("sess_…")    # or server.sessions: open sessions
    session.conversation.items                  # what the server holds, in order
    session.config                              # the effective session configuration

Faults for testing clients: :class:`Faults` (in :class:`ServerConfig`, or ``server.faults``
for new connections), plus ``session.drop()`` and ``await session.expire()`` on a live session.
"""

from realtime_desktop.server.assistant import CALL_COMMAND, HISTORY_COMMAND
from realtime_desktop.server.config import DeltaPacing, Faults, ServerConfig
from realtime_desktop.server.conversation import AudioClip, Conversation
from realtime_desktop.server.server import (
    REALTIME_PATH,
    OfflineServer,
    OfflineServerThread,
    start_in_thread,
)
from realtime_desktop.server.session import RealtimeSession

__all__ = [
    "CALL_COMMAND",
    "HISTORY_COMMAND",
    "REALTIME_PATH",
    "AudioClip",
    "Conversation",
    "DeltaPacing",
    "Faults",
    "OfflineServer",
    "OfflineServerThread",
    "RealtimeSession",
    "ServerConfig",
    "start_in_thread",
]
