"""Tokens → money: an editable :class:`PriceTable` and the :class:`CostMeter` that applies it to
``response.done`` usage and input-transcription usage (PROTOCOL.md §7.3–§7.4, PEERS.md pain
point 13).

Cached tokens are a *subset* of the input tokens, per modality: a response whose usage says 119
text input tokens of which 64 cached pays 55 at the text-input price and 64 at the cached price,
never 119 + 64. Prices change and differ per account; the defaults carry their source and the app
lets the user edit them (``PriceTable.to_dict``/``from_dict`` for the settings file).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from realtime_desktop.protocol import (
    InputAudioTranscriptionCompleted,
    RealtimeSessionConfig,
    ResponseDone,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    Usage,
)
from realtime_desktop.protocol.server_events import TranscriptionUsage
from realtime_desktop.protocol.session import DEFAULT_MODEL

log = logging.getLogger(__name__)

_PER_MILLION = 1_000_000
_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ModelPrices:
    """Prices of one model in USD per million tokens (``per_minute``: USD per audio minute,
    for models billed by duration). ``source`` says where the numbers come from."""

    text_input: float = 0.0
    text_cached: float = 0.0
    text_output: float = 0.0
    audio_input: float = 0.0
    audio_cached: float = 0.0
    audio_output: float = 0.0
    image_input: float = 0.0
    image_cached: float = 0.0
    per_minute: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float | int) and value < 0:
                raise ValueError(f"{f.name} must not be negative")


def _realtime(
    text: tuple[float, float, float],
    audio: tuple[float, float, float],
    image: tuple[float, float],
    source: str,
) -> ModelPrices:
    return ModelPrices(*text, *audio, *image, source=source)


_MODEL_PAGE = "https://developers.openai.com/api/docs/models/"
_UNVERIFIED = " [not confirmed from the model page; check before relying on it]"

DEFAULT_PRICES: dict[str, ModelPrices] = {
    # PROTOCOL.md §7.4 (per-model pages on developers.openai.com, 2026).
    "gpt-realtime-2": _realtime(
        (4.0, 0.4, 24.0), (32.0, 0.4, 64.0), (5.0, 0.5), _MODEL_PAGE + "gpt-realtime-2"
    ),
    "gpt-realtime-2.1": _realtime(
        (4.0, 0.4, 24.0), (32.0, 0.4, 64.0), (5.0, 0.5), _MODEL_PAGE + "gpt-realtime-2.1"
    ),
    "gpt-realtime-1.5": _realtime(
        (4.0, 0.4, 16.0), (32.0, 0.4, 64.0), (5.0, 0.5), _MODEL_PAGE + "gpt-realtime-1.5"
    ),
    "gpt-realtime-2.1-mini": _realtime(
        (0.6, 0.06, 2.4), (10.0, 0.3, 20.0), (0.8, 0.08), _MODEL_PAGE + "gpt-realtime-2.1-mini"
    ),
    "gpt-realtime": _realtime(
        (4.0, 0.4, 16.0),
        (32.0, 0.4, 64.0),
        (5.0, 0.5),
        _MODEL_PAGE + "gpt-realtime" + _UNVERIFIED,
    ),
    "gpt-realtime-mini": _realtime(
        (0.6, 0.06, 2.4),
        (10.0, 0.3, 20.0),
        (0.0, 0.0),
        _MODEL_PAGE + "gpt-realtime-mini" + _UNVERIFIED,
    ),
    "gpt-4o-mini-realtime-preview": _realtime(
        (0.6, 0.3, 2.4),
        (10.0, 0.3, 20.0),
        (0.0, 0.0),
        _MODEL_PAGE + "gpt-4o-mini-realtime-preview",
    ),
    # Input transcription, billed separately (PROTOCOL.md §7.3).
    "gpt-realtime-whisper": ModelPrices(
        per_minute=0.017, source=_MODEL_PAGE + "gpt-realtime-whisper"
    ),
    "gpt-4o-transcribe": ModelPrices(
        text_input=2.5,
        text_output=10.0,
        audio_input=6.0,
        source=_MODEL_PAGE + "gpt-4o-transcribe" + _UNVERIFIED,
    ),
    "gpt-4o-mini-transcribe": ModelPrices(
        text_input=1.25,
        text_output=5.0,
        audio_input=3.0,
        source=_MODEL_PAGE + "gpt-4o-mini-transcribe" + _UNVERIFIED,
    ),
    "whisper-1": ModelPrices(per_minute=0.006, source=_MODEL_PAGE + "whisper-1" + _UNVERIFIED),
}


class PriceTable:
    """Model → :class:`ModelPrices`, editable. Dated snapshots (``gpt-realtime-2025-08-28``)
    use their model's prices unless listed themselves."""

    def __init__(self, prices: dict[str, ModelPrices] | None = None, currency: str = "USD") -> None:
        self._prices = dict(prices or {})
        self.currency = currency

    @classmethod
    def default(cls) -> PriceTable:
        return cls(DEFAULT_PRICES)

    @property
    def models(self) -> list[str]:
        return sorted(self._prices)

    def set(self, model: str, prices: ModelPrices) -> None:
        self._prices[model] = prices

    def remove(self, model: str) -> None:
        self._prices.pop(model, None)

    def prices_for(self, model: str | None) -> ModelPrices | None:
        if not model:
            return None
        if model in self._prices:
            return self._prices[model]
        undated = _DATE_SUFFIX.sub("", model)
        return self._prices.get(undated)

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "models": {name: asdict(prices) for name, prices in self._prices.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriceTable:
        known = {f.name for f in fields(ModelPrices)}
        models = {
            str(name): ModelPrices(**{k: v for k, v in values.items() if k in known})
            for name, values in dict(data.get("models", {})).items()
        }
        return cls(models, currency=str(data.get("currency", "USD")))


@dataclass(frozen=True)
class CostBreakdown:
    """The cost of one response (or a total) by modality, in the table's currency.

    ``priced`` is False when the model has no prices (tokens are still counted); ``estimated``
    when the usage lacked per-modality details and a split had to be assumed.
    """

    text_input: float = 0.0
    text_cached: float = 0.0
    text_output: float = 0.0
    audio_input: float = 0.0
    audio_cached: float = 0.0
    audio_output: float = 0.0
    image_input: float = 0.0
    image_cached: float = 0.0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    priced: bool = True
    estimated: bool = False

    @property
    def total(self) -> float:
        return (
            self.text_input
            + self.text_cached
            + self.text_output
            + self.audio_input
            + self.audio_cached
            + self.audio_output
            + self.image_input
            + self.image_cached
        )

    def __add__(self, other: CostBreakdown) -> CostBreakdown:
        values = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name not in ("priced", "estimated")
        }
        return CostBreakdown(
            **values,
            priced=self.priced and other.priced,
            estimated=self.estimated or other.estimated,
        )


def response_cost(usage: Usage, prices: ModelPrices | None) -> CostBreakdown:
    """The cost of one response's ``usage`` (PROTOCOL.md §7.3's formula)."""
    details = usage.input_token_details
    estimated = False
    text_in = audio_in = image_in = 0
    if details is not None and any(
        v is not None for v in (details.text_tokens, details.audio_tokens, details.image_tokens)
    ):
        text_in = details.text_tokens or 0
        audio_in = details.audio_tokens or 0
        image_in = details.image_tokens or 0
    elif usage.input_tokens:
        text_in, estimated = usage.input_tokens, True
    cached_text = cached_audio = cached_image = 0
    cached_total = (details.cached_tokens or 0) if details is not None else 0
    split = details.cached_tokens_details if details is not None else None
    if split is not None:
        cached_text = split.text_tokens or 0
        cached_audio = split.audio_tokens or 0
        cached_image = split.image_tokens or 0
    elif cached_total:
        # No per-modality split: text first (instructions and history are mostly text).
        cached_text = min(cached_total, text_in)
        cached_audio = min(cached_total - cached_text, audio_in)
        cached_image = min(cached_total - cached_text - cached_audio, image_in)
        estimated = True
    # Cached tokens are part of the modality's input, never more than it.
    cached_text, cached_audio, cached_image = (
        min(cached_text, text_in),
        min(cached_audio, audio_in),
        min(cached_image, image_in),
    )
    out = usage.output_token_details
    if out is not None and (out.text_tokens is not None or out.audio_tokens is not None):
        text_out, audio_out = out.text_tokens or 0, out.audio_tokens or 0
    else:
        text_out, audio_out = usage.output_tokens or 0, 0
        estimated = estimated or bool(usage.output_tokens)
    counts = CostBreakdown(
        input_tokens=usage.input_tokens or (text_in + audio_in + image_in),
        cached_tokens=cached_text + cached_audio + cached_image,
        output_tokens=usage.output_tokens or (text_out + audio_out),
        priced=prices is not None,
        estimated=estimated,
    )
    if prices is None:
        return counts
    return replace(
        counts,
        text_input=(text_in - cached_text) * prices.text_input / _PER_MILLION,
        text_cached=cached_text * prices.text_cached / _PER_MILLION,
        text_output=text_out * prices.text_output / _PER_MILLION,
        audio_input=(audio_in - cached_audio) * prices.audio_input / _PER_MILLION,
        audio_cached=cached_audio * prices.audio_cached / _PER_MILLION,
        audio_output=audio_out * prices.audio_output / _PER_MILLION,
        image_input=(image_in - cached_image) * prices.image_input / _PER_MILLION,
        image_cached=cached_image * prices.image_cached / _PER_MILLION,
    )


def transcription_cost(usage: TranscriptionUsage, prices: ModelPrices | None) -> float | None:
    """The cost of one input transcription, or None when its model has no prices."""
    if prices is None:
        return None
    if usage.type == "duration" or usage.seconds is not None:
        return (usage.seconds or 0.0) / 60 * prices.per_minute
    details = usage.input_token_details or {}
    audio = int(details.get("audio_tokens") or 0)
    text = int(details.get("text_tokens") or 0)
    if not details and usage.input_tokens:
        audio = usage.input_tokens  # a transcription's input is its audio
    output = usage.output_tokens or 0
    return (
        audio * prices.audio_input + text * prices.text_input + output * prices.text_output
    ) / _PER_MILLION


@dataclass
class _Transcription:
    model: str | None
    cost: float | None
    usage: TranscriptionUsage


@dataclass
class CostMeter:
    """Running cost of a conversation. Feed it every server event with :meth:`apply` (it
    picks ``response.done`` and transcription usage, and the models from the session), or call
    :meth:`add_response` / :meth:`add_transcription` directly.

    Args:
        prices: the table to use (edits to it apply to what is added afterwards).
        model: the realtime model until the session names one.
        transcription_model: the input transcription model until the session names one.
    """

    prices: PriceTable = field(default_factory=PriceTable.default)
    model: str = DEFAULT_MODEL
    transcription_model: str | None = None
    _responses: dict[str, CostBreakdown] = field(default_factory=dict)
    _transcriptions: dict[str, _Transcription] = field(default_factory=dict)

    def apply(self, event: ServerEvent) -> None:
        if isinstance(event, SessionCreated | SessionUpdated):
            config = event.session
            if isinstance(config, RealtimeSessionConfig):
                if config.model:
                    self.model = config.model
                audio_input = config.audio.input if config.audio else None
                if audio_input is not None and audio_input.transcription is not None:
                    self.transcription_model = (
                        audio_input.transcription.model or self.transcription_model
                    )
        elif isinstance(event, ResponseDone) and event.response.usage is not None:
            self.add_response(event.response.id or "", event.response.usage)
        elif isinstance(event, InputAudioTranscriptionCompleted) and event.usage is not None:
            self.add_transcription(event.item_id, event.usage)

    def add_response(self, response_id: str, usage: Usage) -> CostBreakdown:
        """Adds (or replaces) one response's usage; returns its cost."""
        cost = response_cost(usage, self.prices.prices_for(self.model))
        if not cost.priced:
            log.info("no prices for model %r; counting tokens only", self.model)
        self._responses[response_id] = cost
        return cost

    def add_transcription(
        self, item_id: str, usage: TranscriptionUsage, model: str | None = None
    ) -> float | None:
        """Adds (or replaces) one input transcription's usage; returns its cost."""
        model = model or self.transcription_model
        cost = transcription_cost(usage, self.prices.prices_for(model))
        self._transcriptions[item_id] = _Transcription(model, cost, usage)
        return cost

    def response(self, response_id: str) -> CostBreakdown | None:
        return self._responses.get(response_id)

    @property
    def responses_total(self) -> CostBreakdown:
        total = CostBreakdown()
        for cost in self._responses.values():
            total = total + cost
        return total

    @property
    def transcription_total(self) -> float:
        return sum(t.cost or 0.0 for t in self._transcriptions.values())

    @property
    def total(self) -> float:
        """Everything so far: responses and input transcription."""
        return self.responses_total.total + self.transcription_total

    @property
    def complete(self) -> bool:
        """Every usage seen had prices (otherwise ``total`` leaves some out)."""
        return self.responses_total.priced and all(
            t.cost is not None for t in self._transcriptions.values()
        )

    def reset(self) -> None:
        self._responses.clear()
        self._transcriptions.clear()
