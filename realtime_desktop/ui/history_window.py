"""The history window (issue 7): saved conversations — find, read, continue, rename, delete,
export.

A table of conversations (title, date, duration, turns, cost; sortable) with a search box: the
title filter applies at every keystroke, and once typing pauses the store's full-text search
adds conversations where the words were *said*. The selected conversation is shown read-only
beside the table — who said what, tool calls, interruptions, usage and cost — rendered from
as rich text built off the GUI thread. Open shows it in a window of its own; Continue in new session
asks the main window to replay it (:attr:`HistoryWindow.continue_requested`).

Every file operation runs off the GUI thread through the store's ``*_async`` methods, started
as asyncio tasks on the app's qasync loop; the window reacts to what they report. What the
store had to do on its own (a corrupt document set aside, the index rebuilt) is shown in a
banner at the top.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import (
    QItemSelection,
    QSize,
    QStandardPaths,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QKeySequence,
    QPalette,
    QShortcut,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from realtime_desktop.storage.conversation import ConversationDocument
from realtime_desktop.storage.conversation_store import (
    ConversationInUseError,
    ConversationNotFoundError,
    ConversationStore,
    ConversationSummary,
    ConversationUnavailableError,
)
from realtime_desktop.storage.export import FILE_SUFFIXES, ExportFormat
from realtime_desktop.storage.files import StorageError
from realtime_desktop.storage.notices import Severity, StorageNotice
from realtime_desktop.ui.models.history_model import (
    COLUMN_COST,
    COLUMN_DATE,
    COLUMN_DURATION,
    COLUMN_TITLE,
    COLUMN_TURNS,
    ID_ROLE,
    HistoryFilterProxy,
    HistoryModel,
    format_cost,
    format_duration,
)
from realtime_desktop.ui.settings.background import BackgroundTasks
from realtime_desktop.ui.settings.labels import StatusLabel, Tone
from realtime_desktop.ui.timing import PREVIEW_DEBOUNCE_MS, SEARCH_DEBOUNCE_MS

log = logging.getLogger(__name__)

EXPORT_FORMATS: dict[ExportFormat, str] = {
    "markdown": "Markdown",
    "text": "Plain text",
    "json": "JSON",
}

# How many items of a conversation are laid out between two turns of the event loop: about
# 30 ms of work each on the development machine, so the window stays responsive while a long
# conversation fills in.
ITEMS_PER_PIECE = 100

_VIEW_SAVED = "Saved conversations"
_VIEW_TRASH = "Trash"
_UNSAFE_FILE_CHARACTERS = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def export_file_name(summary: ConversationSummary, export_format: ExportFormat) -> str:
    """A file name from the title: ``Weather in Paris.md`` (characters no file system likes
    are replaced; long titles shortened)."""
    stem = _UNSAFE_FILE_CHARACTERS.sub("-", summary.display_title).strip(" .-")[:80]
    return f"{stem or summary.id}{FILE_SUFFIXES[export_format]}"


@dataclasses.dataclass(frozen=True)
class TranscriptColors:
    """Colours of a rendered transcript, taken from the view's palette on the GUI thread so
    the HTML can be built in a worker thread (and follows light or dark mode)."""

    text: str
    muted: str
    you: str
    box: str

    @classmethod
    def of(cls, palette: QPalette) -> TranscriptColors:
        text = palette.color(QPalette.ColorRole.Text)
        base = palette.color(QPalette.ColorRole.Base)
        muted = QColor(
            (text.red() * 3 + base.red() * 2) // 5,
            (text.green() * 3 + base.green() * 2) // 5,
            (text.blue() * 3 + base.blue() * 2) // 5,
        )
        return cls(
            text=text.name(),
            muted=muted.name(),
            you=palette.color(QPalette.ColorRole.Link).name(),
            box=palette.color(QPalette.ColorRole.AlternateBase).name(),
        )


def _escaped(text: str) -> str:
    return html.escape(text).replace("\n", "<br/>")


def transcript_html(document: ConversationDocument, colors: TranscriptColors) -> str:
    """The conversation as one piece of rich text (see :func:`transcript_parts`)."""
    return "\n".join(transcript_parts(document, colors))


def transcript_parts(document: ConversationDocument, colors: TranscriptColors) -> list[str]:
    """The conversation as rich text for the read-only view: the header (facts, usage and
    cost), then one piece per item — who, when, what was said — with tool calls in boxes and
    interruptions marked. Pure, so it runs in a worker thread; in pieces, so a long
    conversation can be shown a part at a time."""
    muted = f'style="color:{colors.muted}"'
    totals = document.totals
    cost = "cost unknown" if totals.cost_usd is None else f"{format_cost(totals.cost_usd)}"
    created = document.created_at.astimezone()
    facts = " · ".join(
        part
        for part in (
            created.strftime("%A %d %B %Y, %H:%M"),
            document.provider or "",
            document.model or "",
            f"voice {document.voice}" if document.voice else "",
        )
        if part
    )
    usage = (
        f"{format_duration(document.duration_ms)} · {document.turn_count} turn"
        f"{'s' if document.turn_count != 1 else ''} · {totals.usage.input_tokens:,} tokens in, "
        f"{totals.usage.output_tokens:,} out · {cost}"
    )
    parts = [
        f'<h2 style="margin-bottom:2px">{_escaped(document.display_title)}</h2>',
        f'<p style="margin-top:0; color:{colors.muted}">{_escaped(facts)}<br/>'
        f"{_escaped(usage)}</p>",
    ]
    if document.instructions:
        parts.append(
            f'<p style="color:{colors.muted}"><i>Instructions:</i> '
            f"{_escaped(document.instructions)}</p>"
        )
    parts = ["".join(parts) + "<hr/>"]  # the header is one piece
    responses = {record.response_id: record for record in document.responses}
    for item in document.items:
        stamp = item.created_at.astimezone().strftime("%H:%M:%S")
        if item.tool_call is not None:
            call = item.tool_call
            outcome = call.result if call.result is not None else (call.error or "")
            lines = [
                f"<b>Tool</b> <code>{_escaped(call.name)}</code> <span {muted}>· "
                f"{_escaped(call.status)} · {stamp}</span>",
                f'<span style="font-family:monospace">{_escaped(call.arguments or "{}")}</span>',
            ]
            if outcome:
                lines.append(f'→ <span style="font-family:monospace">{_escaped(outcome)}</span>')
            parts.append(
                f'<table width="100%" cellpadding="6" style="background-color:{colors.box}; '
                f'margin-top:6px; margin-bottom:6px"><tr><td>{"<br/>".join(lines)}</td></tr>'
                "</table>"
            )
            continue
        who = {"user": "You", "assistant": "Assistant", "system": "System"}[item.role]
        color = colors.you if item.role == "user" else colors.text
        details = [stamp, "spoken" if item.has_audio else "typed" if item.role == "user" else ""]
        record = responses.get(item.response_id or "")
        if record is not None:
            details.append(
                f"{record.usage.input_tokens:,} in / {record.usage.output_tokens:,} out tokens"
            )
            if record.cost_usd is not None:
                details.append(format_cost(record.cost_usd))
        meta = " · ".join(detail for detail in details if detail)
        body = _escaped(item.content) or f"<i {muted}>(nothing was said)</i>"
        if item.interruption is not None:
            heard = item.interruption.audio_end_ms / 1000
            body += (
                f'<br/><i style="color:{colors.muted}">Interrupted after {heard:.1f} s; the '
                "rest was not heard.</i>"
            )
        block = (
            f'<p style="margin-top:10px; margin-bottom:0"><b style="color:{color}">{who}</b> '
            f'<span {muted}>· {meta}</span></p><p style="margin-top:2px">{body}</p>'
        )
        parts.append(block)
    return parts


class TranscriptView(QTextBrowser):
    """A conversation, read-only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(False)
        self.setOpenLinks(False)
        self.setAccessibleName("Conversation")
        self.document().setDocumentMargin(14)

    def colors(self) -> TranscriptColors:
        return TranscriptColors.of(self.palette())

    async def show_parts(self, parts: Sequence[str], highlight: Sequence[str] = ()) -> None:
        """Shows the header and the first items at once, then appends the rest a piece at a
        time, letting the event loop run in between: laying out thousands of items in one go
        would freeze the window for a second (measured: 0.5 s for 5 000 items)."""
        self.setHtml("\n".join(parts[:ITEMS_PER_PIECE]))
        for start in range(ITEMS_PER_PIECE, len(parts), ITEMS_PER_PIECE):
            await asyncio.sleep(0)
            end = QTextCursor(self.document())
            end.movePosition(QTextCursor.MoveOperation.End)
            end.insertHtml("\n".join(parts[start : start + ITEMS_PER_PIECE]))
        self.moveCursor(QTextCursor.MoveOperation.Start)
        for word in highlight:
            # Scroll to (and select) the first place a searched word appears.
            if self.find(word):
                break

    def show_message(self, text: str) -> None:
        self.setPlainText(text)


class ConversationWindow(QMainWindow):
    """One saved conversation in a window of its own (Open), so several can be read side by
    side."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(f"{title} — Conversation")
        self.view = TranscriptView()
        self.setCentralWidget(self.view)
        self.resize(720, 760)


class HistoryWindow(QMainWindow):
    """The saved conversations of ``store``.

    Construct it while the app's asyncio loop runs (it starts listing at once).

    Signals:
        continue_requested(str): the user wants to continue this conversation (its id) in a
            new session; the main window replays it.
        listed(int): a listing finished (how many conversations).
        searched(int): a full-text search finished (how many conversations it found).
        previewed(str): a conversation is shown beside the table (its id).
        renamed(str), deleted(str), restored(str): the store did it (the id).
        exported(str): a conversation was written to this file.
        failed(str): an operation failed; the message is shown in the status bar.
        notices_shown(list): the store's notices now in the banner.
    """

    continue_requested = Signal(str)
    listed = Signal(int)
    searched = Signal(int)
    previewed = Signal(str)
    renamed = Signal(str)
    deleted = Signal(str)
    restored = Signal(str)
    exported = Signal(str)
    failed = Signal(str)
    notices_shown = Signal(list)

    def __init__(self, store: ConversationStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Conversation history")
        self.store = store
        self._tasks = BackgroundTasks()
        self._preview_task: asyncio.Task[None] | None = None
        self._search_task: asyncio.Task[None] | None = None
        self._previewed_id: str | None = None
        self._last_deleted: ConversationSummary | None = None
        self._windows: list[ConversationWindow] = []
        self._notices: list[StorageNotice] = []

        self.model = HistoryModel(self)
        self.proxy = HistoryFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.model.rename_requested.connect(self.rename)

        self._build_actions()
        self._build_layout()

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._start_full_text_search)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._preview_timer.timeout.connect(self._start_preview)

        self._update_actions()
        self.resize(self.sizeHint())
        self.refresh()

    # Building -------------------------------------------------------------------------------

    def _action(
        self,
        text: str,
        slot: object,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open", self.open_selected, "Ctrl+O")
        self.open_action.setToolTip("Open the conversation in its own window (Enter)")
        self.continue_action = self._action(
            "&Continue in new session", self.continue_selected, "Ctrl+Return"
        )
        self.continue_action.setToolTip(
            "Start a new session that picks up where this conversation ended"
        )
        self.rename_action = self._action("&Rename", self.rename_selected, "F2")
        self.delete_action = self._action(
            "&Delete", self.delete_selected, QKeySequence.StandardKey.Delete
        )
        self.delete_action.setToolTip("Move to the trash (Delete); Undo brings it back")
        self.export_actions: dict[ExportFormat, QAction] = {}
        for export_format, label in EXPORT_FORMATS.items():
            action = QAction(f"{label}…", self)
            action.triggered.connect(
                lambda _checked=False, f=export_format: self.choose_export_file(f)
            )
            self.export_actions[export_format] = action
        self.restore_action = self._action("Re&store", self.restore_selected)
        self.restore_action.setToolTip("Move the conversation back from the trash")
        self.empty_trash_action = self._action("&Empty trash…", self.confirm_empty_trash)
        self.refresh_action = self._action(
            "Re&load", self.refresh, QKeySequence.StandardKey.Refresh
        )
        self.find_action = self._action("&Find", self._focus_search, QKeySequence.StandardKey.Find)

    def _build_layout(self) -> None:
        toolbar = QToolBar("History actions")
        toolbar.setObjectName("history-actions")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.continue_action)
        toolbar.addSeparator()
        toolbar.addAction(self.rename_action)
        toolbar.addAction(self.delete_action)
        self.export_button = QToolButton()
        self.export_button.setText("E&xport")
        self.export_button.setAccessibleName("Export the conversation")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        for action in self.export_actions.values():
            self.export_button.addAction(action)
        toolbar.addWidget(self.export_button)
        toolbar.addSeparator()
        toolbar.addAction(self.restore_action)
        toolbar.addAction(self.empty_trash_action)
        self.addToolBar(toolbar)

        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search titles and what was said")
        self.search_edit.setAccessibleName("Search conversations")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._query_changed)
        search_label = QLabel("Searc&h")
        search_label.setBuddy(self.search_edit)
        self.view_choice = QComboBox()
        self.view_choice.addItems([_VIEW_SAVED, _VIEW_TRASH])
        self.view_choice.setAccessibleName("Show")
        self.view_choice.currentIndexChanged.connect(self._view_changed)
        view_label = QLabel("Sho&w")
        view_label.setBuddy(self.view_choice)
        top = QHBoxLayout()
        top.addWidget(search_label)
        top.addWidget(self.search_edit, 1)
        top.addSpacing(12)
        top.addWidget(view_label)
        top.addWidget(self.view_choice)

        self.notice_label = StatusLabel("", Tone.ERROR)
        self.notice_label.setObjectName("history-notices")
        self.notice_label.setAccessibleName("Storage notices")
        self.notice_dismiss = QPushButton("Dismiss")
        self.notice_dismiss.setAccessibleName("Dismiss the notices")
        self.notice_dismiss.clicked.connect(self._dismiss_notices)
        self.notice_bar = QWidget()
        notice_row = QHBoxLayout(self.notice_bar)
        notice_row.setContentsMargins(0, 0, 0, 0)
        notice_row.addWidget(self.notice_label, 1)
        notice_row.addWidget(self.notice_dismiss, 0, Qt.AlignmentFlag.AlignTop)
        self.notice_bar.setVisible(False)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Conversations")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMN_DATE, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setTabKeyNavigation(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COLUMN_TITLE, QHeaderView.ResizeMode.Stretch)
        for column, sample in (
            (COLUMN_DATE, "2026-11-21 10:15"),
            (COLUMN_DURATION, "00:00:00"),
            (COLUMN_TURNS, "Turns"),
            (COLUMN_COST, "$0.0000"),
        ):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(column, self.fontMetrics().horizontalAdvance(sample) + 24)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        # Enter opens; not QAbstractItemView.activated, which some desktops (single-click
        # activation) emit on every click and would open a window per selection.
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            opener = QShortcut(QKeySequence(key), self.table)
            opener.setContext(Qt.ShortcutContext.WidgetShortcut)
            opener.activated.connect(self.open_selected)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._selection_changed)

        self.preview = TranscriptView()
        self.preview.setAccessibleName("Selected conversation")
        self.preview.show_message("Select a conversation to read it here.")

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        central = QWidget()
        rows = QVBoxLayout(central)
        rows.setContentsMargins(8, 8, 8, 4)
        rows.addWidget(self.notice_bar)
        rows.addLayout(top)
        rows.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.status_label = QLabel("")
        self.status_label.setAccessibleName("Status")
        self.undo_button = QPushButton("&Undo")
        self.undo_button.setAccessibleName("Undo the deletion")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self.undo_delete)
        status = self.statusBar()
        status.addWidget(self.status_label, 1)
        status.addPermanentWidget(self.undo_button)

    # Public API ------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(1100, 680)

    def in_trash_view(self) -> bool:
        return self.view_choice.currentText() == _VIEW_TRASH

    def selected_id(self) -> str | None:
        indexes = self.table.selectionModel().selectedRows(COLUMN_TITLE)
        if not indexes:
            return None
        value = indexes[0].data(ID_ROLE)
        return value if isinstance(value, str) else None

    def select(self, conversation_id: str) -> bool:
        """Selects the conversation's row (if it is listed and not filtered out)."""
        row = self.model.row_of(conversation_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, COLUMN_TITLE))
        if not index.isValid():
            return False
        self.table.setCurrentIndex(index)
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def visible_ids(self) -> list[str]:
        """The conversations listed, in the table's order."""
        ids = []
        for row in range(self.proxy.rowCount()):
            value = self.proxy.index(row, COLUMN_TITLE).data(ID_ROLE)
            if isinstance(value, str):
                ids.append(value)
        return ids

    def notices(self) -> list[StorageNotice]:
        return list(self._notices)

    def refresh(self) -> None:
        """Lists the conversations (or the trash) again from the store."""
        self._tasks.start(self._list(), name="list conversations")

    def open_selected(self) -> None:
        conversation_id = self.selected_id()
        if conversation_id is not None and not self.in_trash_view():
            self._tasks.start(self._open_window(conversation_id), name="open conversation")

    def continue_selected(self) -> None:
        conversation_id = self.selected_id()
        if conversation_id is not None and not self.in_trash_view():
            self.continue_requested.emit(conversation_id)

    def rename_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows(COLUMN_TITLE)
        if rows and not self.in_trash_view():
            self.table.edit(rows[0])

    def rename(self, conversation_id: str, title: str) -> None:
        self._tasks.start(self._rename(conversation_id, title), name="rename conversation")

    def delete_selected(self) -> None:
        conversation_id = self.selected_id()
        if conversation_id is not None and not self.in_trash_view():
            self._tasks.start(self._delete(conversation_id), name="delete conversation")

    def undo_delete(self) -> None:
        if self._last_deleted is not None:
            self._tasks.start(self._restore(self._last_deleted.id), name="undo delete")

    def restore_selected(self) -> None:
        conversation_id = self.selected_id()
        if conversation_id is not None and self.in_trash_view():
            self._tasks.start(self._restore(conversation_id), name="restore conversation")

    def confirm_empty_trash(self) -> None:
        question = QMessageBox(
            QMessageBox.Icon.Warning,
            "Empty the trash?",
            "The conversations in the trash will be deleted for good.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        delete_button = question.addButton("Delete for good", QMessageBox.ButtonRole.AcceptRole)
        question.setDefaultButton(QMessageBox.StandardButton.Cancel)
        question.finished.connect(
            lambda _result: (
                self.empty_trash() if question.clickedButton() is delete_button else None
            )
        )
        question.finished.connect(question.deleteLater)
        question.open()  # not exec(): the event loop (and asyncio) keeps running

    def empty_trash(self) -> None:
        self._tasks.start(self._empty_trash(), name="empty trash")

    def choose_export_file(self, export_format: ExportFormat) -> None:
        conversation_id = self.selected_id()
        summary = self.model.summary(conversation_id) if conversation_id else None
        if summary is None or self.in_trash_view():
            return
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        chooser = QFileDialog(self, f"Export as {EXPORT_FORMATS[export_format]}")
        chooser.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        chooser.setDirectory(folder)
        chooser.selectFile(export_file_name(summary, export_format))
        chooser.setDefaultSuffix(FILE_SUFFIXES[export_format].lstrip("."))
        chooser.fileSelected.connect(
            lambda path: self.export(summary.id, export_format, Path(path))
        )
        chooser.finished.connect(chooser.deleteLater)
        chooser.open()

    def export(self, conversation_id: str, export_format: ExportFormat, destination: Path) -> None:
        self._tasks.start(
            self._export(conversation_id, export_format, destination), name="export conversation"
        )

    async def idle(self) -> None:
        """Waits until the window's background work has finished."""
        await self._tasks.idle()

    # Qt overrides -----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._search_timer.stop()
        self._preview_timer.stop()
        self._tasks.cancel_all()
        super().closeEvent(event)

    # Reactions --------------------------------------------------------------------------------

    def _focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def _query_changed(self, text: str) -> None:
        self.proxy.set_query(text)
        self.model.set_snippets({})
        self._search_timer.start()
        if self._search_task is not None:
            self._search_task.cancel()
        self._update_status()

    def _start_full_text_search(self) -> None:
        query = self.search_edit.text().strip()
        if query and not self.in_trash_view():
            self._search_task = self._tasks.start(self._full_text_search(query), name="search")

    def _view_changed(self) -> None:
        trash = self.in_trash_view()
        self.model.editable = not trash
        self.model.sync([])
        self._show_nothing()
        self.refresh()
        self._update_actions()

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_actions()
        if self.selected_id() is None:
            self._show_nothing()
            return
        self._preview_timer.start()

    def _start_preview(self) -> None:
        conversation_id = self.selected_id()
        if conversation_id is None or conversation_id == self._previewed_id:
            return
        if self._preview_task is not None:
            self._preview_task.cancel()  # the latest selection wins
        summary = self.model.summary(conversation_id)
        if self.in_trash_view() and summary is not None:
            self._previewed_id = conversation_id
            self.preview.show_message(
                f"“{summary.display_title}” is in the trash. Restore it to read, export or "
                "continue it."
            )
            self.previewed.emit(conversation_id)
            return
        self._preview_task = self._tasks.start(self._preview(conversation_id), name="preview")

    def _show_nothing(self) -> None:
        self._previewed_id = None
        self.preview.show_message(
            "The trash is empty."
            if self.in_trash_view() and self.model.rowCount() == 0
            else "Select a conversation to read it here."
        )

    def _dismiss_notices(self) -> None:
        self._notices = []
        self.notice_bar.setVisible(False)

    def _update_actions(self) -> None:
        selected = self.selected_id() is not None
        trash = self.in_trash_view()
        for action in (self.open_action, self.continue_action, self.rename_action):
            action.setEnabled(selected and not trash)
        self.delete_action.setEnabled(selected and not trash)
        self.export_button.setEnabled(selected and not trash)
        self.restore_action.setEnabled(selected and trash)
        self.restore_action.setVisible(trash)
        self.empty_trash_action.setVisible(trash)
        self.empty_trash_action.setEnabled(trash and self.model.rowCount() > 0)

    def _update_status(self, message: str = "") -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        place = "in the trash" if self.in_trash_view() else "saved"
        count = f"{total} conversation{'s' if total != 1 else ''} {place}"
        if self.proxy.query:
            said = len(self.model.snippets())
            by_content = f" ({said} by what was said)" if said else ""
            count = f"{shown} of {total} match “{self.proxy.query}”{by_content}"
        self.status_label.setText(f"{count}. {message}".strip() if message else count)

    def _fail(self, message: str) -> None:
        log.warning("history: %s", message)
        self._update_status(message)
        self.failed.emit(message)

    def _show_notices(self, notices: list[StorageNotice]) -> None:
        if not notices:
            return
        self._notices.extend(notices)
        worst = max(
            (notice.severity for notice in self._notices),
            key=[Severity.INFO, Severity.WARNING, Severity.ERROR].index,
        )
        self.notice_label.set_tone(Tone.PLAIN if worst is Severity.INFO else Tone.ERROR)
        self.notice_label.show_message("\n".join(notice.message for notice in self._notices))
        self.notice_bar.setVisible(True)
        self.notices_shown.emit(list(self._notices))

    # Background work --------------------------------------------------------------------------

    async def _list(self) -> None:
        trash = self.in_trash_view()
        try:
            if trash:
                summaries = await self.store.deleted_async()
            else:
                await self.store.refresh_async()
                summaries = await self.store.list_conversations_async()
        except StorageError as exc:
            self._fail(str(exc))
            return
        if trash != self.in_trash_view():
            return  # the user switched views meanwhile; that view lists itself
        selected = self.selected_id()
        self.model.sync(summaries)
        self._show_notices(self.store.take_notices())
        if selected is not None:
            self.select(selected)
        self._update_actions()
        self._update_status()
        self.listed.emit(len(summaries))

    async def _full_text_search(self, query: str) -> None:
        try:
            hits = await self.store.search_async(query)
        except StorageError as exc:
            self._fail(str(exc))
            return
        if query != self.search_edit.text().strip():
            return  # typing went on; a newer search follows
        self.model.set_snippets({hit.summary.id: hit.snippet for hit in hits if hit.item_id})
        self.proxy.set_full_text_matches(hit.summary.id for hit in hits)
        self._show_notices(self.store.take_notices())
        self._update_status()
        self.searched.emit(len(hits))

    async def _load(self, conversation_id: str) -> tuple[ConversationDocument, list[str]] | None:
        """The document and its rich text (both built off the GUI thread), or None after
        telling the user why not."""
        colors = self.preview.colors()
        try:
            document = await self.store.open_async(conversation_id)
            parts = await asyncio.to_thread(transcript_parts, document, colors)
        except ConversationUnavailableError as exc:
            self._show_notices([exc.notice, *self.store.take_notices()])
            self.model.remove(conversation_id)
            self._update_status()
            return None
        except ConversationNotFoundError:
            self.model.remove(conversation_id)
            self._fail("That conversation is no longer there (deleted elsewhere?).")
            return None
        return document, parts

    async def _preview(self, conversation_id: str) -> None:
        loaded = await self._load(conversation_id)
        if loaded is None or conversation_id != self.selected_id():
            return
        _document, parts = loaded
        self._previewed_id = conversation_id
        await self.preview.show_parts(parts, self.proxy.query.split())
        self.previewed.emit(conversation_id)

    async def _open_window(self, conversation_id: str) -> None:
        loaded = await self._load(conversation_id)
        if loaded is None:
            return
        document, parts = loaded
        window = ConversationWindow(document.display_title)
        window.destroyed.connect(lambda _obj=None, w=window: self._forget_window(w))
        self._windows.append(window)
        window.show()
        await window.view.show_parts(parts)

    def _forget_window(self, window: ConversationWindow) -> None:
        if window in self._windows:
            self._windows.remove(window)

    async def _rename(self, conversation_id: str, title: str) -> None:
        try:
            await self.store.rename_async(conversation_id, title)
            # summary() waits for the store's lock, which a save may hold during its fsync.
            summary = await asyncio.to_thread(self.store.summary, conversation_id)
        except (ConversationNotFoundError, ConversationUnavailableError, StorageError) as exc:
            self._fail(f"Could not rename the conversation: {_reason(exc)}")
            return
        self.model.upsert(summary)
        if conversation_id == self._previewed_id:
            self._previewed_id = None
            self._preview_timer.start()  # the title at the top of the transcript changed
        self._update_status("Renamed.")
        self.renamed.emit(conversation_id)

    async def _delete(self, conversation_id: str) -> None:
        summary = self.model.summary(conversation_id)
        try:
            await self.store.delete_async(conversation_id)
        except ConversationInUseError:
            self._fail("This conversation is still going on; end it before deleting it.")
            return
        except (ConversationNotFoundError, StorageError) as exc:
            self._fail(f"Could not delete the conversation: {_reason(exc)}")
            return
        self.model.remove(conversation_id)
        self._last_deleted = summary
        title = summary.display_title if summary else "The conversation"
        self._update_status(f"Moved “{title}” to the trash.")
        self.undo_button.setVisible(True)
        self._update_actions()
        self.deleted.emit(conversation_id)

    async def _restore(self, conversation_id: str) -> None:
        try:
            summary = await self.store.restore_async(conversation_id)
        except ConversationUnavailableError as exc:
            self._show_notices([exc.notice])
            return
        except (ConversationNotFoundError, StorageError) as exc:
            self._fail(f"Could not restore the conversation: {_reason(exc)}")
            return
        if self._last_deleted is not None and self._last_deleted.id == conversation_id:
            self._last_deleted = None
            self.undo_button.setVisible(False)
        if self.in_trash_view():
            self.model.remove(conversation_id)
        else:
            self.model.upsert(summary)
            self.select(conversation_id)
        self._update_actions()
        self._update_status(f"Restored “{summary.display_title}”.")
        self.restored.emit(conversation_id)

    async def _empty_trash(self) -> None:
        try:
            count = await self.store.empty_trash_async()
        except StorageError as exc:
            self._fail(str(exc))
            return
        self._last_deleted = None
        self.undo_button.setVisible(False)
        if self.in_trash_view():
            self.model.sync([])
            self._show_nothing()
        self._update_actions()
        self._update_status(f"Deleted {count} conversation{'s' if count != 1 else ''} for good.")

    async def _export(
        self, conversation_id: str, export_format: ExportFormat, destination: Path
    ) -> None:
        try:
            written = await self.store.export_async(conversation_id, export_format, destination)
        except ConversationUnavailableError as exc:
            self._show_notices([exc.notice])
            self.model.remove(conversation_id)
            return
        except (ConversationNotFoundError, StorageError) as exc:
            self._fail(f"Could not export the conversation: {_reason(exc)}")
            return
        self._update_status(f"Exported to {written}.")
        self.exported.emit(str(written))


def _reason(exc: Exception) -> str:
    if isinstance(exc, ConversationNotFoundError):
        return "it is no longer there."
    return str(exc)


__all__ = [
    "ConversationWindow",
    "HistoryWindow",
    "TranscriptView",
    "export_file_name",
]
