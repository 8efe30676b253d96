"""The transcript: chat bubbles for messages and cards for tool calls, painted by a delegate.

The view is a ``QTreeView`` used as a list: with rows of varying height, a ``QListView``
re-measures every row when one changes (a streaming delta on a 1 000-item transcript cost 16 ms
per delta, measured), while a tree view re-measures only the changed row. Text is laid out with
``QTextLayout`` once per (row revision, width) and cached, so painting and measuring a row that
did not change costs a dictionary lookup.

An interrupted answer shows "interrupted at 3.2 s" with the part the listener never heard greyed
out; a user turn whose transcription failed says so; tool cards carry Approve / Deny while the
call waits for approval and Cancel while it runs, hit-tested in ``editorEvent`` — and, because
painted buttons are invisible to assistive technology, the same actions are in the row's context
menu and on the main window's notice bar.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetricsF,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

from realtime_desktop.core.conversation import ConversationItem, ItemKind, TranscriptionStatus
from realtime_desktop.core.tools import ToolRun, ToolRunStatus
from realtime_desktop.ui.models.transcript_model import (
    ITEM_ROLE,
    REVISION_ROLE,
    TOOL_RUN_ROLE,
    speaker,
)

ModelIndex = QModelIndex | QPersistentModelIndex

MARGIN = 8.0
PADDING = 10.0
GAP = 4.0
RADIUS = 10.0
BUBBLE_WIDTH_FRACTION = 0.78
BUTTON_HEIGHT = 24.0
BUTTON_GAP = 8.0
ARGUMENT_LINES = 3
# Laid-out cards kept, one per item (a few screens' worth; off-screen rows are rebuilt on demand).
_CACHE_SIZE = 300

_TOOL_STATUS_TEXT = {
    ToolRunStatus.AWAITING_APPROVAL: "Waiting for your approval",
    ToolRunStatus.RUNNING: "Running",
    ToolRunStatus.SUCCEEDED: "Done",
    ToolRunStatus.FAILED: "Failed",
    ToolRunStatus.TIMED_OUT: "Timed out",
    ToolRunStatus.CANCELLED: "Cancelled",
    ToolRunStatus.REJECTED: "Denied",
}


@dataclass(frozen=True)
class _Block:
    """A laid-out piece of text: draw ``layout`` at an offset; it is ``width`` × ``height``."""

    layout: QTextLayout
    width: float
    height: float


@dataclass(frozen=True)
class _Card:
    """Everything a row needs to paint, for one width."""

    header: str
    body: _Block | None
    footer: str
    buttons: tuple[str, ...]
    width: float
    height: float
    outgoing: bool
    is_tool: bool
    is_system: bool


def lay_out(
    text: str, font: QFont, width: float, grey_from: int | None = None, grey: QColor | None = None
) -> _Block:
    """Wraps ``text`` at ``width``; characters from ``grey_from`` on are drawn in ``grey``."""
    # QTextLayout lays out one paragraph: a line break must be the Unicode line separator
    # (same length as "\n", so ``grey_from`` stays valid).
    layout = QTextLayout(text.replace("\n", "\u2028"), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    if grey_from is not None and grey is not None and grey_from < len(text):
        tail = QTextLayout.FormatRange()
        tail.start = grey_from
        tail.length = len(text) - grey_from
        char_format = QTextCharFormat()
        char_format.setForeground(grey)
        tail.format = char_format
        layout.setFormats([tail])
    layout.beginLayout()
    y = 0.0
    natural = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0.0, y))
        y += line.height()
        natural = max(natural, line.naturalTextWidth())
    layout.endLayout()
    return _Block(layout, min(width, natural), y)


def message_text(item: ConversationItem) -> tuple[str, int | None, str]:
    """The bubble's text, where its unheard tail starts (if interrupted), and its footer."""
    if item.role == "assistant" and item.interrupted and item.truncated_at_ms is not None:
        heard = item.heard_transcript
        full = item.transcript or item.text
        footer = f"Interrupted at {item.truncated_at_ms / 1000:.1f} s"
        return full, (len(heard) if full.startswith(heard) else None), footer
    text = item.display_text
    footer = ""
    if item.role == "user" and item.has_audio:
        if item.transcription is TranscriptionStatus.FAILED:
            footer = f"Transcription failed: {item.transcription_error or 'no reason given'}"
        elif item.transcription in (TranscriptionStatus.PENDING, TranscriptionStatus.STREAMING):
            footer = "Transcribing…"
        if not text:
            text = "(spoken)"
    if item.role == "assistant" and item.status.value == "in_progress":
        text = (text + " ▍") if text else "▍"
    return text, None, footer


def tool_header(item: ConversationItem, run: ToolRun | None, now: float | None = None) -> str:
    name = item.name or "tool"
    if run is None:
        state = "Preparing" if item.status.value == "in_progress" else "Done"
        return f"Tool · {name} · {state}"
    status = _TOOL_STATUS_TEXT[run.status]
    return f"Tool · {name} · {status} · {run.elapsed(now):.1f} s"


def tool_body(item: ConversationItem, run: ToolRun | None) -> str:
    arguments = (item.arguments or "").strip() or "{}"
    lines = [f"Arguments: {arguments}"]
    result = (run.output if run is not None and run.output else None) or item.output
    if run is not None and run.error_message and not run.ok:
        lines.append(f"Error: {run.error_message}")
    elif result:
        lines.append(f"Result: {result}")
    return "\n".join(lines)


def tool_buttons(run: ToolRun | None) -> tuple[str, ...]:
    if run is None:
        return ()
    if run.status is ToolRunStatus.AWAITING_APPROVAL:
        return ("Approve", "Deny")
    if run.status is ToolRunStatus.RUNNING:
        return ("Cancel",)
    return ()


class BubbleDelegate(QStyledItemDelegate):
    """Paints bubbles and tool cards; emits the tool card's button actions."""

    approve_requested = Signal(str)
    deny_requested = Signal(str)
    cancel_requested = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # item id -> (what the card was laid out for, the card): only the newest revision of a
        # row is ever drawn again, so older ones are not kept (a streaming answer has hundreds).
        self._cache: OrderedDict[str, tuple[tuple[object, ...], _Card]] = OrderedDict()

    # Layout ------------------------------------------------------------------------------------
    def _card(self, option: QStyleOptionViewItem, index: ModelIndex) -> _Card | None:
        item = index.data(ITEM_ROLE)
        if not isinstance(item, ConversationItem):
            return None
        run = index.data(TOOL_RUN_ROLE)
        width = float(option.rect.width()) if option.rect.width() > 0 else 600.0
        running = run is not None and not run.finished
        key = (
            index.data(REVISION_ROLE),
            round(width),
            option.font.key(),
            option.palette.cacheKey(),
            # a running tool's card shows a clock: never reuse it across repaints
            id(run) if running else None,
            run.status if run is not None else None,
        )
        cached = None if running else self._cache.get(item.id)
        if cached is not None and cached[0] == key:
            self._cache.move_to_end(item.id)
            return cached[1]
        card = self._build(item, run, option, width)
        if not running:
            self._cache[item.id] = (key, card)
            self._cache.move_to_end(item.id)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return card

    def _build(
        self,
        item: ConversationItem,
        run: ToolRun | None,
        option: QStyleOptionViewItem,
        width: float,
    ) -> _Card:
        font = QFont(option.font)
        is_tool = item.kind in (ItemKind.FUNCTION_CALL, ItemKind.MCP_CALL)
        is_system = item.role == "system"
        bubble_width = (width - 2 * MARGIN) * (1.0 if is_tool else BUBBLE_WIDTH_FRACTION)
        text_width = max(40.0, bubble_width - 2 * PADDING)
        grey = option.palette.color(QPalette.ColorRole.PlaceholderText)
        body: _Block | None
        if is_tool:
            header = tool_header(item, run)
            mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
            mono.setPointSizeF(font.pointSizeF() * 0.92)
            body = lay_out(tool_body(item, run), mono, text_width)
            footer = ""
            buttons = tool_buttons(run)
        else:
            text, grey_from, footer = message_text(item)
            header = speaker(item)
            body = lay_out(text, font, text_width, grey_from, grey) if text else None
            buttons = ()
        small = QFontMetricsF(_small_font(font))
        content_width = max(
            body.width if body else 0.0,
            small.horizontalAdvance(header),
            small.horizontalAdvance(footer) if footer else 0.0,
        )
        height = PADDING + small.height() + GAP + (body.height if body else 0.0)
        if footer:
            height += GAP + small.height()
        if buttons:
            height += GAP + BUTTON_HEIGHT
        height += PADDING
        card_width = bubble_width if is_tool else min(bubble_width, content_width + 2 * PADDING)
        return _Card(
            header=header,
            body=body,
            footer=footer,
            buttons=buttons,
            width=card_width,
            height=height,
            outgoing=item.role == "user",
            is_tool=is_tool,
            is_system=is_system,
        )

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        card = self._card(option, index)
        if card is None:
            return QSize(0, 0)
        return QSize(int(option.rect.width()), int(card.height + 2 * GAP + 0.999))

    def _bubble_rect(self, option: QStyleOptionViewItem, card: _Card) -> QRectF:
        rect = QRectF(option.rect)
        if card.outgoing:
            left = rect.right() - MARGIN - card.width
        elif card.is_system:
            left = rect.left() + (rect.width() - card.width) / 2
        else:
            left = rect.left() + MARGIN
        return QRectF(left, rect.top() + GAP, card.width, card.height)

    def button_rects(self, option: QStyleOptionViewItem, card: _Card) -> list[tuple[str, QRectF]]:
        bubble = self._bubble_rect(option, card)
        metrics = QFontMetricsF(option.font)
        rects = []
        x = bubble.left() + PADDING
        y = bubble.bottom() - PADDING - BUTTON_HEIGHT
        for label in card.buttons:
            width = metrics.horizontalAdvance(label) + 2 * PADDING
            rects.append((label, QRectF(x, y, width, BUTTON_HEIGHT)))
            x += width + BUTTON_GAP
        return rects

    # Painting ----------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        card = self._card(option, index)
        if card is None:
            return
        palette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        bubble = self._bubble_rect(option, card)
        fill, text_color = _colors(palette, card)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        focused = bool(option.state & QStyle.StateFlag.State_HasFocus)
        painter.setPen(
            palette.color(QPalette.ColorRole.Highlight)
            if selected or focused
            else palette.color(QPalette.ColorRole.Mid)
            if card.is_tool
            else Qt.PenStyle.NoPen
        )
        painter.setBrush(fill)
        painter.drawRoundedRect(bubble, RADIUS, RADIUS)

        small = _small_font(option.font)
        small_metrics = QFontMetricsF(small)
        x = bubble.left() + PADDING
        y = bubble.top() + PADDING
        painter.setFont(small)
        painter.setPen(_muted(text_color))
        painter.drawText(
            QRectF(x, y, bubble.width() - 2 * PADDING, small_metrics.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            small_metrics.elidedText(card.header, Qt.TextElideMode.ElideRight, bubble.width()),
        )
        y += small_metrics.height() + GAP
        if card.body is not None:
            painter.setPen(text_color)
            card.body.layout.draw(painter, QPointF(x, y))
            y += card.body.height
        if card.footer:
            y += GAP
            painter.setFont(small)
            painter.setPen(_footer_color(palette, card.footer))
            painter.drawText(
                QRectF(x, y, bubble.width() - 2 * PADDING, small_metrics.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                card.footer,
            )
        painter.setFont(option.font)
        for label, rect in self.button_rects(option, card):
            primary = label == "Approve"
            painter.setPen(palette.color(QPalette.ColorRole.Mid))
            painter.setBrush(
                palette.color(QPalette.ColorRole.Highlight)
                if primary
                else palette.color(QPalette.ColorRole.Button)
            )
            painter.drawRoundedRect(rect, 5, 5)
            painter.setPen(
                palette.color(
                    QPalette.ColorRole.HighlightedText if primary else QPalette.ColorRole.ButtonText
                )
            )
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()

    # Interaction -------------------------------------------------------------------------------
    def editorEvent(
        self,
        event: QEvent,
        model: object,
        option: QStyleOptionViewItem,
        index: ModelIndex,
    ) -> bool:
        if event.type() != QEvent.Type.MouseButtonRelease or not isinstance(event, QMouseEvent):
            return False
        card = self._card(option, index)
        item = index.data(ITEM_ROLE)
        if card is None or not card.buttons or not isinstance(item, ConversationItem):
            return False
        for label, rect in self.button_rects(option, card):
            if rect.contains(event.position()):
                self.trigger(label, item.call_id or "")
                return True
        return False

    def trigger(self, label: str, call_id: str) -> None:
        signal = {
            "Approve": self.approve_requested,
            "Deny": self.deny_requested,
            "Cancel": self.cancel_requested,
        }[label]
        signal.emit(call_id)


def _small_font(font: QFont) -> QFont:
    small = QFont(font)
    small.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
    small.setBold(True)
    return small


def _colors(palette: QPalette, card: _Card) -> tuple[QColor, QColor]:
    """Bubble fill and text colour from the palette, so light and dark themes both read."""
    base = palette.color(QPalette.ColorRole.Base)
    dark = base.lightness() < 128
    if card.outgoing:
        highlight = palette.color(QPalette.ColorRole.Highlight)
        fill = QColor(highlight)
        fill.setAlphaF(0.28 if dark else 0.16)
        return fill, palette.color(QPalette.ColorRole.Text)
    if card.is_tool:
        return palette.color(QPalette.ColorRole.AlternateBase), palette.color(
            QPalette.ColorRole.Text
        )
    if card.is_system:
        return QColor(0, 0, 0, 0), palette.color(QPalette.ColorRole.PlaceholderText)
    fill = palette.color(QPalette.ColorRole.Button)
    return (fill.lighter(115) if dark else fill.darker(103)), palette.color(QPalette.ColorRole.Text)


def _muted(color: QColor) -> QColor:
    muted = QColor(color)
    muted.setAlphaF(0.7)
    return muted


def _footer_color(palette: QPalette, footer: str) -> QColor:
    if footer.startswith("Transcription failed"):
        return QColor("#d13b3b")
    if footer.startswith("Interrupted"):
        return QColor("#b7791f")
    return palette.color(QPalette.ColorRole.PlaceholderText)


class TranscriptView(QTreeView):
    """The transcript list; keeps the newest message in view unless the user scrolled up."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Transcript")
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(0)
        self.setUniformRowHeights(False)
        self.setItemsExpandable(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrap(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.delegate = BubbleDelegate(self)
        self.setItemDelegate(self.delegate)
        self._follow = True
        self._empty_text = ""
        self.verticalScrollBar().valueChanged.connect(self._scrolled)

    def set_empty_text(self, text: str) -> None:
        """What an empty transcript says (how to start)."""
        self._empty_text = text
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0 and self._empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.viewport().rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._empty_text,
            )
            painter.end()

    def _scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 4

    def rowsInserted(self, parent: ModelIndex, start: int, end: int) -> None:
        super().rowsInserted(parent, start, end)
        if self._follow:
            self.scrollToBottom()

    def dataChanged(
        self, top_left: ModelIndex, bottom_right: ModelIndex, roles: Sequence[int] = ()
    ) -> None:
        super().dataChanged(top_left, bottom_right, roles)
        if self._follow and bottom_right.row() == self.model().rowCount() - 1:
            self.scrollToBottom()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # Rows are as tall as their wrapped text at this width: measure again.
        self.scheduleDelayedItemsLayout()

    def _context_menu(self, position: QPoint) -> None:
        index = self.indexAt(position)
        item = index.data(ITEM_ROLE)
        run = index.data(TOOL_RUN_ROLE)
        if not isinstance(item, ConversationItem):
            return
        menu = QMenu(self)
        copy = menu.addAction("Copy text")
        copy.triggered.connect(lambda: _copy(item.display_text))
        if run is not None:
            for label in tool_buttons(run):
                action = menu.addAction(f"{label} “{item.name}”")
                action.triggered.connect(
                    lambda _=False, label=label: self.delegate.trigger(label, item.call_id or "")
                )
        menu.exec(self.viewport().mapToGlobal(position))


def _copy(text: str) -> None:
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().setText(text)
