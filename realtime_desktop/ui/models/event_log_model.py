"""Table model over the core's :class:`EventLog` for the event inspector."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from realtime_desktop.core.event_log import Direction, EventLog, EventRow

ModelIndex = QModelIndex | QPersistentModelIndex

COLUMN_TIME = 0
COLUMN_DIRECTION = 1
COLUMN_TYPE = 2
COLUMN_COUNT = 3
COLUMN_EVENT_ID = 4
_HEADERS = ("Time", "Dir", "Type", "Count", "Event id")

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
"""The :class:`EventRow` itself, for the detail pane."""

_ARROWS = {Direction.SENT: "→", Direction.RECEIVED: "←"}
_DIRECTION_NAMES = {Direction.SENT: "sent", Direction.RECEIVED: "received"}


def relative_time(seconds: float) -> str:
    """``mm:ss.hh``, the inspector's clock since the log started."""
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:05.2f}"


def detail_json(row: EventRow) -> str:
    """What the detail pane shows: the event, and the newest one of a collapsed run."""
    if row.count == 1:
        return json.dumps(row.payload, indent=2, ensure_ascii=False)
    return (
        f"// first of {row.count}\n"
        + json.dumps(row.payload, indent=2, ensure_ascii=False)
        + "\n\n// last\n"
        + json.dumps(row.last_payload, indent=2, ensure_ascii=False)
    )


class EventLogModel(QAbstractTableModel):
    """Adapts the log's before/after notifications to row insertions, removals and narrow
    changes."""

    def __init__(self, log: EventLog, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._log = log
        log.add_listener(self)

    def detach(self) -> None:
        self._log.remove_listener(self)

    @property
    def log(self) -> EventLog:
        return self._log

    # EventLogListener --------------------------------------------------------------------------

    def rows_appending(self, first: int, last: int) -> None:
        self.beginInsertRows(QModelIndex(), first, last)

    def rows_appended(self, first: int, last: int) -> None:
        self.endInsertRows()

    def row_changed(self, index: int) -> None:
        self.dataChanged.emit(self.index(index, COLUMN_COUNT), self.index(index, COLUMN_COUNT))

    def rows_dropping(self, count: int) -> None:
        self.beginRemoveRows(QModelIndex(), 0, count - 1)

    def rows_dropped(self, count: int) -> None:
        self.endRemoveRows()

    def clearing(self) -> None:
        self.beginResetModel()

    def cleared(self) -> None:
        self.endResetModel()

    # QAbstractTableModel ----------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._log)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(_HEADERS)
        ):
            return _HEADERS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._log):
            return None
        row = self._log[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole and column == COLUMN_TYPE:
            return f"{row.type} × {row.count}" if row.count > 1 else row.type
        if column == COLUMN_DIRECTION and role in (
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.AccessibleTextRole,
        ):
            return _DIRECTION_NAMES[row.direction]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COLUMN_DIRECTION:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ForegroundRole and row.type == "error":
            return QColor("#d13b3b")
        if role == Qt.ItemDataRole.ForegroundRole and column == COLUMN_DIRECTION:
            return QApplication.palette().color(QPalette.ColorRole.PlaceholderText)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COLUMN_COUNT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: EventRow, column: int) -> str | None:
        if column == COLUMN_TIME:
            return relative_time(row.first_at)
        if column == COLUMN_DIRECTION:
            return _ARROWS[row.direction]
        if column == COLUMN_TYPE:
            return row.type
        if column == COLUMN_COUNT:
            return str(row.count) if row.count > 1 else ""
        if column == COLUMN_EVENT_ID:
            return row.event_id or ""
        return None


class EventFilterModel(QSortFilterProxyModel):
    """Keeps the rows whose type or event id contains the filter text (any case)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._needle = ""

    def set_text(self, text: str) -> None:
        if hasattr(self, "endFilterChange"):  # Qt >= 6.10; invalidateRowsFilter is deprecated
            self.beginFilterChange()
            self._needle = text.strip().lower()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._needle = text.strip().lower()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        if not self._needle:
            return True
        model = self.sourceModel()
        for column in (COLUMN_TYPE, COLUMN_EVENT_ID):
            value = model.data(model.index(source_row, column, source_parent))
            if isinstance(value, str) and self._needle in value.lower():
                return True
        return False
