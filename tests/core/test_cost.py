"""Tokens → money (PROTOCOL.md §7.3–§7.4): cached tokens are a subset of the input."""

from __future__ import annotations

import json

import pytest

from realtime_desktop.core import CostMeter, ModelPrices, PriceTable
from realtime_desktop.core.cost import response_cost
from realtime_desktop.protocol import Usage, parse_server_event

from . import sequences

# The GA response.done usage example of PROTOCOL.md §7.3.
EXAMPLE = Usage.model_validate(
    {
        "total_tokens": 253,
        "input_tokens": 132,
        "output_tokens": 121,
        "input_token_details": {
            "text_tokens": 119,
            "audio_tokens": 13,
            "image_tokens": 0,
            "cached_tokens": 64,
            "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": 30, "audio_tokens": 91},
    }
)


def test_the_formula_with_cached_tokens_as_a_subset_of_input() -> None:
    prices = PriceTable.default().prices_for("gpt-realtime-2")
    cost = response_cost(EXAMPLE, prices)
    assert cost.text_input == pytest.approx((119 - 64) * 4.0 / 1e6)
    assert cost.text_cached == pytest.approx(64 * 0.4 / 1e6)
    assert cost.audio_input == pytest.approx(13 * 32.0 / 1e6)
    assert cost.text_output == pytest.approx(30 * 24.0 / 1e6)
    assert cost.audio_output == pytest.approx(91 * 64.0 / 1e6)
    assert cost.total == pytest.approx(0.0072056)
    # Counting the cached tokens on top of the input would cost more than this.
    assert cost.total < response_cost(EXAMPLE, prices).total + 64 * 4.0 / 1e6
    assert (cost.input_tokens, cost.cached_tokens, cost.output_tokens) == (132, 64, 121)
    assert cost.priced
    assert not cost.estimated


def test_a_cached_total_without_its_split_is_charged_as_text_first() -> None:
    usage = Usage.model_validate(
        {
            "input_tokens": 100,
            "output_tokens": 0,
            "input_token_details": {"text_tokens": 30, "audio_tokens": 70, "cached_tokens": 50},
        }
    )
    cost = response_cost(
        usage, ModelPrices(text_input=1, text_cached=0.1, audio_input=10, audio_cached=0.5)
    )
    assert cost.text_cached == pytest.approx(30 * 0.1 / 1e6)
    assert cost.audio_cached == pytest.approx(20 * 0.5 / 1e6)
    assert cost.audio_input == pytest.approx(50 * 10 / 1e6)
    assert cost.estimated


def test_unknown_models_count_tokens_without_a_price() -> None:
    meter = CostMeter(model="someone-elses-model")
    cost = meter.add_response("resp_1", EXAMPLE)
    assert not cost.priced
    assert cost.total == 0.0
    assert cost.output_tokens == 121
    assert not meter.complete


def test_dated_snapshots_use_their_models_prices() -> None:
    table = PriceTable.default()
    assert table.prices_for("gpt-realtime-2025-08-28") is table.prices_for("gpt-realtime")
    assert table.prices_for("gpt-realtime-2.1-mini") is not table.prices_for("gpt-realtime-2.1")


def test_the_meter_follows_the_session_and_counts_each_response_once() -> None:
    meter = CostMeter()
    session = {
        "type": "session.created",
        "session": {
            "type": "realtime",
            "model": "gpt-realtime-2.1-mini",
            "audio": {"input": {"transcription": {"model": "gpt-realtime-whisper"}}},
        },
    }
    events = [session, *sequences.voice_turn_with_late_transcript()]
    for raw in events:
        meter.apply(parse_server_event(raw))
    usage = Usage.model_validate(sequences.usage())
    mini = PriceTable.default().prices_for("gpt-realtime-2.1-mini")
    expected = response_cost(usage, mini).total
    assert meter.response("resp_R1") is not None
    assert meter.responses_total.total == pytest.approx(expected)
    # the late transcript was billed by duration: 1.5 s of whisper
    assert meter.transcription_total == pytest.approx(1.5 / 60 * 0.017)
    assert meter.total == pytest.approx(expected + 1.5 / 60 * 0.017)
    assert meter.complete
    meter.apply(parse_server_event(events[-2]))  # the same response.done again
    assert meter.total == pytest.approx(expected + 1.5 / 60 * 0.017)


def test_token_billed_transcription() -> None:
    meter = CostMeter(transcription_model="gpt-4o-mini-transcribe")
    usage = {
        "type": "tokens",
        "input_tokens": 50,
        "output_tokens": 10,
        "total_tokens": 60,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 50},
    }
    event = parse_server_event(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "item_U1",
            "content_index": 0,
            "transcript": "hi",
            "usage": usage,
        }
    )
    meter.apply(event)
    assert meter.transcription_total == pytest.approx((50 * 3.0 + 10 * 5.0) / 1e6)


def test_the_price_table_is_editable_and_round_trips() -> None:
    table = PriceTable.default()
    table.set("my-proxy-model", ModelPrices(text_input=1.0, audio_output=2.0, source="my invoice"))
    restored = PriceTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert restored.prices_for("my-proxy-model") == table.prices_for("my-proxy-model")
    assert restored.models == table.models
    meter = CostMeter(prices=restored, model="my-proxy-model")
    assert meter.add_response("r", EXAMPLE).total == pytest.approx(
        (55 + 0) * 1.0 / 1e6 + 91 * 2.0 / 1e6
    )
    with pytest.raises(ValueError, match="negative"):
        ModelPrices(text_input=-1.0)
