"""The two settings that are tables: extra handshake headers and the price table.

Each is a small :class:`QAbstractTableModel` over rows of text cells (what the user typed, so a
wrong number can be shown and explained), and an editor that turns the rows into the setting's
mapping and marks the cells the settings model complains about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QTableView,
    QWidget,
)

from realtime_desktop.storage.settings import FieldSpec, ModelPrice
from realtime_desktop.ui.settings.fields import (
    FieldEditor,
    number_text,
    parse_number,
    secondary_button,
)
from realtime_desktop.ui.settings.labels import Tone, tone_color

ModelIndex = QModelIndex | QPersistentModelIndex

PRICE_FIELDS: tuple[str, ...] = tuple(ModelPrice.model_fields)


def price_header(field: str) -> str:
    """``text_cached_input`` → ``Text⏎cached``; ``audio_output`` → ``Audio⏎out`` (two lines
    keep nine columns narrow enough for the page)."""
    parts = field.split("_")
    which = "cached" if "cached" in parts else ("in" if parts[-1] == "input" else "out")
    return f"{parts[0].capitalize()}\n{which}"


class TextTableModel(QAbstractTableModel):
    """Rows of text cells with named columns; cells with a problem are shown in the error
    colour with the message as their tooltip."""

    def __init__(
        self,
        headers: Sequence[str],
        tooltips: Sequence[str],
        numeric_from: int,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._headers = tuple(headers)
        self._tooltips = tuple(tooltips)
        self._numeric_from = numeric_from
        self._rows: list[list[str]] = []
        self._problems: dict[tuple[int, int], str] = {}

    # Qt's read API -----------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._rows[row][column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._problems.get((row, column), self._tooltips[column])
        if role == Qt.ItemDataRole.ForegroundRole and (row, column) in self._problems:
            return tone_color(QApplication.palette(), Tone.ERROR)
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= self._numeric_from:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._headers):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltips[section]
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        text = "" if value is None else str(value)
        if self._rows[index.row()][index.column()] == text:
            return False
        self._rows[index.row()][index.column()] = text
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])
        return True

    # Rows ------------------------------------------------------------------------------------

    def rows(self) -> list[list[str]]:
        return [list(row) for row in self._rows]

    def set_rows(self, rows: Sequence[Sequence[str]]) -> None:
        self.beginResetModel()
        self._rows = [list(row) for row in rows]
        self._problems = {}
        self.endResetModel()

    def append_row(self, row: Sequence[str]) -> int:
        position = len(self._rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.append(list(row))
        self.endInsertRows()
        return position

    def remove_row(self, position: int) -> None:
        self.beginRemoveRows(QModelIndex(), position, position)
        del self._rows[position]
        self.endRemoveRows()
        self._problems = {
            (row - (row > position), column): message
            for (row, column), message in self._problems.items()
            if row != position
        }

    def set_problems(self, problems: Mapping[tuple[int, int], str]) -> None:
        """Marks the cells with a problem; only cells whose mark changes are repainted."""
        changed = set(problems) ^ set(self._problems)
        changed |= {cell for cell in problems if problems[cell] != self._problems.get(cell)}
        self._problems = dict(problems)
        for row, column in sorted(changed):
            if row < len(self._rows):
                index = self.index(row, column)
                self.dataChanged.emit(
                    index, index, [Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole]
                )

    def problem_at(self, row: int, column: int) -> str | None:
        return self._problems.get((row, column))


class TableEditor(FieldEditor):
    """A table with Add and Remove buttons. Tab leaves the table (arrows move between cells,
    F2 or typing edits), so keyboard users are not trapped in it."""

    def __init__(
        self, spec: FieldSpec, model: TextTableModel, *, visible_rows: int, own_label: bool = False
    ) -> None:
        self.model = model
        self.view = QTableView()
        self.view.setModel(model)
        self.view.setTabKeyNavigation(False)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.view.verticalHeader().setVisible(False)
        self.view.setAlternatingRowColors(True)
        row_height = self.view.fontMetrics().height() + 10
        self.view.verticalHeader().setDefaultSectionSize(row_height)
        header_height = self.view.horizontalHeader().sizeHint().height()
        height = row_height * visible_rows + header_height + 2 * self.view.frameWidth()
        self.view.setFixedHeight(height)
        super().__init__(spec, self.view, own_label=own_label)
        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        noun = "header" if spec.kind == "mapping" else "model"
        self.add_button = secondary_button(f"Add {noun}", f"Add a row to {spec.title.lower()}")
        self.remove_button = secondary_button(
            f"Remove {noun}", f"Remove the selected row of {spec.title.lower()}"
        )
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        self.column.insertWidget(1, buttons)
        self.add_button.clicked.connect(self.add_row)
        self.remove_button.clicked.connect(self.remove_selected)
        model.dataChanged.connect(self._data_changed)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self._update_buttons()

    def _data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: Sequence[int]) -> None:
        if not roles or Qt.ItemDataRole.DisplayRole in roles:
            self.changed.emit()

    def add_row(self) -> None:
        position = self.model.append_row([""] * self.model.columnCount())
        index = self.model.index(position, 0)
        self.view.setCurrentIndex(index)
        self.view.edit(index)
        self.changed.emit()

    def remove_selected(self) -> None:
        index = self.view.currentIndex()
        if index.isValid():
            self.model.remove_row(index.row())
            self.changed.emit()
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.view.currentIndex().isValid())

    def named_rows(self) -> list[tuple[int, list[str]]]:
        """Rows that are not entirely empty, with their position."""
        return [
            (position, [cell.strip() for cell in row])
            for position, row in enumerate(self.model.rows())
            if any(cell.strip() for cell in row)
        ]

    def duplicate_or_unnamed(self, noun: str, *, case_sensitive: bool) -> str | None:
        seen: set[str] = set()
        for _, row in self.named_rows():
            name = row[0]
            if not name:
                return f"Enter a {noun} name in every row (or remove the row)."
            key = name if case_sensitive else name.lower()
            if key in seen:
                return f"'{name}' appears twice; each {noun} may appear only once."
            seen.add(key)
        return None


class HeadersEditor(TableEditor):
    """``connection.custom_headers``: name and value per row."""

    def __init__(self, spec: FieldSpec) -> None:
        model = TextTableModel(
            ("Header", "Value"),
            ("The header name, such as X-Team", "Its value (a single line)"),
            numeric_from=2,
        )
        super().__init__(spec, model, visible_rows=3)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.view.setColumnWidth(0, 180)

    def value(self) -> dict[str, str]:
        return {row[0]: row[1] for _, row in self.named_rows() if row[0]}

    def set_value(self, value: Any) -> None:
        self.model.set_rows([[str(name), str(text)] for name, text in dict(value).items()])
        self.changed.emit()

    def local_error(self) -> str | None:
        # HTTP header names are case-insensitive: X-Team and x-team would be the same header.
        return self.duplicate_or_unnamed("header", case_sensitive=False)


_PRICE_PATH = re.compile(r"prices\[(?P<model>[^\]]*)\](?:\.(?P<field>\w+))?")


class PricesEditor(TableEditor):
    """``prices``: one row per model, USD per million tokens per kind of token."""

    def __init__(self, spec: FieldSpec) -> None:
        titles = [ModelPrice.model_fields[name].title or name for name in PRICE_FIELDS]
        model = TextTableModel(
            ("Model", *(price_header(name) for name in PRICE_FIELDS)),
            (
                "The model name the price applies to (dated snapshots of it too)",
                *(f"{title}, USD per million tokens" for title in titles),
            ),
            numeric_from=1,
        )
        super().__init__(spec, model, visible_rows=7, own_label=True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        metrics = self.view.fontMetrics()
        self.view.setMinimumWidth(metrics.horizontalAdvance("gpt-realtime-2.1-mini") + 24)
        for column in range(1, model.columnCount()):
            width = max(metrics.horizontalAdvance("cached"), metrics.horizontalAdvance("000.00"))
            self.view.setColumnWidth(column, width + 18)

    def value(self) -> dict[str, dict[str, Any]]:
        prices: dict[str, dict[str, Any]] = {}
        for _, row in self.named_rows():
            if row[0]:
                prices[row[0]] = {
                    name: parse_number(text, "float") if text else 0.0
                    for name, text in zip(PRICE_FIELDS, row[1:], strict=True)
                }
        return prices

    def set_value(self, value: Any) -> None:
        rows = [
            [str(name), *(number_text(price.get(field, 0.0)) for field in PRICE_FIELDS)]
            for name, price in dict(value).items()
        ]
        self.model.set_rows(rows)
        self.changed.emit()

    def local_error(self) -> str | None:
        return self.duplicate_or_unnamed("model", case_sensitive=True)

    def show_errors(self, errors: Mapping[str, str]) -> None:
        rows = {row[0]: position for position, row in self.named_rows()}
        problems: dict[tuple[int, int], str] = {}
        described: list[str] = []
        for path, message in errors.items():
            match = _PRICE_PATH.fullmatch(path)
            if match is None:
                described.append(message)
                continue
            position = rows.get(match["model"])
            field = match["field"]
            column = PRICE_FIELDS.index(field) + 1 if field in PRICE_FIELDS else 0
            if position is not None:
                problems[(position, column)] = message
            described.append(f"{match['model']}: {message}")
        self.model.set_problems(problems)
        super().show_errors({"prices": described[0]} if described else {})
