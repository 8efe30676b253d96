"""The history window: the table model under qtmodeltester, search (titles at once, full text
after a pause), the read-only view, open, rename, delete with undo and restore from the trash,
export, continue, and the store's notices.

The window does its file work as asyncio tasks, so each test runs as a coroutine on the Qt
loop (``run_async``) and waits for the window's signals — never for time to pass.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from realtime_desktop.storage.autosave import Autosaver
from realtime_desktop.storage.conversation import ConversationDocument
from realtime_desktop.storage.conversation_store import ConversationStore, ConversationSummary
from realtime_desktop.ui.history_window import (
    ITEMS_PER_PIECE,
    ConversationWindow,
    HistoryWindow,
    TranscriptColors,
    export_file_name,
    transcript_html,
)
from realtime_desktop.ui.models.history_model import (
    COLUMN_COST,
    COLUMN_DATE,
    COLUMN_DURATION,
    COLUMN_TITLE,
    COLUMN_TURNS,
    SORT_ROLE,
    SUMMARY_ROLE,
    HistoryFilterProxy,
    HistoryModel,
    format_cost,
    format_duration,
)
from tests.storage.conftest import T0, make_document
from tests.ui.signals import Emitted, RunAsync


@pytest.fixture(autouse=True)
def windows_do_not_quit_the_app(qapp: QApplication) -> Iterator[None]:
    """Closing the only window must not end the event loop the test runs on."""
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(True)


def document(title: str, *, days_ago: int, seed: int, items: int = 6) -> ConversationDocument:
    made = make_document(items, title=title, seed=seed)
    moment = T0 - datetime.timedelta(days=days_ago)
    made.created_at = made.updated_at = moment
    made.id = f"{moment:%Y%m%dT%H%M%SZ}-{seed:08x}"
    made.duration_ms = 60_000 * (seed + 1)
    return made


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    store = ConversationStore(tmp_path / "conversations")
    # make_document's user turns ask about "the weather"; only the second one's tool call
    # and answers differ by title, so a full-text search can find what titles do not say.
    store.save(document("Trip planning", days_ago=1, seed=1))
    store.save(document("Spanish lesson", days_ago=3, seed=2))
    store.save(document("", days_ago=2, seed=3, items=1))
    return store


@pytest.fixture
def make_window(
    qtbot: QtBot, store: ConversationStore
) -> Callable[[], Coroutine[Any, Any, HistoryWindow]]:
    async def make() -> HistoryWindow:
        window = HistoryWindow(store)
        qtbot.addWidget(window)
        listed = Emitted(window.listed)
        window.show()
        await listed.wait()
        return window

    return make


MakeWindow = Callable[[], Coroutine[Any, Any, HistoryWindow]]


def titles(window: HistoryWindow) -> list[str]:
    """The display titles of the rows on show, in the table's order."""
    shown = (window.model.summary(conversation_id) for conversation_id in window.visible_ids())
    return [row.display_title for row in shown if row is not None]


def summary(title: str, *, seed: int, days_ago: int = 0, cost: float | None = 0.01) -> Any:
    made = document(title, days_ago=days_ago, seed=seed)
    return ConversationSummary.of(made).model_copy(update={"cost_usd": cost})


def test_model_passes_the_model_tester_through_syncs(qtmodeltester: ModelTester) -> None:
    model = HistoryModel()
    qtmodeltester.check(model)
    first, second, third = (summary(f"talk {n}", seed=n) for n in range(3))
    model.sync([first, second])
    model.sync([second, third])  # one removed, one added
    model.upsert(third.model_copy(update={"display_title": "renamed", "title": "renamed"}))
    model.set_snippets({third.id: "…it will rain…"})
    model.remove(second.id)
    model.sync([])
    model.sync([first, second, third])
    qtmodeltester.check(model)
    proxy = HistoryFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.set_query("talk 1")
    proxy.set_full_text_matches([third.id])
    qtmodeltester.check(proxy)


def test_a_rename_repaints_only_the_title(qtbot: QtBot) -> None:
    model = HistoryModel()
    talk = summary("before", seed=1)
    model.sync([talk])
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.upsert(talk.model_copy(update={"title": "after", "display_title": "after"}))
    top, bottom = changed.args[0], changed.args[1]
    assert (top.column(), bottom.column()) == (COLUMN_TITLE, COLUMN_TITLE)
    with qtbot.assertNotEmitted(model.modelReset), qtbot.assertNotEmitted(model.rowsRemoved):
        model.sync([talk.model_copy(update={"title": "after", "display_title": "after"})])


def test_columns_show_and_sort_by_their_values() -> None:
    model = HistoryModel()
    cheap = summary("b cheap", seed=1, days_ago=2, cost=0.0042)
    unknown = summary("a unknown", seed=2, days_ago=1, cost=None)
    model.sync([cheap, unknown])
    row = model.row_of(cheap.id)
    assert row is not None
    index = model.index(row, COLUMN_COST)
    assert index.data() == "$0.0042"
    assert model.index(model.row_of(unknown.id) or 0, COLUMN_COST).data() == "—"
    assert model.index(row, COLUMN_DURATION).data() == "2:00"
    assert model.index(row, COLUMN_TURNS).data() == "2"
    assert model.index(row, COLUMN_DATE).data(SORT_ROLE) == cheap.created_at.timestamp()
    assert model.index(row, COLUMN_TITLE).data(SUMMARY_ROLE) == cheap
    proxy = HistoryFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(COLUMN_COST, Qt.SortOrder.AscendingOrder)
    assert proxy.index(0, COLUMN_TITLE).data() == "a unknown"  # unknown cost sorts first
    proxy.sort(COLUMN_TITLE, Qt.SortOrder.AscendingOrder)
    assert proxy.index(0, COLUMN_TITLE).data() == "a unknown"
    assert format_duration(3_725_000) == "1:02:05"
    assert format_cost(12.5) == "$12.50"


def test_the_list_is_newest_first_with_each_column(
    run_async: RunAsync, make_window: MakeWindow
) -> None:
    async def scenario() -> None:
        window = await make_window()
        assert titles(window) == [
            "Trip planning",
            "question number 0 about the weather",
            "Spanish lesson",
        ]
        assert window.status_label.text() == "3 conversations saved"
        assert not window.notice_bar.isVisible()

    run_async(scenario())


def test_search_filters_titles_at_once_and_finds_what_was_said(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore, qtbot: QtBot
) -> None:
    # Words only the transcript of one conversation contains.
    special = document("Untitled chat", days_ago=5, seed=9)
    special.items[4].transcript = "The lighthouse keeper waved at the ferry."
    store.save(special)

    async def scenario() -> None:
        window = await make_window()
        searched = Emitted(window.searched)
        qtbot.keyClicks(window.search_edit, "spanish")
        # The title filter applies at once, before the full-text search.
        assert titles(window) == ["Spanish lesson"]
        await searched.wait()

        searched = Emitted(window.searched)
        window.search_edit.setText("lighthouse ferry")
        assert window.visible_ids() == []  # no title says it...
        (count,) = await searched.wait()
        assert count == 1
        assert window.visible_ids() == [special.id]  # ...but it was said
        assert "lighthouse keeper" in (window.model.snippet(special.id) or "")
        tooltip = window.proxy.index(0, COLUMN_TITLE).data(Qt.ItemDataRole.ToolTipRole)
        assert "Found: The lighthouse keeper" in tooltip
        assert "1 by what was said" in window.status_label.text()

        window.search_edit.clear()
        assert len(window.visible_ids()) == 4

    run_async(scenario())


def test_selecting_shows_the_transcript_read_only(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore
) -> None:
    async def scenario() -> None:
        window = await make_window()
        trip = next(s for s in store.list_conversations() if s.title == "Trip planning")
        previewed = Emitted(window.previewed)
        assert window.select(trip.id)
        (shown,) = await previewed.wait()
        assert shown == trip.id
        text = window.preview.toPlainText()
        assert window.preview.isReadOnly()
        assert text.startswith("Trip planning")
        assert "You · " in text
        assert "question number 0 about the weather" in text
        assert "Assistant · " in text
        assert "Tool get_weather · completed" in text
        assert '{"city": "Paris"}' in text
        assert '→ {"forecast": "rain"}' in text
        assert "Interrupted after 3.2 s; the rest was not heard." in text
        assert "answer 1: it will" in text  # what was heard of the interrupted answer
        assert "$0.0200" in text  # the total cost of the two answers
        assert "120 in / 50 out tokens" in text
        assert window.open_action.isEnabled()
        assert window.export_button.isEnabled()

    run_async(scenario())


def test_a_long_conversation_is_shown_whole(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore
) -> None:
    """It is laid out a piece at a time (ITEMS_PER_PIECE); every piece must arrive, in order."""
    long_talk = document("Long talk", days_ago=0, seed=7, items=3 * ITEMS_PER_PIECE + 7)
    store.save(long_talk)

    async def scenario() -> str:
        window = await make_window()
        previewed = Emitted(window.previewed)
        window.select(long_talk.id)
        await previewed.wait()
        return window.preview.toPlainText()

    text = run_async(scenario())
    numbers = [int(n) for n in re.findall(r"question number (\d+) about", text)]
    assert numbers == list(range(0, 3 * ITEMS_PER_PIECE + 7, 3))
    assert text.count("Tool get_weather") == (3 * ITEMS_PER_PIECE + 7) // 3


def test_the_transcript_escapes_what_people_said() -> None:
    made = make_document(1)
    made.items[0].transcript = "<b>not bold</b> & <script>"
    colors = TranscriptColors(text="#000000", muted="#666666", you="#0000ff", box="#eeeeee")
    rich = transcript_html(made, colors)
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;script&gt;" in rich
    assert "<script>" not in rich


def test_open_shows_the_conversation_in_its_own_window(
    run_async: RunAsync, make_window: MakeWindow, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        window = await make_window()
        first = window.visible_ids()[0]
        window.select(first)
        window.activateWindow()
        window.table.setFocus()
        qtbot.keyClick(window.table, Qt.Key.Key_Return)
        await window.idle()
        opened = [w for w in QApplication.topLevelWidgets() if isinstance(w, ConversationWindow)]
        assert len(opened) == 1
        assert window.open_action.toolTip() == "Open the conversation in its own window (Enter)"
        assert opened[0].windowTitle() == "Trip planning — Conversation"
        assert "Tool get_weather" in opened[0].view.toPlainText()
        opened[0].close()

    run_async(scenario())


def test_rename_writes_through_the_store_and_updates_the_row(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore
) -> None:
    async def scenario() -> None:
        window = await make_window()
        conversation_id = window.visible_ids()[2]  # "Spanish lesson"
        window.select(conversation_id)
        index = window.proxy.index(2, COLUMN_TITLE)
        assert index.data(Qt.ItemDataRole.EditRole) == "Spanish lesson"
        renamed = Emitted(window.renamed)
        # What the title cell's editor does when the user presses Enter.
        assert window.proxy.setData(index, "  Spanish   with Ana ") is False
        await renamed.wait()
        assert store.summary(conversation_id).title == "Spanish with Ana"
        assert store.open(conversation_id).title == "Spanish with Ana"
        assert titles(window)[2] == "Spanish with Ana"
        assert window.rename_action.shortcut() == QKeySequence("F2")

    run_async(scenario())


def test_delete_moves_to_the_trash_and_undo_brings_it_back(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore
) -> None:
    async def scenario() -> None:
        window = await make_window()
        victim = window.visible_ids()[0]
        window.select(victim)
        deleted = Emitted(window.deleted)
        window.delete_action.trigger()
        await deleted.wait()
        assert victim not in window.visible_ids()
        assert (store.trash_folder / f"{victim}.json").exists()
        assert not store.document_path(victim).exists()
        assert "to the trash" in window.status_label.text()
        assert window.undo_button.isVisible()

        restored = Emitted(window.restored)
        window.undo_button.click()
        await restored.wait()
        assert victim in window.visible_ids()
        assert window.selected_id() == victim
        assert store.document_path(victim).exists()
        assert not window.undo_button.isVisible()

    run_async(scenario())


def test_the_trash_lists_restores_and_empties(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore
) -> None:
    async def scenario() -> None:
        window = await make_window()
        first, second = window.visible_ids()[:2]
        for victim in (first, second):
            window.select(victim)
            deleted = Emitted(window.deleted)
            window.delete_selected()
            await deleted.wait()

        listed = Emitted(window.listed)
        window.view_choice.setCurrentText("Trash")
        (count,) = await listed.wait()
        assert count == 2
        assert window.in_trash_view()
        assert window.restore_action.isVisible()
        assert not window.delete_action.isEnabled()
        window.select(first)
        assert window.restore_action.isEnabled()
        assert not window.continue_action.isEnabled()  # read it back first
        restored = Emitted(window.restored)
        window.restore_action.trigger()
        await restored.wait()
        assert window.visible_ids() == [second]

        window.empty_trash()
        await window.idle()
        assert window.visible_ids() == []
        assert store.deleted() == []

        listed = Emitted(window.listed)
        window.view_choice.setCurrentText("Saved conversations")
        await listed.wait()
        assert first in window.visible_ids()
        assert second not in window.visible_ids()

    run_async(scenario())


@pytest.mark.parametrize("export_format", ["markdown", "text", "json"])
def test_export_writes_each_format(
    run_async: RunAsync, make_window: MakeWindow, tmp_path: Path, export_format: Any
) -> None:
    async def scenario() -> None:
        window = await make_window()
        conversation_id = window.visible_ids()[0]
        summary_ = window.model.summary(conversation_id)
        assert summary_ is not None
        destination = tmp_path / "out" / export_file_name(summary_, export_format)
        destination.parent.mkdir()
        exported = Emitted(window.exported)
        window.export(conversation_id, export_format, destination)
        (written,) = await exported.wait()
        assert written == str(destination)
        content = destination.read_text()
        if export_format == "markdown":
            assert destination.name == "Trip planning.md"
            assert content.startswith("# Trip planning")
        elif export_format == "text":
            assert content.startswith("Trip planning\n=============")
        else:
            assert json.loads(content)["id"] == conversation_id

    run_async(scenario())


def test_a_failed_export_is_reported(
    run_async: RunAsync, make_window: MakeWindow, tmp_path: Path
) -> None:
    async def scenario() -> None:
        window = await make_window()
        failed = Emitted(window.failed)
        blocker = tmp_path / "a-file"
        blocker.write_text("in the way")
        window.export(window.visible_ids()[0], "text", blocker / "inside.txt")
        (message,) = await failed.wait()
        assert message.startswith("Could not export the conversation")
        assert message in window.status_label.text()

    run_async(scenario())


def test_continue_asks_for_a_new_session_with_the_conversation(
    run_async: RunAsync, make_window: MakeWindow, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        window = await make_window()
        assert not window.continue_action.isEnabled()  # nothing selected
        chosen = window.visible_ids()[1]
        window.select(chosen)
        with qtbot.waitSignal(window.continue_requested) as requested:
            window.continue_action.trigger()
        assert requested.args == [chosen]

    run_async(scenario())


def test_a_corrupt_conversation_is_set_aside_with_a_notice(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore
) -> None:
    broken = store.folder / "20261101T000000Z-0badf00d.json"
    broken.write_text('{"schema_version": 1, "id": "20261101T000000Z-0badf00d", "items": [')

    async def scenario() -> None:
        window = await make_window()
        assert window.notice_bar.isVisible()
        assert "20261101T000000Z-0badf00d.json cannot be opened" in window.notice_label.text()
        assert len(window.visible_ids()) == 3
        assert not broken.exists()
        assert list(store.set_aside_folder.iterdir())
        window.notice_dismiss.click()
        assert not window.notice_bar.isVisible()

    run_async(scenario())


def test_a_conversation_that_breaks_after_listing_is_explained_when_opened(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore
) -> None:
    async def scenario() -> None:
        window = await make_window()
        victim = window.visible_ids()[0]
        store.document_path(victim).write_text("not json")  # damaged on disk meanwhile
        shown = Emitted(window.notices_shown)
        window.select(victim)
        (notices,) = await shown.wait()
        assert "cannot be opened" in notices[0].message
        assert victim not in window.visible_ids()

    run_async(scenario())


def test_a_conversation_still_going_on_is_not_deleted(
    run_async: RunAsync, make_window: MakeWindow, store: ConversationStore
) -> None:
    async def scenario() -> None:
        window = await make_window()
        live_id = window.visible_ids()[0]
        autosaver = Autosaver(store, store.open(live_id))  # the main window's live session
        try:
            window.select(live_id)
            failed = Emitted(window.failed)
            window.delete_selected()
            (message,) = await failed.wait()
            assert "still going on" in message
            assert live_id in window.visible_ids()
            assert store.document_path(live_id).exists()
        finally:
            await autosaver.close()

    run_async(scenario())


def test_export_asks_where_with_a_file_dialog(
    run_async: RunAsync, make_window: MakeWindow, tmp_path: Path
) -> None:
    async def scenario() -> str:
        window = await make_window()
        window.select(window.visible_ids()[0])
        window.export_actions["markdown"].trigger()
        [chooser] = window.findChildren(QFileDialog)
        assert chooser.isVisible()
        assert chooser.isModal()  # open(), not exec(): modal, yet the loop keeps running
        assert chooser.selectedFiles()[0].endswith("Trip planning.md")
        exported = Emitted(window.exported)
        chooser.selectFile(str(tmp_path / "trip.md"))
        chooser.accept()
        (written,) = await exported.wait()
        return str(written)

    assert Path(run_async(scenario())).read_text().startswith("# Trip planning")


def test_actions_have_keys(run_async: RunAsync, make_window: MakeWindow) -> None:
    async def scenario() -> None:
        window = await make_window()
        assert window.delete_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Delete)
        assert window.find_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Find)
        window.activateWindow()
        window.find_action.trigger()
        assert window.search_edit.hasFocus()
        assert window.table.accessibleName() == "Conversations"
        assert window.search_edit.accessibleName() == "Search conversations"

    run_async(scenario())
