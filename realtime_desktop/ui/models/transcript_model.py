"""The transcript's item model: a thin adapter over the core's :class:`Conversation`.

One row per conversation item, in the server's order. The conversation announces each insertion
and removal before and after it happens, so rows are bracketed with ``begin…``/``end…`` and the
model is never reset while a conversation runs; a streaming delta changes one row
(``dataChanged`` for that row only, STYLE.md lesson 6). Tool calls also change when their run
does (approval, running, done), which the controller's executor reports.

Function-call outputs are not rows of their own in the view: the call's card shows its result.
:class:`TranscriptFilter` hides them (and kinds the view does not render).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from realtime_desktop.core.conversation import (
    Conversation,
    ConversationItem,
    ConversationListener,
    ItemKind,
)
from realtime_desktop.core.tools import ToolRun

ModelIndex = QModelIndex | QPersistentModelIndex

ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
"""The :class:`ConversationItem` (live: read it during paint, do not keep it)."""
TOOL_RUN_ROLE = Qt.ItemDataRole.UserRole + 2
"""The :class:`ToolRun` of a function call, once the executor has it."""
REVISION_ROLE = Qt.ItemDataRole.UserRole + 3
"""Bumped on every change of the row: the delegate's layout cache key."""

_SHOWN_KINDS = frozenset({ItemKind.MESSAGE, ItemKind.FUNCTION_CALL, ItemKind.MCP_CALL})


def speaker(item: ConversationItem) -> str:
    if item.kind in (ItemKind.FUNCTION_CALL, ItemKind.MCP_CALL):
        return "Tool"
    return {"user": "You", "assistant": "Assistant", "system": "System"}.get(item.role or "", "")


def accessible_text(item: ConversationItem, run: ToolRun | None) -> str:
    """What a screen reader says for a row."""
    if item.kind in (ItemKind.FUNCTION_CALL, ItemKind.MCP_CALL):
        status = run.status.value.replace("_", " ") if run is not None else item.status.value
        return f"Tool {item.name}: {status}"
    text = item.display_text or ("(spoken audio)" if item.has_audio else "")
    if item.interrupted and item.truncated_at_ms is not None:
        text += f" (interrupted at {item.truncated_at_ms / 1000:.1f} s)"
    return f"{speaker(item)}: {text}"


class TranscriptModel(QAbstractListModel, ConversationListener):
    """Rows are the conversation's items; see the module docstring."""

    def __init__(self, parent: QObject | None = None) -> None:
        QAbstractListModel.__init__(self, parent)
        self._conversation: Conversation | None = None
        self._runs: dict[str, ToolRun] = {}
        self._revisions: dict[str, int] = {}

    @property
    def conversation(self) -> Conversation | None:
        return self._conversation

    def set_conversation(self, conversation: Conversation | None) -> None:
        """Follows another conversation (a new one, or one continued from history)."""
        self.beginResetModel()
        if self._conversation is not None:
            self._conversation.remove_listener(self)
        self._conversation = conversation
        self._runs.clear()
        self._revisions.clear()
        if conversation is not None:
            conversation.add_listener(self)
        self.endResetModel()

    def tool_changed(self, run: ToolRun) -> None:
        """The executor reports a run; repaint the call's card."""
        self._runs[run.call_id] = run
        conversation = self._conversation
        if conversation is None:
            return
        for row, item in enumerate(conversation):
            if item.call_id == run.call_id and item.kind is ItemKind.FUNCTION_CALL:
                self._row_changed(row)
                return

    def refresh_tool_rows(self) -> None:
        """Running tools show their elapsed time: repaint their cards (a timer calls this)."""
        conversation = self._conversation
        if conversation is None:
            return
        for row, item in enumerate(conversation):
            run = self._runs.get(item.call_id or "")
            if run is not None and not run.finished:
                self._row_changed(row)

    # ConversationListener ---------------------------------------------------------------------
    def item_inserting(self, index: int) -> None:
        self.beginInsertRows(QModelIndex(), index, index)

    def item_inserted(self, index: int) -> None:
        self.endInsertRows()

    def item_changed(self, index: int, changed: frozenset[str]) -> None:
        self._row_changed(index)

    def item_removing(self, index: int) -> None:
        self.beginRemoveRows(QModelIndex(), index, index)

    def item_removed(self, index: int) -> None:
        self.endRemoveRows()

    def clearing(self) -> None:
        self.beginResetModel()

    def cleared(self) -> None:
        self._revisions.clear()
        self.endResetModel()

    def _row_changed(self, row: int) -> None:
        conversation = self._conversation
        if conversation is None or not 0 <= row < len(conversation):
            return
        item_id = conversation[row].id
        self._revisions[item_id] = self._revisions.get(item_id, 0) + 1
        index = self.index(row, 0)
        self.dataChanged.emit(index, index)

    # QAbstractListModel -----------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() or self._conversation is None:
            return 0
        return len(self._conversation)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        conversation = self._conversation
        if conversation is None or not index.isValid() or not 0 <= index.row() < len(conversation):
            return None
        item = conversation[index.row()]
        if role == ITEM_ROLE:
            return item
        if role == TOOL_RUN_ROLE:
            return self._runs.get(item.call_id or "")
        if role == REVISION_ROLE:
            return self._revisions.get(item.id, 0)
        if role == Qt.ItemDataRole.DisplayRole:
            return item.display_text
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return accessible_text(item, self._runs.get(item.call_id or ""))
        if role == Qt.ItemDataRole.ToolTipRole and item.interrupted:
            return "The rest of this answer was not heard; the model forgot it too."
        return None


class TranscriptFilter(QSortFilterProxyModel):
    """Shows messages and tool calls; hides outputs (shown on their call) and other kinds."""

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        item = model.data(model.index(source_row, 0, source_parent), ITEM_ROLE)
        return isinstance(item, ConversationItem) and item.kind in _SHOWN_KINDS
