"""The event inspector: the raw protocol, one row per event or run of events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import QItemSelection, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from realtime_desktop.core.event_log import EventLog
from realtime_desktop.ui.models.event_log_model import (
    COLUMN_COUNT,
    COLUMN_DIRECTION,
    COLUMN_TIME,
    COLUMN_TYPE,
    ROW_ROLE,
    EventFilterModel,
    EventLogModel,
    detail_json,
)


class InspectorDock(QDockWidget):
    """Dockable: filter box, event table, JSON detail of the selected row, export."""

    exported = Signal(str, int)
    """Path and number of rows, after an export finished."""
    export_failed = Signal(str)

    def __init__(self, log: EventLog, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Event inspector"), parent)
        self.setObjectName("inspector")  # saveState() needs it to restore the dock
        self.model = EventLogModel(log, self)
        self.filter_model = EventFilterModel(self)
        self.filter_model.setSourceModel(self.model)

        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)

        bar = QHBoxLayout()
        self.filter_edit = QLineEdit(body)
        self.filter_edit.setPlaceholderText(self.tr("Filter by type or event id"))
        self.filter_edit.setAccessibleName(self.tr("Filter events"))
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.filter_model.set_text)
        self.count_label = QLabel(body)
        self.export_button = QPushButton(self.tr("Export JSONL…"), body)
        self.export_button.setAccessibleName(self.tr("Export events as JSON lines"))
        self.export_button.clicked.connect(self._choose_export_path)
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.export_button)
        layout.addLayout(bar)

        self.table = QTableView(body)
        self.table.setModel(self.filter_model)
        self.table.setAccessibleName(self.tr("Protocol events"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setWordWrap(False)
        # Column widths from the font, set once: ResizeToContents re-measures every row on every
        # change, which made a hidden inspector cost the GUI thread ~100 000 data() calls a turn.
        # The type is what a reader scans, so it gets room for the longest common names; the
        # event id comes last and takes what is left (scrolled to in a narrow dock).
        header = self.table.horizontalHeader()
        metrics = self.table.fontMetrics()
        pad = 2 * metrics.horizontalAdvance("M")
        for column, sample in (
            (COLUMN_TIME, "00:00.00"),
            (COLUMN_DIRECTION, "←"),
            (COLUMN_TYPE, "response.output_audio_transcript.delta"),
            (COLUMN_COUNT, "99999"),
        ):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, metrics.horizontalAdvance(sample) + pad)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(metrics.horizontalAdvance("←") + pad)
        self.table.selectionModel().selectionChanged.connect(self._show_selected)

        self.detail = QPlainTextEdit(body)
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName(self.tr("Selected event as JSON"))
        self.detail.setPlaceholderText(self.tr("Select an event to see its JSON."))
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        splitter = QSplitter(Qt.Orientation.Vertical, body)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout.addWidget(splitter, 1)
        self.setWidget(body)

        self._follow_tail = True
        self._export_task: asyncio.Future[None] | None = None
        self.model.rowsInserted.connect(self._rows_inserted)
        self.model.rowsRemoved.connect(self._update_count)
        self.model.modelReset.connect(self._update_count)
        self._update_count()

    def sizeHint(self) -> QSize:
        # Docked for the first time, wide enough for the time, direction and type columns.
        hint = super().sizeHint()
        columns = self.table.horizontalHeader()
        wanted = sum(columns.sectionSize(column) for column in range(COLUMN_COUNT + 1)) + 40
        return QSize(max(hint.width(), wanted), hint.height())

    def _rows_inserted(self) -> None:
        self._update_count()
        # Keep the newest row in view unless the user scrolled up to read something.
        scroll = self.table.verticalScrollBar()
        if self._follow_tail or scroll.value() >= scroll.maximum() - 2:
            self.table.scrollToBottom()

    def _update_count(self) -> None:
        self.count_label.setText(self.tr("%n row(s)", "", self.model.rowCount()))

    def _show_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if not indexes:
            return
        self._follow_tail = False
        row = self.filter_model.data(indexes[0], ROW_ROLE)
        if row is not None:
            self.detail.setPlainText(detail_json(row))

    def select_row(self, source_row: int) -> None:
        proxy = self.filter_model.mapFromSource(self.model.index(source_row, 0))
        if proxy.isValid():
            self.table.selectRow(proxy.row())

    def _choose_export_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export events"), "realtime-events.jsonl", self.tr("JSON lines (*.jsonl)")
        )
        if path:
            self._export_task = asyncio.ensure_future(self.export_to(Path(path)))

    async def export_to(self, path: Path) -> None:
        """Writes the log off the GUI thread; reports through ``exported``/``export_failed``."""
        try:
            count = await asyncio.to_thread(self.model.log.export_jsonl, path)
        except OSError as exc:
            self.export_failed.emit(self.tr("Could not export events: %1").replace("%1", str(exc)))
            return
        self.exported.emit(str(path), count)

    def current_detail(self) -> str:
        return self.detail.toPlainText()

    def visible_rows(self) -> int:
        return self.filter_model.rowCount(QModelIndex())
