"""The settings dialog (issue 7): every setting, validated inline by the settings model itself.

Pages follow the groups of :mod:`realtime_desktop.storage.settings` — Connection, Voice &
responses, Turn detection, Audio, Transcription, Tools, Privacy & storage (which also holds the
price table). Each field gets an editor for its :class:`FieldSpec` kind; after every change the
dialog validates all candidates together (:meth:`Settings.with_values`) and shows each message
next to the field it concerns, in red; OK and Apply stay disabled while anything is wrong.

Apply and OK save typed API keys to the system keyring (never to the settings file) and emit
:attr:`SettingsDialog.applied` with the complete new :class:`Settings`; saving the file and
applying the change to a live session (``session.update``) is the app's job. "Restore Page
Defaults" resets the fields of the page on show (not the API key, which is not a setting).

Nothing here blocks the GUI thread: keyring calls, the device scan and the connection test run
as asyncio tasks on the app's qasync loop, and the dialog reacts to what they report.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QHideEvent,
    QIcon,
    QKeySequence,
    QPixmap,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from realtime_desktop.audio.backends import DeviceError, DeviceInfo
from realtime_desktop.audio.engine import Level
from realtime_desktop.core.errors import RealtimeError
from realtime_desktop.core.from_settings import BUILTIN_TOOLS, OfflineEndpoint
from realtime_desktop.core.tools import ToolRegistry
from realtime_desktop.storage.secrets import SecretStore, SecretStoreError
from realtime_desktop.storage.settings import (
    FIELDS,
    FIELDS_BY_PATH,
    FieldSpec,
    Settings,
    SettingsInvalidError,
)
from realtime_desktop.ui.settings.api_key import ApiKeyEditor
from realtime_desktop.ui.settings.background import BackgroundTasks
from realtime_desktop.ui.settings.connection_test import probe_connection
from realtime_desktop.ui.settings.fields import (
    SECONDARY,
    BoolEditor,
    ChoiceEditor,
    DeviceEditor,
    FieldEditor,
    FolderEditor,
    MultilineEditor,
    NumberEditor,
    StringListEditor,
    SuggestionEditor,
    TextEditor,
    ToolSwitchesEditor,
)
from realtime_desktop.ui.settings.labels import StatusLabel, Tone
from realtime_desktop.ui.settings.pages import (
    API_KEY,
    BUTTON_MNEMONICS,
    PAGE_OF_GROUP,
    PAGES,
    PROVIDER_SECTIONS,
    TRANSCRIPTION_MODELS,
    TURN_DETECTION_HELP,
    PageLayout,
    Section,
    assign_mnemonics,
)
from realtime_desktop.ui.settings.tables import HeadersEditor, PricesEditor
from realtime_desktop.ui.timing import DEVICE_RESCAN_INTERVAL_MS, FRAME_INTERVAL_MS
from realtime_desktop.ui.widgets.level_meter import FLOOR_DBFS, LevelMeter

log = logging.getLogger(__name__)


def open_folder_with_desktop(folder: Path) -> bool:
    """Opens ``folder`` in the platform's file manager; False if none could."""
    folder.mkdir(parents=True, exist_ok=True)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


@dataclasses.dataclass(frozen=True)
class SettingsServices:
    """What the dialog needs from the running app.

    Attributes:
        list_devices: every audio device (``SoundDeviceBackend().list_devices``); called in a
            worker thread every few seconds while the Audio page is shown. May raise
            :class:`~realtime_desktop.audio.backends.DeviceError`.
        test_connection: connects once with the edited settings and the key, returns a line
            for the user or raises :class:`RealtimeError`; :func:`probe_connection` (with the
            app's :class:`OfflineEndpoint`, see :meth:`connection_test_with`) is the standard one.
        input_level: the microphone's latest level, None when no audio engine runs.
        play_test_tone: plays a short tone on the output device (reports its own problems).
        log_dir: the folder "Open log folder" opens.
        open_folder: how a folder is opened (the desktop's file manager by default).
        default_conversations_dir: shown when no conversations folder is chosen.
    """

    list_devices: Callable[[], list[DeviceInfo]]
    test_connection: Callable[[Settings, str | None], Awaitable[str]]
    input_level: Callable[[], Level | None]
    play_test_tone: Callable[[], None]
    log_dir: Path
    open_folder: Callable[[Path], bool] = open_folder_with_desktop
    default_conversations_dir: Path | None = None

    @staticmethod
    def connection_test_with(
        offline: OfflineEndpoint | None,
    ) -> Callable[[Settings, str | None], Awaitable[str]]:
        """:func:`probe_connection` bound to the app's offline server (None if not running)."""

        async def test(settings: Settings, api_key: str | None) -> str:
            return await probe_connection(settings, api_key, offline=offline)

        return test


def _is_within(error_path: str, path: str) -> bool:
    return error_path == path or error_path.startswith((f"{path}.", f"{path}["))


def _builtin_tools() -> list[tuple[str, str]]:
    registry = ToolRegistry()
    for handler in BUILTIN_TOOLS:
        registry.register(handler)
    return [(tool.name, tool.description) for tool in registry]


class _Page:
    """One page: its scroll area, its editors in order, and what else lives on it."""

    def __init__(self, layout: PageLayout) -> None:
        self.layout = layout
        self.editors: list[FieldEditor] = []
        self.sections: dict[str, QGroupBox] = {}
        self.forms: list[QFormLayout] = []
        self.content = QWidget()
        self.column = QVBoxLayout(self.content)
        self.column.setContentsMargins(16, 12, 16, 16)
        self.column.setSpacing(12)
        heading = QLabel(layout.title)
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        heading.setFont(font)
        heading.setAccessibleName(f"{layout.title} page")
        self.column.addWidget(heading)
        self.column.addWidget(StatusLabel(layout.intro, Tone.MUTED))
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.content)

    def new_form(self, title: str, name: str = "") -> QFormLayout:
        box = QGroupBox(title)
        self.sections[name or title] = box
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(10)
        self.column.addWidget(box)
        self.forms.append(form)
        return form

    def spacer(self) -> QLabel:
        """An empty label for a row whose field has no label (aligned by :meth:`finish`)."""
        return QLabel()

    def finish(self) -> None:
        """Gives every form on the page the same label width, so fields line up across the
        group boxes."""
        labels: list[QLabel] = []
        for form in self.forms:
            for row in range(form.rowCount()):
                item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                label = item.widget() if item is not None else None
                if isinstance(label, QLabel):
                    labels.append(label)
        width = max((label.sizeHint().width() for label in labels), default=0)
        for label in labels:
            label.setMinimumWidth(width)
        self.column.addStretch(1)


class SettingsDialog(QDialog):
    """Every setting of the app, on pages, validated as you type.

    Args:
        settings: what is in effect now (the dialog starts from it).
        secrets: the keyring, for the API key field.
        services: what the dialog needs from the app (devices, connection test, levels, …).

    Signals:
        applied(Settings): Apply or OK with valid settings — the complete new settings, after
            typed API keys were saved to the keyring. The app saves the file and applies them.
        connection_tested(bool, str): a connection test ended (succeeded?, the line shown).
        devices_refreshed(): a device scan finished (the lists may be unchanged).
    """

    applied = Signal(object)
    connection_tested = Signal(bool, str)
    devices_refreshed = Signal()

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        services: SettingsServices,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setSizeGripEnabled(True)
        self._settings = settings
        self._services = services
        self._tasks = BackgroundTasks()
        self._draft: Settings | None = settings
        self._errors: dict[str, str] = {}
        self._busy_applying = False
        self._testing = False
        self._tested_connection: object = None
        self._scanning = False

        self.editors: dict[str, FieldEditor] = {}
        self.api_key = ApiKeyEditor(secrets, self._tasks, self)
        self.pages: list[_Page] = []

        self.page_list = QListWidget()
        self.page_list.setAccessibleName("Settings pages")
        self.page_list.setSpacing(2)
        self._warning_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        # Pages without a problem get an empty icon of the same size, so titles line up.
        icon_size = self.page_list.iconSize()
        if not icon_size.isValid() or icon_size.isEmpty():
            icon_size = QSize(16, 16)
        blank = QPixmap(icon_size)
        blank.fill(Qt.GlobalColor.transparent)
        self._blank_icon = QIcon(blank)
        self.page_list.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.stack = QStackedWidget()
        for layout in PAGES:
            self._build_page(layout)
        self._place_unplaced_fields()
        for page in self.pages:
            page.finish()
            self.stack.addWidget(page.scroll)
            QListWidgetItem(page.layout.title, self.page_list)
        width = max(
            self.page_list.sizeHintForColumn(0),
            self.page_list.fontMetrics().horizontalAdvance("Privacy & storage"),
        )
        self.page_list.setFixedWidth(width + 36)

        self.problem_label = StatusLabel("", Tone.ERROR)
        self.problem_label.setObjectName("problem-summary")
        self.problem_label.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.RestoreDefaults
            | QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Apply
        )
        self.ok_button = self._standard_button(QDialogButtonBox.StandardButton.Ok, "&OK")
        self.apply_button = self._standard_button(QDialogButtonBox.StandardButton.Apply, "&Apply")
        self.cancel_button = self._standard_button(QDialogButtonBox.StandardButton.Cancel, "Cancel")
        self.restore_button = self._standard_button(
            QDialogButtonBox.StandardButton.RestoreDefaults, "Restore Page &Defaults"
        )
        self.restore_button.setAccessibleDescription(
            "Sets every field of the page on show to its default value"
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self.apply)
        self.restore_button.clicked.connect(self.restore_page_defaults)

        body = QHBoxLayout()
        body.setSpacing(0)
        body.addWidget(self.page_list)
        body.addWidget(self.stack, 1)
        footer = QHBoxLayout()
        footer.setContentsMargins(12, 6, 12, 10)
        footer.addWidget(self.problem_label, 1)
        footer.addWidget(self.buttons)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addLayout(body, 1)
        separator = QFrame()
        separator.setFrameShape(QFrame.Shape.HLine)
        separator.setFrameShadow(QFrame.Shadow.Sunken)
        outer.addWidget(separator)
        outer.addLayout(footer)

        self._device_timer = QTimer(self)
        self._device_timer.setInterval(DEVICE_RESCAN_INTERVAL_MS)
        self._device_timer.timeout.connect(self.rescan_devices)
        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(FRAME_INTERVAL_MS)
        self._meter_timer.timeout.connect(self._update_meter)

        self.page_list.currentRowChanged.connect(self._page_changed)
        for shortcut, step in (
            (QKeySequence.StandardKey.NextChild, 1),
            (QKeySequence.StandardKey.PreviousChild, -1),
        ):
            page_shortcut = QShortcut(QKeySequence(shortcut), self)
            page_shortcut.activated.connect(lambda step=step: self._step_page(step))
        for editor in self.editors.values():
            editor.changed.connect(self._revalidate)
        self.api_key.changed.connect(self._revalidate)

        self._load(settings)
        self.api_key.set_provider(settings.connection.provider)
        self.page_list.setCurrentRow(0)
        self.setMinimumSize(640, 420)
        self.resize(self.sizeHint())

    # Public API ----------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings last applied (or those the dialog opened with)."""
        return self._settings

    def draft(self) -> Settings | None:
        """The settings as edited, or None while something is invalid."""
        return self._draft

    def errors(self) -> dict[str, str]:
        """Field path → the message shown next to it (``api_key`` for the key field)."""
        return dict(self._errors)

    def page_titles(self) -> list[str]:
        return [page.layout.title for page in self.pages]

    def show_page(self, title: str) -> None:
        self.page_list.setCurrentRow(self.page_titles().index(title))

    def current_page_title(self) -> str:
        return self.pages[self.stack.currentIndex()].layout.title

    def page_of(self, path: str) -> str:
        for page in self.pages:
            if any(editor.spec.path == path for editor in page.editors):
                return page.layout.title
        raise KeyError(path)

    def restore_page_defaults(self) -> None:
        """Sets the fields of the page on show to their defaults (Apply or OK keeps them)."""
        page = self.pages[self.stack.currentIndex()]
        for editor in page.editors:
            editor.set_value(editor.spec.default)
        self._revalidate()

    def apply(self) -> None:
        """Saves keys and emits :attr:`applied` (if everything is valid)."""
        if self._can_apply():
            self._tasks.start(self._apply(close=False), name="apply settings")

    def accept(self) -> None:
        """OK: applies as :meth:`apply` does, then closes."""
        if self._can_apply():
            self._tasks.start(self._apply(close=True), name="apply settings and close")

    def test_connection(self) -> None:
        draft = self._draft
        if draft is None or self._testing:
            return
        # Busy from the click on, not from when the task first runs: no second click slips in.
        self._testing = True
        self._tested_connection = draft.connection
        self._update_buttons()
        self.test_progress.setVisible(True)
        where = draft.connection.provider
        self.test_result.show_message(f"Connecting to {where}…", Tone.MUTED)
        self._tasks.start(self._test_connection(draft), name="test connection")

    def rescan_devices(self) -> None:
        if not self._scanning:
            self._scanning = True
            self._tasks.start(self._scan_devices(), name="scan audio devices")

    @property
    def device_rescans_active(self) -> bool:
        """True while the device list is rescanned (the Audio page is on screen)."""
        return self._device_timer.isActive()

    async def idle(self) -> None:
        """Waits for the dialog's background work (keyring, scans, tests) to finish."""
        await self._tasks.idle()

    # Qt overrides --------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(900, 660)

    def done(self, result: int) -> None:
        self._device_timer.stop()
        self._meter_timer.stop()
        self._tasks.cancel_all()
        super().done(result)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._update_timers()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._update_timers()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._tasks.cancel_all()
        super().closeEvent(event)

    # Building ------------------------------------------------------------------------------------

    def _standard_button(self, which: QDialogButtonBox.StandardButton, text: str) -> QPushButton:
        button = self.buttons.button(which)
        assert button is not None  # added in the constructor
        button.setText(text)
        button.setAccessibleName(text.replace("&", ""))
        return button

    def _build_page(self, layout: PageLayout) -> None:
        page = _Page(layout)
        self.pages.append(page)
        for section in layout.sections:
            form = page.new_form(section.title, section.name)
            for path in section.paths:
                if path == API_KEY:
                    form.addRow(self.api_key.label, self.api_key.field)
                    continue
                editor = self._make_editor(FIELDS_BY_PATH[path])
                self._add_editor(page, form, editor)
            self._add_section_extras(page, form, section)
        self._mark_mnemonics(page)

    def _place_unplaced_fields(self) -> None:
        """A field no page lists (added to the model later) still gets an editor, on its
        group's page under "More", so it can be set; the tests flag it for placement."""
        placed = set(self.editors)
        missing = [spec for spec in FIELDS if spec.path not in placed]
        for spec in missing:
            page = next(p for p in self.pages if p.layout.title == PAGE_OF_GROUP.get(spec.group))
            form = page.new_form("More")
            self._add_editor(page, form, self._make_editor(spec))
            self._mark_mnemonics(page)

    def unplaced_fields(self) -> list[str]:
        listed = {path for layout in PAGES for section in layout.sections for path in section.paths}
        return [spec.path for spec in FIELDS if spec.path not in listed]

    def _add_editor(self, page: _Page, form: QFormLayout, editor: FieldEditor) -> None:
        self.editors[editor.spec.path] = editor
        page.editors.append(editor)
        if editor.label is not None:
            form.addRow(editor.label, editor.field)
        elif isinstance(editor, BoolEditor):
            form.addRow(page.spacer(), editor.field)  # check boxes line up with the fields
        else:
            form.addRow(editor.field)  # a table takes the whole width

    def _make_editor(self, spec: FieldSpec) -> FieldEditor:
        path, kind = spec.path, spec.kind
        if path in ("audio.input_device", "audio.output_device"):
            return DeviceEditor(
                spec, direction="input" if path == "audio.input_device" else "output"
            )
        if path == "tools.disabled_tools":
            return ToolSwitchesEditor(spec, _builtin_tools())
        if path == "connection.model":
            return SuggestionEditor(spec)  # its list is the model list, set as that changes
        if path == "transcription.model":
            return SuggestionEditor(spec, TRANSCRIPTION_MODELS)
        if path == "voice.instructions":
            return MultilineEditor(spec, lines=6)
        factories: Mapping[str, Callable[[FieldSpec], FieldEditor]] = {
            "bool": BoolEditor,
            "int": NumberEditor,
            "optional_int": NumberEditor,
            "float": NumberEditor,
            "choice": ChoiceEditor,
            "multiline": MultilineEditor,
            "folder": FolderEditor,
            "list": StringListEditor,
            "mapping": HeadersEditor,
            "prices": PricesEditor,
            "text": lambda s: SuggestionEditor(s) if s.suggestions else TextEditor(s),
        }
        return factories[kind](spec)

    def _add_section_extras(self, page: _Page, form: QFormLayout, section: Section) -> None:
        if section.name == "service":
            self._add_connection_test(page, form)
        elif section.title == "Devices":
            self._add_audio_check(form)
        elif section.title == "Logs":
            self._add_log_folder(form)

    def _add_connection_test(self, page: _Page, form: QFormLayout) -> None:
        self.test_button = QPushButton("Test connection")
        self.test_button.setAccessibleDescription(
            "Connects once with these settings and the key, then disconnects"
        )
        self.test_progress = QProgressBar()
        self.test_progress.setRange(0, 0)  # busy: no way to know how far a handshake is
        self.test_progress.setMaximumWidth(120)
        self.test_progress.setTextVisible(False)
        self.test_progress.setAccessibleName("Testing the connection")
        self.test_progress.setVisible(False)
        self.test_result = StatusLabel("", Tone.MUTED)
        self.test_result.setObjectName("connection-test-result")
        self.test_result.setAccessibleName("Connection test result")
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_result.setVisible(False)
        form.addRow(
            page.spacer(), _stacked(_row(self.test_button, self.test_progress), self.test_result)
        )
        self.test_button.clicked.connect(self.test_connection)

    def _add_audio_check(self, form: QFormLayout) -> None:
        self.meter = LevelMeter("Microphone level")
        self.meter.setMinimumWidth(200)
        self.meter_status = StatusLabel("", Tone.MUTED)
        self.tone_button = QPushButton("Play test tone")
        self.tone_button.setAccessibleDescription("Plays a short tone on the speaker")
        self.device_status = StatusLabel("", Tone.ERROR)
        self.device_status.setVisible(False)
        meter_field = QWidget()
        column = QVBoxLayout(meter_field)
        column.setContentsMargins(0, 4, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.meter)
        column.addWidget(self.meter_status)
        self.meter_label = QLabel("Microphone level")
        form.addRow(self.meter_label, meter_field)
        # The device problem shares the row of the tone button: a hidden row of its own
        # would still take the form's spacing.
        page = self.pages[-1]
        form.addRow(page.spacer(), _stacked(_row(self.tone_button), self.device_status))
        self.tone_button.clicked.connect(self._services.play_test_tone)

    def _add_log_folder(self, form: QFormLayout) -> None:
        self.log_folder_button = QPushButton("Open log folder")
        self.log_folder_button.setAccessibleDescription(str(self._services.log_dir))
        self.log_folder_label = StatusLabel(str(self._services.log_dir), Tone.MUTED)
        self.log_folder_label.setAccessibleName("Log folder")
        self.log_folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addWidget(self.log_folder_button)
        row.addWidget(self.log_folder_label, 1)
        form.addRow(self.pages[-1].spacer(), row)
        self.log_folder_button.clicked.connect(self._open_log_folder)
        default_folder = self._services.default_conversations_dir
        folder_editor = self.editors.get("privacy.conversations_dir")
        if default_folder is not None and isinstance(folder_editor, FolderEditor):
            folder_editor.edit.setPlaceholderText(str(default_folder))

    def _mark_mnemonics(self, page: _Page) -> None:
        """Gives every label, check box and button on the page an Alt+letter of its own. The
        sections of one provider are never shown together with another's, so they may reuse
        each other's letters (a page has more controls than the alphabet has letters)."""
        exclusive = [box for name, box in page.sections.items() if name in PROVIDER_SECTIONS]
        targets: list[QLabel | QAbstractButton] = []
        for widget in page.content.findChildren(QWidget):
            if isinstance(widget, QLabel) and widget.buddy() is not None:
                targets.append(widget)
            if isinstance(widget, QCheckBox | QPushButton) and not widget.property(SECONDARY):
                targets.append(widget)
        common = [t for t in targets if not any(box.isAncestorOf(t) for box in exclusive)]
        taken = set(BUTTON_MNEMONICS) | self._assign(common, BUTTON_MNEMONICS)
        for box in exclusive:
            self._assign([t for t in targets if box.isAncestorOf(t)], taken)

    @staticmethod
    def _assign(targets: Sequence[QLabel | QAbstractButton], taken: Iterable[str]) -> set[str]:
        texts = [target.text().replace("&", "") for target in targets]
        letters: set[str] = set()
        for target, text in zip(targets, assign_mnemonics(texts, taken), strict=True):
            target.setText(text)
            if "&" in text:
                letters.add(text[text.index("&") + 1].lower())
        return letters

    # State ---------------------------------------------------------------------------------------

    def _load(self, settings: Settings) -> None:
        for path, editor in self.editors.items():
            editor.blockSignals(True)
            editor.set_value(settings.value_at(path))
            editor.blockSignals(False)
        self._revalidate()

    def _values(self) -> dict[str, Any]:
        return {path: editor.value() for path, editor in self.editors.items()}

    def _revalidate(self) -> None:
        values = self._values()
        try:
            draft: Settings | None = self._settings.with_values(values)
            errors: dict[str, str] = {}
        except SettingsInvalidError as exc:
            draft, errors = None, dict(exc.errors)
        shown: dict[str, str] = {}
        for path, editor in self.editors.items():
            mine = {where: message for where, message in errors.items() if _is_within(where, path)}
            editor.show_errors(mine)
            if editor.error:
                shown[path] = editor.error
        self.api_key.set_provider(str(values["connection.provider"]))
        key_error = self.api_key.error()
        self.api_key.show_error(key_error)
        if key_error:
            shown[API_KEY] = key_error
        for where, message in errors.items():
            if not any(where == path or _is_within(where, path) for path in self.editors):
                shown[where] = message  # not at any field (a rule about the whole file)
        self._errors = shown
        self._draft = draft if not shown else None
        if not self._testing and (draft is None or draft.connection != self._tested_connection):
            self.test_result.show_message("")  # the result was about other settings
        self._update_dependent_fields(values)
        self._update_buttons()
        self._update_problem_summary()

    def _update_dependent_fields(self, values: Mapping[str, Any]) -> None:
        """Enables the fields that matter for the choices made (provider, turn detection
        mode, …). A field showing a problem stays enabled (and its section shown), or the
        user could not fix it."""

        def enable(paths: Iterable[str], condition: bool) -> None:
            for path in paths:
                editor = self.editors[path]
                editor.set_enabled(condition or bool(editor.error))

        provider = values["connection.provider"]
        sections = self.pages[0].sections
        for section in PAGES[0].sections:
            if section.name in PROVIDER_SECTIONS:
                troubled = any(self.editors[path].error for path in section.paths)
                sections[section.name].setVisible(provider == section.name or troubled)
        enable(["connection.model"], provider != "azure")
        enable(["connection.ephemeral_key_url"], provider != "offline")
        model_editor = self.editors["connection.model"]
        if isinstance(model_editor, SuggestionEditor):
            models = values["connection.models"]
            if model_editor.suggestions() != list(models):
                model_editor.set_suggestions(models)
        enable(
            ["connection.max_reconnect_attempts", "connection.reconnect_delay_s"],
            bool(values["connection.auto_reconnect"]),
        )

        mode = values["turn_detection.mode"]
        server, semantic = mode == "server_vad", mode == "semantic_vad"
        enable(PAGES[2].sections[1].paths, server)
        enable(PAGES[2].sections[2].paths, semantic)
        enable(PAGES[2].sections[3].paths, server or semantic)
        self.editors["turn_detection.mode"].help_label.show_message(
            TURN_DETECTION_HELP.get(str(mode), "")
        )

        enable(
            ["transcription.model", "transcription.language", "transcription.prompt"],
            bool(values["transcription.enabled"]),
        )
        enable(["tools.disabled_tools"], bool(values["tools.builtins_enabled"]))
        enable(["privacy.conversations_dir"], bool(values["privacy.save_conversations"]))

    def _can_apply(self) -> bool:
        return self._draft is not None and not self._busy_applying

    def _update_buttons(self) -> None:
        valid = self._draft is not None
        dirty = valid and (self._draft != self._settings or self.api_key.has_pending_changes())
        self.ok_button.setEnabled(valid and not self._busy_applying)
        self.apply_button.setEnabled(bool(dirty) and not self._busy_applying)
        self.test_button.setEnabled(valid and not self._testing)

    def _update_problem_summary(self) -> None:
        pages_with_problems: set[str] = set()
        fields: list[str] = []
        details: list[str] = []
        for path, message in self._errors.items():
            title, field = self._locate(path)
            pages_with_problems.add(title)
            fields.append(f"{field} ({title})")
            details.append(f"{title} › {field}: {message}")
        for row, page in enumerate(self.pages):
            item = self.page_list.item(row)
            has_problem = page.layout.title in pages_with_problems
            item.setIcon(self._warning_icon if has_problem else self._blank_icon)
            item.setToolTip("Something on this page needs fixing" if has_problem else "")
        if not fields:
            self.problem_label.show_message("")
            self.problem_label.setToolTip("")
            return
        self.problem_label.show_message(f"Fix before applying: {', '.join(fields)}.")
        self.problem_label.setToolTip("\n".join(details))

    def _locate(self, path: str) -> tuple[str, str]:
        if path == API_KEY:
            return "Connection", "API key"
        for page in self.pages:
            for editor in page.editors:
                if _is_within(path, editor.spec.path):
                    return page.layout.title, editor.spec.title
        return "Settings", path

    # Pages and timers ----------------------------------------------------------------------------

    def _page_changed(self, row: int) -> None:
        if 0 <= row < self.stack.count():
            self.stack.setCurrentIndex(row)
        self._update_timers()

    def _step_page(self, step: int) -> None:
        count = self.page_list.count()
        self.page_list.setCurrentRow((self.page_list.currentRow() + step) % count)

    def _update_timers(self) -> None:
        """Device scans and the meter run only while the Audio page is on screen."""
        audio_shown = self.isVisible() and self.current_page_title() == "Audio"
        if audio_shown and not self._device_timer.isActive():
            self._device_timer.start()
            self._meter_timer.start()
            self.rescan_devices()
        elif not audio_shown and self._device_timer.isActive():
            self._device_timer.stop()
            self._meter_timer.stop()

    def _update_meter(self) -> None:
        level = self._services.input_level()
        if level is None:
            self.meter.set_level(FLOOR_DBFS, FLOOR_DBFS)
            self.meter_status.show_message("The level shows while a conversation is running.")
        else:
            self.meter.set_level(level.rms_dbfs, level.peak_dbfs)
            self.meter_status.show_message("")

    def _open_log_folder(self) -> None:
        folder = self._services.log_dir
        try:
            opened = self._services.open_folder(folder)
        except OSError as exc:
            self.log_folder_label.show_message(
                f"Could not open {folder}: {exc.strerror}", Tone.ERROR
            )
            return
        if not opened:
            self.log_folder_label.show_message(
                f"No file manager could open {folder}; the logs are there.", Tone.ERROR
            )

    # Background work -----------------------------------------------------------------------------

    async def _apply(self, *, close: bool) -> None:
        draft = self._draft
        assert draft is not None  # _can_apply() checked it
        self._busy_applying = True
        self._update_buttons()
        try:
            await self.api_key.apply()
        except SecretStoreError as exc:
            self.api_key.show_error(str(exc))
            return
        finally:
            self._busy_applying = False
            self._update_buttons()
        log.info("settings applied (%d field(s) changed)", len(draft.changed_paths(self._settings)))
        self._settings = draft
        self.applied.emit(draft)
        self._revalidate()
        if close:
            super().accept()

    async def _test_connection(self, draft: Settings) -> None:
        try:
            if draft.connection.provider != "offline":
                await self.api_key.resolved(draft.connection.provider)
            key = self.api_key.key_for_connection()
            message = await self._services.test_connection(draft, key)
        except RealtimeError as exc:
            ok, message = False, exc.user_message
        else:
            ok = True
        finally:
            self._testing = False
            self.test_progress.setVisible(False)
            self._update_buttons()
        self.test_result.show_message(message, Tone.SUCCESS if ok else Tone.ERROR)
        self.connection_tested.emit(ok, message)

    async def _scan_devices(self) -> None:
        try:
            devices = await asyncio.to_thread(self._services.list_devices)
        except DeviceError as exc:
            self.device_status.show_message(f"Could not list the audio devices: {exc}")
            return
        finally:
            self._scanning = False
        self.device_status.show_message("")
        for path in ("audio.input_device", "audio.output_device"):
            editor = self.editors[path]
            if isinstance(editor, DeviceEditor):
                editor.set_devices(devices)
        self.devices_refreshed.emit()


def _row(*widgets: QWidget) -> QWidget:
    """Widgets side by side, left-aligned."""
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    layout.addStretch(1)
    return holder


def _stacked(*widgets: QWidget) -> QWidget:
    """Widgets one above the other; a hidden one takes no space."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    for widget in widgets:
        layout.addWidget(widget)
    return holder
