"""The event inspector: model consistency under appends, collapses and drops; filter; detail;
export."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from realtime_desktop.core.event_log import Direction, EventLog
from realtime_desktop.ui.models.event_log_model import (
    COLUMN_COUNT,
    COLUMN_DIRECTION,
    COLUMN_TIME,
    COLUMN_TYPE,
    EventLogModel,
    relative_time,
)
from realtime_desktop.ui.widgets.inspector import InspectorDock


def _delta(n: int) -> dict[str, object]:
    return {"type": "response.output_audio.delta", "event_id": f"event_{n}", "delta": "A" * 3000}


def test_model_stays_consistent_while_the_log_changes(qtmodeltester: ModelTester) -> None:
    log = EventLog(capacity=8)
    model = EventLogModel(log)
    qtmodeltester.check(model)  # checks every later change through the model's signals
    log.record(Direction.SENT, {"type": "session.update", "event_id": "cli_1"})
    for n in range(30):
        log.record(Direction.RECEIVED, _delta(n))  # one collapsed row
    for n in range(12):
        log.record(Direction.RECEIVED if n % 2 else Direction.SENT, {"type": f"kind.{n}"})
    assert model.rowCount() == 8  # bounded: the oldest rows dropped
    assert model.data(model.index(0, COLUMN_TYPE)) == "kind.4"
    log.clear()
    assert model.rowCount() == 0
    qtmodeltester.check(model)


def test_collapsed_runs_show_their_count(qtbot: QtBot) -> None:
    log = EventLog()
    model = EventLogModel(log)
    log.record(Direction.RECEIVED, {"type": "response.created"})
    with qtbot.waitSignal(model.dataChanged) as changed:
        for n in range(3):
            log.record(Direction.RECEIVED, _delta(n))
    assert changed.args[0].column() == COLUMN_COUNT  # a narrow change, not a reset
    assert model.rowCount() == 2
    assert model.data(model.index(1, COLUMN_COUNT)) == "3"
    direction = model.index(1, COLUMN_DIRECTION)
    assert model.data(direction) == "←"
    assert model.data(direction, Qt.ItemDataRole.ToolTipRole) == "received"
    assert model.data(direction, Qt.ItemDataRole.AccessibleTextRole) == "received"
    assert model.data(model.index(0, COLUMN_TIME)) == "00:00.00"


def test_relative_time() -> None:
    assert relative_time(0) == "00:00.00"
    assert relative_time(75.456) == "01:15.46"


def test_dock_filters_shows_json_and_exports(qtbot: QtBot, tmp_path: Path) -> None:
    log = EventLog()
    dock = InspectorDock(log)
    qtbot.addWidget(dock)
    log.record(Direction.SENT, {"type": "response.create", "event_id": "cli_7"})
    for n in range(5):
        log.record(Direction.RECEIVED, _delta(n))
    log.record(
        Direction.RECEIVED,
        {"type": "error", "event_id": "event_9", "error": {"code": "x", "event_id": "cli_7"}},
    )
    assert dock.visible_rows() == 3
    assert dock.count_label.text() == "3 row(s)"

    dock.filter_edit.setText("cli_7")
    assert dock.visible_rows() == 1
    dock.filter_edit.setText("DELTA")
    assert dock.visible_rows() == 1
    dock.select_row(1)
    detail = dock.current_detail()
    assert detail.startswith("// first of 5")
    assert "<3000 base64 chars elided>" in detail
    assert '"event_id": "event_4"' in detail  # the last event of the run
    dock.filter_edit.clear()
    dock.select_row(0)
    assert json.loads(dock.current_detail()) == {"type": "response.create", "event_id": "cli_7"}
    error_color = dock.model.data(dock.model.index(2, COLUMN_TYPE), Qt.ItemDataRole.ForegroundRole)
    assert error_color is not None

    target = tmp_path / "events.jsonl"
    with qtbot.waitSignal(dock.exported) as exported:
        asyncio.run(dock.export_to(target))
    assert exported.args == [str(target), 3]
    assert len(target.read_text().splitlines()) == 3
    with qtbot.waitSignal(dock.export_failed):
        asyncio.run(dock.export_to(tmp_path / "missing-dir" / "x.jsonl"))
    assert dock.model.rowCount(QModelIndex()) == 3
