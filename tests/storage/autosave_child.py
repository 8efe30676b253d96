"""The processes test_crash_safety kills: each autosaves a growing conversation until SIGKILL.

Starting a Python process and importing pydantic costs about a quarter of a second here, and the
test kills two hundred of them, so this script is a fork server: it imports the storage modules
once (``python autosave_child.py FOLDER``) and then forks one autosaving child per command read
from stdin. Forking is safe because the server itself never starts a thread or an event loop.

Commands (one per line) and answers (on stdout, shared with the children):

* ``spawn CONVERSATION_ID [naive]`` — forks a child; its first line is ``pid N``, then one line
  ``ITEMS SAVES`` per loop turn until it is killed (a line ``error …`` if it fails instead);
* ``reap N`` — waits for child N to end; answers ``reaped N SIGNAL`` (the signal that ended it);
* end of input — the server exits.

A child continues the conversation where the last (killed) one left it, adds an item after every
completed save, lets the autosaver save as often as it can (no debounce, so a write is almost
always in flight) and prints a line on every loop turn, so the parent's choice of line is a
choice of any moment of the save cycle. ``naive`` swaps the atomic writer for a plain
``write_bytes``, to show that the parent's checks catch a writer that is not crash-safe.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from pathlib import Path

from realtime_desktop.storage import conversation_store
from realtime_desktop.storage.autosave import Autosaver
from realtime_desktop.storage.conversation import ConversationDocument, ConversationItem, utc_now
from realtime_desktop.storage.conversation_store import ConversationNotFoundError, ConversationStore

# Long enough that a save of a grown conversation takes a while to write.
FILLER = "the quick brown fox jumps over the lazy dog " * 3


def _naive_write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


async def grow(folder: Path, conversation_id: str) -> None:
    store = ConversationStore(folder)
    try:
        document = store.open(conversation_id)
    except ConversationNotFoundError:
        document = ConversationDocument(id=conversation_id, provider="offline", model="echo")
    autosaver = Autosaver(store, document, quiet_s=0.0, max_delay_s=0.0)
    out = sys.stdout
    saves_seen = -1
    while True:
        if autosaver.saves != saves_seen:
            # One new item per completed save: the file grows steadily, not by thousands.
            saves_seen = autosaver.saves
            number = len(document.items)
            document.items.append(
                ConversationItem(
                    id=f"item_{number}",
                    role="user" if number % 2 == 0 else "assistant",
                    created_at=utc_now(),
                    text=f"{number} {FILLER}",
                )
            )
            document.duration_ms = number * 1000
            autosaver.mark_changed()
        out.write(f"{len(document.items)} {autosaver.saves}\n")
        out.flush()
        await asyncio.sleep(0)


def _child(folder: Path, conversation_id: str, naive: bool) -> None:
    try:
        if naive:
            conversation_store.atomic_write_bytes = _naive_write  # type: ignore[assignment]
        print(f"pid {os.getpid()}", flush=True)
        asyncio.run(grow(folder, conversation_id))
    except BaseException:
        print("error " + traceback.format_exc().replace("\n", " | "), flush=True)
    finally:
        os._exit(1)  # never return into the server's loop


def serve(folder: Path) -> None:
    while command := sys.stdin.readline():
        words = command.split()
        if words[0] == "spawn":
            sys.stdout.flush()  # a forked child must not inherit unwritten output
            if os.fork() == 0:
                _child(folder, words[1], naive="naive" in words[2:])
        elif words[0] == "reap":
            pid = int(words[1])
            _, status = os.waitpid(pid, 0)
            print(
                f"reaped {pid} {os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0}", flush=True
            )


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
