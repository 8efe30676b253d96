"""Table model over the conversation store's summaries, for the history window.

A thin adapter (STYLE.md lesson 6): rows are :class:`ConversationSummary` objects from
:meth:`ConversationStore.list_conversations`; :meth:`HistoryModel.sync` turns a fresh listing
into row insertions, removals and narrow ``dataChanged`` ranges, so a refresh while the user is
looking keeps the selection and scroll position. Sorting and filtering are the proxy's
(:class:`HistoryFilterProxy`), through :data:`SORT_ROLE`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

from realtime_desktop.storage.conversation_store import ConversationSummary

ModelIndex = QModelIndex | QPersistentModelIndex

COLUMN_TITLE = 0
COLUMN_DATE = 1
COLUMN_DURATION = 2
COLUMN_TURNS = 3
COLUMN_COST = 4
HEADERS = ("Title", "Date", "Duration", "Turns", "Cost")

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""A value that sorts naturally (a timestamp, a number), for the proxy."""
SUMMARY_ROLE = Qt.ItemDataRole.UserRole + 2
"""The :class:`ConversationSummary` itself (safe to read through the proxy)."""
ID_ROLE = Qt.ItemDataRole.UserRole + 3
"""The conversation id."""


def format_duration(milliseconds: int) -> str:
    total = milliseconds // 1000
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def format_cost(cost_usd: float | None) -> str:
    if cost_usd is None:
        return "—"  # no price known for the model: not free, just unknown
    return f"${cost_usd:.2f}" if cost_usd >= 1 else f"${cost_usd:.4f}"


def _column_values(summary: ConversationSummary) -> tuple[Any, ...]:
    """What each column shows, to compare two versions of a row."""
    return (
        summary.display_title,
        summary.created_at,
        summary.duration_ms,
        summary.turn_count,
        summary.cost_usd,
    )


class HistoryModel(QAbstractTableModel):
    """One row per saved conversation.

    The title is editable; an edit does not change the row but asks for a rename
    (:attr:`rename_requested`), because renaming writes the file: the window renames through
    the store off the GUI thread and then updates the row (:meth:`upsert`).

    Signals:
        rename_requested(str, str): conversation id, new title.
    """

    rename_requested = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ConversationSummary] = []
        self._row_of: dict[str, int] = {}
        self._snippets: dict[str, str] = {}
        self.editable = True

    # Qt's API ---------------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        summary = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(summary, column)
        if role == Qt.ItemDataRole.EditRole:
            return summary.title if column == COLUMN_TITLE else self._display(summary, column)
        if role == SORT_ROLE:
            return self._sort_key(summary, column)
        if role == SUMMARY_ROLE:
            return summary
        if role == ID_ROLE:
            return summary.id
        if role == Qt.ItemDataRole.ToolTipRole and column == COLUMN_TITLE:
            snippet = self._snippets.get(summary.id)
            lines = [summary.display_title]
            if summary.preview and summary.preview != summary.display_title:
                lines.append(summary.preview)
            if snippet:
                lines.append(f"Found: {snippet}")
            lines.append(f"{summary.provider or 'unknown provider'} · {summary.model}")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.TextAlignmentRole and column != COLUMN_TITLE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{HEADERS[column]}: {self._display(summary, column)}"
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(HEADERS):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section != COLUMN_TITLE:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = super().flags(index)
        if index.column() == COLUMN_TITLE and self.editable:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        if index.column() != COLUMN_TITLE or not self.editable:
            return False
        summary = self._rows[index.row()]
        title = " ".join(str(value).split())
        if title != summary.title:
            self.rename_requested.emit(summary.id, title)
        return False  # the row changes when the rename is done (upsert)

    # Rows ---------------------------------------------------------------------------------------

    def summaries(self) -> list[ConversationSummary]:
        return list(self._rows)

    def summary(self, conversation_id: str) -> ConversationSummary | None:
        row = self._row_of.get(conversation_id)
        return self._rows[row] if row is not None else None

    def row_of(self, conversation_id: str) -> int | None:
        return self._row_of.get(conversation_id)

    def sync(self, summaries: Sequence[ConversationSummary]) -> None:
        """Makes the rows what ``summaries`` lists: vanished rows are removed, changed ones
        updated in place (only their changed columns), new ones appended."""
        fresh = {summary.id: summary for summary in summaries}
        for row in sorted(
            (row for row, old in enumerate(self._rows) if old.id not in fresh), reverse=True
        ):
            self._remove_row(row)
        for summary in summaries:
            if summary.id in self._row_of:
                self.upsert(summary)
        new = [summary for summary in summaries if summary.id not in self._row_of]
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for summary in new:
                self._row_of[summary.id] = len(self._rows)
                self._rows.append(summary)
            self.endInsertRows()

    def upsert(self, summary: ConversationSummary) -> None:
        """Adds the row, or updates it with a ``dataChanged`` over the columns that changed."""
        row = self._row_of.get(summary.id)
        if row is None:
            self.sync([*self._rows, summary])
            return
        old, self._rows[row] = self._rows[row], summary
        changed = [
            column
            for column, (before, after) in enumerate(
                zip(_column_values(old), _column_values(summary), strict=True)
            )
            if before != after
        ]
        if changed:
            self.dataChanged.emit(self.index(row, min(changed)), self.index(row, max(changed)))

    def remove(self, conversation_id: str) -> None:
        row = self._row_of.get(conversation_id)
        if row is not None:
            self._remove_row(row)

    def set_snippets(self, snippets: Mapping[str, str]) -> None:
        """Where a full-text search found each conversation (shown in the title's tooltip)."""
        touched = set(snippets) ^ set(self._snippets)
        touched |= {key for key in snippets if snippets[key] != self._snippets.get(key)}
        self._snippets = dict(snippets)
        for conversation_id in touched:
            row = self._row_of.get(conversation_id)
            if row is not None:
                index = self.index(row, COLUMN_TITLE)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.ToolTipRole])

    def snippet(self, conversation_id: str) -> str | None:
        return self._snippets.get(conversation_id)

    def snippets(self) -> dict[str, str]:
        return dict(self._snippets)

    # Internals ----------------------------------------------------------------------------------

    def _remove_row(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        removed = self._rows.pop(row)
        self._row_of.pop(removed.id, None)
        for later in self._rows[row:]:
            self._row_of[later.id] -= 1
        self.endRemoveRows()

    @staticmethod
    def _display(summary: ConversationSummary, column: int) -> str:
        if column == COLUMN_TITLE:
            return summary.display_title
        if column == COLUMN_DATE:
            return summary.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if column == COLUMN_DURATION:
            return format_duration(summary.duration_ms)
        if column == COLUMN_TURNS:
            return str(summary.turn_count)
        return format_cost(summary.cost_usd)

    @staticmethod
    def _sort_key(summary: ConversationSummary, column: int) -> Any:
        if column == COLUMN_TITLE:
            return summary.display_title.casefold()
        if column == COLUMN_DATE:
            return summary.created_at.timestamp()
        if column == COLUMN_DURATION:
            return summary.duration_ms
        if column == COLUMN_TURNS:
            return summary.turn_count
        return -1.0 if summary.cost_usd is None else summary.cost_usd


class HistoryFilterProxy(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE`; keeps rows whose title, preview, model or provider contain
    every word of the query (instantly, from the summaries), or that the store's full-text
    search found (:meth:`set_full_text_matches`, after it has read the documents)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self._words: list[str] = []
        self._full_text: frozenset[str] = frozenset()

    @property
    def query(self) -> str:
        return " ".join(self._words)

    def set_query(self, query: str) -> None:
        words = query.lower().split()
        if words != self._words:
            self._begin_filter_change()
            self._words = words
            self._full_text = frozenset()
            self._end_filter_change()

    def set_full_text_matches(self, conversation_ids: Iterable[str]) -> None:
        matches = frozenset(conversation_ids)
        if matches != self._full_text:
            self._begin_filter_change()
            self._full_text = matches
            self._end_filter_change()

    # Qt 6.10 replaced invalidateFilter() (deprecated, and PySide warns about it) with a
    # begin/end pair; 6.9, which the app also supports, has only the old call.
    _HAS_FILTER_CHANGE = hasattr(QSortFilterProxyModel, "endFilterChange")

    def _begin_filter_change(self) -> None:
        if self._HAS_FILTER_CHANGE:
            self.beginFilterChange()

    def _end_filter_change(self) -> None:
        if self._HAS_FILTER_CHANGE:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        summary = model.data(model.index(source_row, COLUMN_TITLE, source_parent), SUMMARY_ROLE)
        if not isinstance(summary, ConversationSummary):
            return False
        return summary.matches(self._words) or summary.id in self._full_text
