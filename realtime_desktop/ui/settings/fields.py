"""One editor per setting: the input widget for a :class:`FieldSpec`, its label, help text and
inline error.

An editor knows how to show a value and read back the *candidate* value the user typed, in the
JSON shape of :meth:`Settings.value_at` — or, when the text is not a value at all ("abc" in a
number field), the raw text, so the settings model reports the problem in its own words. The
dialog validates every candidate together with :meth:`Settings.with_values` and hands each
editor the messages at its path (:meth:`FieldEditor.show_errors`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from realtime_desktop.audio.backends import DeviceInfo
from realtime_desktop.storage.settings import FieldSpec
from realtime_desktop.ui.settings.labels import StatusLabel, Tone

# Placeholders say what an empty field means, or show the expected shape.
PLACEHOLDERS: Mapping[str, str] = {
    "connection.custom_url": "wss://realtime.example.com/v1/realtime",
    "connection.azure_resource": "my-resource",
    "connection.azure_deployment": "gpt-realtime",
    "connection.ephemeral_key_url": "https://example.com/realtime/session  (optional)",
    "voice.max_output_tokens": "No limit",
    "turn_detection.idle_timeout_ms": "Off",
    "transcription.language": "Detect automatically",
    "transcription.prompt": "Names, jargon or context that help the transcriber (optional)",
    "privacy.conversations_dir": "The app's data folder",
}


SECONDARY = "secondary"
"""Property of buttons that work on the field beside them (Add, Remove, Choose…): reached with
Tab from that field's own Alt+letter, they leave the letters to the fields (a page has more
controls than the alphabet has letters)."""


def secondary_button(text: str, accessible_name: str) -> QPushButton:
    button = QPushButton(text)
    button.setAccessibleName(accessible_name)
    button.setProperty(SECONDARY, True)
    return button


def number_text(value: Any) -> str:
    """How a number is shown in a field: no trailing ``.0``, no float noise."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def parse_number(text: str, kind: str) -> Any:
    """The number in ``text``, or ``text`` itself when it is none (the model says why).
    A decimal comma is accepted, as people in many locales type it."""
    text = text.strip().replace(",", ".")
    if kind == "optional_int" and not text:
        return None
    try:
        if kind in ("int", "optional_int"):
            return int(text)
        number = float(text)
    except ValueError:
        return text
    return number


def step_for(spec: FieldSpec) -> float:
    """One Up/Down key press: about a hundredth of the range, rounded to a power of ten."""
    if spec.minimum is None or spec.maximum is None:
        return 1.0
    span = spec.maximum - spec.minimum
    step = 10.0 ** math.floor(math.log10(span / 100)) if span > 0 else 1.0
    return max(step, 1.0) if spec.kind in ("int", "optional_int") else step


class FieldEditor(QObject):
    """The widgets of one setting.

    Attributes:
        spec: the field it edits.
        label: the form label (with a mnemonic and the input as buddy), None when the input
            carries its own text (a check box).
        field: what goes into the form's field column: the input row, help text and error.
        input: the widget that takes focus (and carries the accessible name).

    Signals:
        changed: the user (or :meth:`set_value`) changed the value.
    """

    changed = Signal()

    def __init__(
        self,
        spec: FieldSpec,
        input_widget: QWidget,
        *,
        own_label: bool = False,
        label_text: str | None = None,
    ) -> None:
        super().__init__(input_widget)
        self.spec = spec
        self.input = input_widget
        self.input.setAccessibleName(spec.title)
        if spec.description:
            self.input.setAccessibleDescription(spec.description)
            self.input.setToolTip(spec.description)
        self.label: QLabel | None = None if own_label else QLabel(label_text or spec.title)
        if self.label is not None:
            self.label.setBuddy(self.input)
        self.field = QWidget()
        self.field.setObjectName(f"field:{spec.path}")
        self.column = column = QVBoxLayout(self.field)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        self.input_row = QHBoxLayout()
        self.input_row.setSpacing(6)
        self.input_row.addWidget(self.input, 1)
        column.addLayout(self.input_row)
        self.help_label = StatusLabel(self.help_text(), Tone.MUTED)
        self.help_label.setVisible(bool(self.help_label.text()))
        column.addWidget(self.help_label)
        self.error_label = StatusLabel("", Tone.ERROR)
        self.error_label.setObjectName(f"error:{spec.path}")
        self.error_label.setAccessibleName(f"{spec.title}: problem")
        self.error_label.setVisible(False)
        column.addWidget(self.error_label)
        self._message = ""

    # Reading and writing -------------------------------------------------------------------

    def value(self) -> Any:
        """The candidate value (JSON-shaped), or raw text the model will refuse with a
        message."""
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def local_error(self) -> str | None:
        """A problem the settings model cannot see because :meth:`value` cannot carry it (two
        rows with the same name in a table collapse into one mapping key)."""
        return None

    # Presentation ----------------------------------------------------------------------------

    def help_text(self) -> str:
        return self.spec.description

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Shows the messages at this field's path (empty: none). Tables override this to
        mark the offending cell."""
        message = self.local_error() or next(iter(errors.values()), "")
        self._message = message
        self.error_label.show_message(message)
        description = self.spec.description
        self.input.setAccessibleDescription(f"{message} {description}".strip())

    @property
    def error(self) -> str:
        """The message shown next to the field (empty: none)."""
        return self._message

    def set_enabled(self, enabled: bool) -> None:
        self.field.setEnabled(enabled)
        if self.label is not None:
            self.label.setEnabled(enabled)

    def add_unit(self, text: str) -> QLabel:
        unit = QLabel(text)
        self.input_row.addWidget(unit)
        return unit


class BoolEditor(FieldEditor):
    def __init__(self, spec: FieldSpec) -> None:
        self.check = QCheckBox(spec.title)
        super().__init__(spec, self.check, own_label=True)
        self.check.toggled.connect(self.changed)

    def value(self) -> bool:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self.check.setChecked(bool(value))


class NumberLineEdit(QLineEdit):
    """A number typed as text (so the settings model can explain a wrong one) that Up and
    Down step like a spin box; Page Up/Down take ten steps."""

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self._spec = spec
        self._step = step_for(spec)
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        steps = {
            Qt.Key.Key_Up: 1,
            Qt.Key.Key_Down: -1,
            Qt.Key.Key_PageUp: 10,
            Qt.Key.Key_PageDown: -10,
        }.get(Qt.Key(event.key()))
        if steps is None:
            super().keyPressEvent(event)
            return
        self.step_by(steps)
        event.accept()

    def step_by(self, steps: int) -> None:
        current = parse_number(self.text(), "float")
        if not isinstance(current, float):
            current = self._spec.minimum if self._spec.minimum is not None else 0.0
        value = current + steps * self._step
        if self._spec.minimum is not None:
            value = max(self._spec.minimum, value)
        if self._spec.maximum is not None:
            value = min(self._spec.maximum, value)
        # Round to the step so repeated presses do not accumulate float noise (0.30000000004).
        decimals = max(0, -math.floor(math.log10(self._step)))
        rounded = round(value, decimals)
        self.setText(number_text(int(rounded) if self._spec.kind != "float" else rounded))


class NumberEditor(FieldEditor):
    def __init__(self, spec: FieldSpec) -> None:
        self.edit = NumberLineEdit(spec)
        super().__init__(spec, self.edit)
        self.edit.setPlaceholderText(PLACEHOLDERS.get(spec.path, ""))
        self.edit.setMaximumWidth(self.edit.fontMetrics().horizontalAdvance("0" * 12) + 16)
        self.input_row.setStretch(0, 0)
        self.add_unit(range_text(spec))
        self.input_row.addStretch(1)
        self.edit.textChanged.connect(self.changed)

    def value(self) -> Any:
        return parse_number(self.edit.text(), self.spec.kind)

    def set_value(self, value: Any) -> None:
        self.edit.setText(number_text(value))


def range_text(spec: FieldSpec) -> str:
    """``ms  (50 – 10000)``: the unit and the allowed range, next to the number."""
    unit = spec.unit
    if spec.minimum is None or spec.maximum is None:
        return unit
    span = f"{number_text(spec.minimum)} – {number_text(spec.maximum)}"
    return f"{unit}  ({span})" if unit else f"({span})"


class TextEditor(FieldEditor):
    def __init__(self, spec: FieldSpec) -> None:
        self.edit = QLineEdit()
        super().__init__(spec, self.edit)
        self.edit.setPlaceholderText(PLACEHOLDERS.get(spec.path, ""))
        self.edit.textChanged.connect(self.changed)

    def value(self) -> str:
        return self.edit.text()

    def set_value(self, value: Any) -> None:
        self.edit.setText(str(value))


class ChoiceEditor(FieldEditor):
    def __init__(self, spec: FieldSpec) -> None:
        self.combo = QComboBox()
        super().__init__(spec, self.combo)
        for choice in spec.choices:
            self.combo.addItem(spec.labels.get(choice, choice), choice)
        self.combo.currentIndexChanged.connect(self.changed)
        self.input_row.setStretch(0, 0)
        self.input_row.addStretch(1)

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        if index < 0:
            raise ValueError(f"{value!r} is not a choice of {self.spec.path}")
        self.combo.setCurrentIndex(index)


class SuggestionEditor(FieldEditor):
    """Free text with a list of suggestions (voices, models): an editable combo box."""

    def __init__(self, spec: FieldSpec, suggestions: Sequence[str] = ()) -> None:
        self.combo = QComboBox()
        self.combo.setEditable(True)
        # Enter must not add what was typed to the list: the list is the suggestions.
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        super().__init__(spec, self.combo)
        line_edit = self.combo.lineEdit()
        assert line_edit is not None  # an editable combo box always has one
        line_edit.setAccessibleName(spec.title)
        self.set_suggestions(suggestions or spec.suggestions)
        self.combo.currentTextChanged.connect(self.changed)

    def set_suggestions(self, suggestions: Sequence[str]) -> None:
        """Replaces the list, keeping what is typed."""
        text = self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(list(suggestions))
        self.combo.setEditText(text)
        self.combo.blockSignals(False)

    def suggestions(self) -> list[str]:
        return [self.combo.itemText(index) for index in range(self.combo.count())]

    def value(self) -> str:
        return self.combo.currentText()

    def set_value(self, value: Any) -> None:
        self.combo.setEditText(str(value))


class MultilineEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, *, lines: int = 5) -> None:
        self.edit = QPlainTextEdit()
        # Tab moves to the next control, as everywhere else in the dialog (keyboard users
        # would otherwise be trapped in the text).
        self.edit.setTabChangesFocus(True)
        self.edit.setPlaceholderText(PLACEHOLDERS.get(spec.path, ""))
        line = self.edit.fontMetrics().lineSpacing()
        self.edit.setMinimumHeight(line * lines + 12)
        self.edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        super().__init__(spec, self.edit)
        self.edit.textChanged.connect(self.changed)

    def value(self) -> str:
        return self.edit.toPlainText()

    def set_value(self, value: Any) -> None:
        self.edit.setPlainText(str(value))


class FolderEditor(FieldEditor):
    """A folder path typed or chosen with the platform's folder dialog (opened without
    blocking: the dialog's result arrives as a signal)."""

    def __init__(self, spec: FieldSpec) -> None:
        self.edit = QLineEdit()
        super().__init__(spec, self.edit)
        self.edit.setPlaceholderText(PLACEHOLDERS.get(spec.path, ""))
        self.choose_button = secondary_button("Choose…", f"Choose the {spec.title.lower()}")
        self.input_row.addWidget(self.choose_button)
        self.choose_button.clicked.connect(self._choose)
        self.edit.textChanged.connect(self.changed)
        self._chooser: QFileDialog | None = None

    def value(self) -> str:
        return self.edit.text()

    def set_value(self, value: Any) -> None:
        self.edit.setText(str(value))

    def _choose(self) -> None:
        chooser = QFileDialog(self.field.window(), f"Choose the {self.spec.title.lower()}")
        chooser.setFileMode(QFileDialog.FileMode.Directory)
        chooser.setOption(QFileDialog.Option.ShowDirsOnly, True)
        if self.edit.text().strip():
            chooser.setDirectory(self.edit.text().strip())
        chooser.fileSelected.connect(self.edit.setText)
        chooser.finished.connect(chooser.deleteLater)
        self._chooser = chooser
        chooser.open()


SYSTEM_DEFAULT_DEVICE = "System default"


class DeviceEditor(FieldEditor):
    """A microphone or speaker by name; empty is the system default. The list is refreshed
    from outside (:meth:`set_devices`) without losing the selection: a device that is not
    connected right now stays selected, marked as such."""

    def __init__(self, spec: FieldSpec, *, direction: str) -> None:
        self.combo = QComboBox()
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(24)
        super().__init__(spec, self.combo)
        self.direction = direction
        self._names: list[str] = []
        self._default_name = ""
        self._fill("")
        self.combo.currentIndexChanged.connect(self.changed)

    def help_text(self) -> str:
        return ""  # the list says it all; the setting's "empty means default" is its storage

    def set_devices(self, devices: Sequence[DeviceInfo]) -> bool:
        """Updates the list from a scan; returns True if it changed."""
        names: list[str] = []
        default_name = ""
        for device in devices:
            is_input = self.direction == "input"
            channels = device.max_input_channels if is_input else device.max_output_channels
            if channels > 0 and device.name not in names:
                names.append(device.name)
            if device.is_default_input if is_input else device.is_default_output:
                default_name = device.name
        if names == self._names and default_name == self._default_name:
            return False
        self._names, self._default_name = names, default_name
        self._fill(self.value())
        return True

    def device_names(self) -> list[str]:
        return list(self._names)

    def value(self) -> str:
        data = self.combo.currentData()
        return data if isinstance(data, str) else ""

    def set_value(self, value: Any) -> None:
        self._fill(str(value))
        self.changed.emit()

    def _fill(self, selected: str) -> None:
        # Rebuilding the items must not look like a user choice (no changed signal); the
        # selection is put back exactly as it was.
        self.combo.blockSignals(True)
        self.combo.clear()
        default = f" ({self._default_name})" if self._default_name else ""
        self.combo.addItem(f"{SYSTEM_DEFAULT_DEVICE}{default}", "")
        for name in self._names:
            self.combo.addItem(name, name)
        if selected and selected not in self._names:
            self.combo.addItem(f"{selected} (not connected)", selected)
        self.combo.setCurrentIndex(max(0, self.combo.findData(selected)))
        self.combo.blockSignals(False)


class StringListEditor(FieldEditor):
    """An ordered list of names (the model list): edit in place (F2 or double-click), add,
    remove. Empty rows are left out of the value."""

    def __init__(self, spec: FieldSpec) -> None:
        self.list = QListWidget()
        self.list.setMaximumHeight(self.list.fontMetrics().lineSpacing() * 6 + 12)
        super().__init__(spec, self.list)
        buttons = QVBoxLayout()
        self.add_button = secondary_button("Add", f"Add to the {spec.title.lower()}")
        self.remove_button = secondary_button("Remove", f"Remove from the {spec.title.lower()}")
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        self.input_row.addLayout(buttons)
        self.add_button.clicked.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.list.itemChanged.connect(self.changed)
        self.list.currentRowChanged.connect(self._update_buttons)
        self._update_buttons()

    def value(self) -> list[str]:
        texts = (self.list.item(row).text().strip() for row in range(self.list.count()))
        return [text for text in texts if text]

    def set_value(self, value: Any) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for text in value:
            self.append(str(text), edit=False)
        self.list.blockSignals(False)
        self._update_buttons()
        self.changed.emit()

    def append(self, text: str, *, edit: bool) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.list.addItem(item)
        if edit:
            self.list.setCurrentItem(item)
            self.list.editItem(item)
        return item

    def _add(self) -> None:
        self.append("", edit=True)
        self.changed.emit()

    def _remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.changed.emit()
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.list.currentRow() >= 0)


class ToolSwitchesEditor(FieldEditor):
    """``tools.disabled_tools`` as one check box per built-in tool (checked: offered to the
    model). Names in the setting that are not built-in tools (from a newer version, or a
    tool that was removed) are kept as they are."""

    def __init__(self, spec: FieldSpec, tools: Sequence[tuple[str, str]]) -> None:
        box = QWidget()
        super().__init__(spec, box, label_text="Offer these tools")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        self.checks: dict[str, QCheckBox] = {}
        for name, description in tools:
            check = QCheckBox(name)
            check.setAccessibleName(f"Offer the {name} tool")
            check.setAccessibleDescription(description)
            check.setToolTip(description)
            check.toggled.connect(self.changed)
            layout.addWidget(check)
            self.checks[name] = check
        first = next(iter(self.checks.values()), None)
        if first is not None and self.label is not None:
            self.label.setBuddy(first)
        self._unknown: list[str] = []

    def help_text(self) -> str:
        return "Unchecked tools are never offered to the model."

    def value(self) -> list[str]:
        off = [name for name, check in self.checks.items() if not check.isChecked()]
        return [*self._unknown, *off]

    def set_value(self, value: Any) -> None:
        disabled = [str(name) for name in value]
        self._unknown = [name for name in disabled if name not in self.checks]
        for name, check in self.checks.items():
            check.setChecked(name not in disabled)
