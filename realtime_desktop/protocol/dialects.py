"""The two wire dialects: GA (the in-memory shape) and the retired beta shape.

OpenAI switched the beta shape off on 2026-05-12 (PROTOCOL.md §0.1), but third-party compatible
servers still speak it and the seed documents describe it, so it is translated here, at the wire
edge, on plain JSON dicts (PROTOCOL.md §3.2, §4.5, §5.3):

* renamed output events (``response.audio.delta`` ↔ ``response.output_audio.delta`` …);
* ``conversation.item.created`` (beta) ↔ the GA two-phase ``conversation.item.added``/``done``:
  beta's ``created`` parses as :class:`ConversationItemCreated` (the GA SDK still models it), GA's
  ``added`` is written as ``created``, and GA's ``done`` has no beta form
  (:data:`GA_ONLY_SERVER_EVENTS`; a beta-dialect server does not send those);
* the flat beta session (``modalities``, ``voice``, ``input_audio_format``, ``turn_detection``,
  ``max_response_output_tokens`` …) ↔ the nested GA ``session`` with its ``type``;
* ``transcription_session.*`` ↔ ``session.*`` with ``session.type = "transcription"``;
* assistant content ``text``/``audio`` ↔ ``output_text``/``output_audio``.

Beta keys with no GA counterpart (``temperature``) are kept as unknown fields, so a beta payload
survives beta → model → beta unchanged, and so do beta values GA has no spelling for (a
``modalities`` list of ``["audio"]`` is read as GA ``["audio"]`` and its beta form is kept too).
"""

from __future__ import annotations

from typing import Any

from .base import DIALECTS, Dialect, ProtocolError

_BETA_TO_GA_SERVER_TYPES = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
}
_GA_TO_BETA_SERVER_TYPES = {ga: beta for beta, ga in _BETA_TO_GA_SERVER_TYPES.items()}
_GA_TO_BETA_SERVER_TYPES["conversation.item.added"] = "conversation.item.created"

# GA server events with no beta form; a server speaking beta does not send them.
GA_ONLY_SERVER_EVENTS = frozenset(
    {
        "conversation.item.done",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "conversation.item.input_audio_transcription.segment",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)

_ITEM_EVENTS = frozenset(
    {
        "conversation.item.created",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.retrieved",
        "response.output_item.added",
        "response.output_item.done",
        "conversation.item.create",
    }
)
_SESSION_EVENTS = frozenset({"session.created", "session.updated", "session.update"})
_TRANSCRIPTION_SESSION_EVENTS = {
    "transcription_session.created": "session.created",
    "transcription_session.updated": "session.updated",
    "transcription_session.update": "session.update",
}
_GA_TO_TRANSCRIPTION_SESSION_EVENTS = {
    ga: beta for beta, ga in _TRANSCRIPTION_SESSION_EVENTS.items()
}

_BETA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_TOOL_CHOICE_MODES = frozenset({"auto", "none", "required"})
_BETA_ASSISTANT_PARTS = {"text": "output_text", "audio": "output_audio"}
_GA_ASSISTANT_PARTS = {ga: beta for beta, ga in _BETA_ASSISTANT_PARTS.items()}


def check_dialect(dialect: str) -> Dialect:
    if dialect not in DIALECTS:
        raise ProtocolError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    return dialect


# Whole events -------------------------------------------------------------------------------


def server_event_to_ga(data: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A server event as received in ``dialect``, in the GA shape."""
    event_type = data.get("type")
    if dialect == "ga":
        # GA peers have been seen sending beta spellings of the renamed output events
        # (PROTOCOL.md §3.3, openai-python issue #2698): read them as their GA names.
        renamed = _BETA_TO_GA_SERVER_TYPES.get(event_type) if isinstance(event_type, str) else None
        return {**data, "type": renamed} if renamed else data
    return _translate_to_ga(data, {**_BETA_TO_GA_SERVER_TYPES, **_TRANSCRIPTION_SESSION_EVENTS})


def client_event_to_ga(data: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A client event as received in ``dialect``, in the GA shape."""
    if dialect == "ga":
        return data
    return _translate_to_ga(data, _TRANSCRIPTION_SESSION_EVENTS)


def server_event_to_dialect(data: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A GA-shaped server event written in ``dialect``."""
    if check_dialect(dialect) == "ga":
        return data
    return _translate_to_beta(data, _GA_TO_BETA_SERVER_TYPES)


def client_event_to_dialect(data: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A GA-shaped client event written in ``dialect``."""
    if check_dialect(dialect) == "ga":
        return data
    return _translate_to_beta(data, {})


def _translate_to_ga(data: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    event_type = data.get("type")
    if not isinstance(event_type, str):
        return data
    out = dict(data)
    ga_type = renames.get(event_type, event_type)
    out["type"] = ga_type
    if ga_type in _SESSION_EVENTS and isinstance(out.get("session"), dict):
        transcription = event_type in _TRANSCRIPTION_SESSION_EVENTS
        out["session"] = session_to_ga(out["session"], transcription=transcription)
    elif ga_type in _ITEM_EVENTS and isinstance(out.get("item"), dict):
        out["item"] = item_to_ga(out["item"])
    elif ga_type in ("response.created", "response.done") and isinstance(out.get("response"), dict):
        out["response"] = _response_to_ga(out["response"], params=False)
    elif ga_type == "response.create" and isinstance(out.get("response"), dict):
        out["response"] = _response_to_ga(out["response"], params=True)
    return out


def _translate_to_beta(data: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    ga_type = data.get("type")
    if not isinstance(ga_type, str):
        return data
    out = dict(data)
    if ga_type in _SESSION_EVENTS and isinstance(out.get("session"), dict):
        transcription = out["session"].get("type") == "transcription"
        if transcription:
            out["type"] = _GA_TO_TRANSCRIPTION_SESSION_EVENTS[ga_type]
        out["session"] = session_to_beta(out["session"], transcription=transcription)
        return out
    out["type"] = renames.get(ga_type, ga_type)
    if ga_type in _ITEM_EVENTS and isinstance(out.get("item"), dict):
        out["item"] = item_to_beta(out["item"])
    elif ga_type in ("response.created", "response.done") and isinstance(out.get("response"), dict):
        out["response"] = _response_to_beta(out["response"], params=False)
    elif ga_type == "response.create" and isinstance(out.get("response"), dict):
        out["response"] = _response_to_beta(out["response"], params=True)
    return out


# Sessions -----------------------------------------------------------------------------------

# beta flat key -> (GA audio direction, GA key); realtime sessions only unless marked shared
_BETA_AUDIO_KEYS: dict[str, tuple[str, str, bool]] = {
    "input_audio_format": ("input", "format", True),
    "input_audio_transcription": ("input", "transcription", True),
    "input_audio_noise_reduction": ("input", "noise_reduction", True),
    "turn_detection": ("input", "turn_detection", True),
    "output_audio_format": ("output", "format", False),
    "voice": ("output", "voice", False),
    "speed": ("output", "speed", False),
}
_GA_AUDIO_KEYS = {(direction, key): beta for beta, (direction, key, _) in _BETA_AUDIO_KEYS.items()}


def session_to_ga(session: dict[str, Any], *, transcription: bool) -> dict[str, Any]:
    """A flat beta session object in the nested GA shape. GA-shaped input (it has a ``type``)
    is returned as it is, so a lenient beta peer may mix the two."""
    if "type" in session:
        return session
    out: dict[str, Any] = {"type": "transcription" if transcription else "realtime"}
    audio: dict[str, dict[str, Any]] = {}
    for key, value in session.items():
        mapped = _BETA_AUDIO_KEYS.get(key)
        if mapped and (mapped[2] or not transcription):
            direction, ga_key, _ = mapped
            audio.setdefault(direction, {})[ga_key] = (
                _format_to_ga(value) if ga_key == "format" else value
            )
        elif transcription or key == "audio":
            out[key] = value
        elif key == "modalities":
            _put_modalities(out, value)
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif key == "tool_choice":
            out["tool_choice"] = _tool_choice_to_ga(value)
        else:
            out[key] = value
    if audio:
        out["audio"] = _merge_audio(out.get("audio"), audio)
    return out


def session_to_beta(session: dict[str, Any], *, transcription: bool) -> dict[str, Any]:
    """A GA session object in the flat beta shape (the inverse of :func:`session_to_ga`)."""
    own_type = "transcription" if transcription else "realtime"
    out: dict[str, Any] = {}
    for key, value in session.items():
        if key == "type" and value == own_type:
            continue
        if key == "audio" and isinstance(value, dict):
            leftover = _flatten_audio(value, out, transcription=transcription)
            if leftover:
                out["audio"] = leftover
        elif transcription:
            out[key] = value
        elif key == "output_modalities":
            if "modalities" not in session:  # else beta's own spelling was kept, see below
                out["modalities"] = _modalities_to_beta(value)
        elif key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        elif key == "tool_choice":
            out["tool_choice"] = _tool_choice_to_beta(value)
        else:
            out[key] = value
    return out


def _merge_audio(existing: Any, mapped: dict[str, dict[str, Any]]) -> dict[str, Any]:
    audio: dict[str, Any] = dict(existing) if isinstance(existing, dict) else {}
    for direction, values in mapped.items():
        current = audio.get(direction)
        audio[direction] = {**current, **values} if isinstance(current, dict) else values
    return audio


def _flatten_audio(
    audio: dict[str, Any], out: dict[str, Any], *, transcription: bool
) -> dict[str, Any]:
    """Moves the GA audio keys beta knows into ``out``; returns what beta has no key for."""
    leftover: dict[str, Any] = {}
    for direction, section in audio.items():
        if not isinstance(section, dict):
            leftover[direction] = section
            continue
        rest: dict[str, Any] = {}
        for key, value in section.items():
            beta_key = _GA_AUDIO_KEYS.get((direction, key))
            if beta_key is None or (transcription and not _BETA_AUDIO_KEYS[beta_key][2]):
                rest[key] = value
            else:
                out[beta_key] = _format_to_beta(value) if key == "format" else value
        if rest:
            leftover[direction] = rest
    return leftover


def _format_to_ga(value: Any) -> Any:
    shape = _BETA_FORMATS.get(value) if isinstance(value, str) else None
    return dict(shape) if shape is not None else value


def _format_to_beta(value: Any) -> Any:
    if isinstance(value, dict):
        for name, shape in _BETA_FORMATS.items():
            if value == shape:
                return name
    return value


def _modalities_to_ga(value: Any) -> Any:
    # Beta's audio modality always carried text: ["audio", "text"]. GA output is one modality.
    if isinstance(value, list) and "audio" in value and set(value) <= {"audio", "text"}:
        return ["audio"]
    return value


def _put_modalities(out: dict[str, Any], beta_value: Any) -> None:
    """Sets GA ``output_modalities``; a beta list that would not come back the same way
    (``["audio"]``, ``["text", "audio"]``) is also kept under its beta key, which the way back
    prefers, so the translation stays lossless."""
    ga_value = _modalities_to_ga(beta_value)
    out["output_modalities"] = ga_value
    if _modalities_to_beta(ga_value) != beta_value:
        out["modalities"] = beta_value


def _modalities_to_beta(value: Any) -> Any:
    return ["audio", "text"] if value == ["audio"] else value


def _tool_choice_to_ga(value: Any) -> Any:
    # Beta named a forced function by a bare string; GA uses {type: function, name}.
    if isinstance(value, str) and value not in _TOOL_CHOICE_MODES:
        return {"type": "function", "name": value}
    return value


def _tool_choice_to_beta(value: Any) -> Any:
    if (
        isinstance(value, dict)
        and value.get("type") == "function"
        and set(value) == {"type", "name"}
    ):
        return value["name"]
    return value


# Items and responses ------------------------------------------------------------------------


def item_to_ga(item: dict[str, Any]) -> dict[str, Any]:
    return _rename_assistant_parts(item, _BETA_ASSISTANT_PARTS)


def item_to_beta(item: dict[str, Any]) -> dict[str, Any]:
    return _rename_assistant_parts(item, _GA_ASSISTANT_PARTS)


def _rename_assistant_parts(item: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    content = item.get("content")
    if item.get("role") != "assistant" or not isinstance(content, list):
        return item
    parts = [
        {**part, "type": renames[part["type"]]}
        if isinstance(part, dict) and part.get("type") in renames
        else part
        for part in content
    ]
    return {**item, "content": parts}


def _response_to_ga(response: dict[str, Any], *, params: bool) -> dict[str, Any]:
    """Beta ``response`` object (``params``: the ``response.create`` overrides) in GA shape."""
    out: dict[str, Any] = {}
    audio_output: dict[str, Any] = {}
    for key, value in response.items():
        if key == "modalities":
            _put_modalities(out, value)
        elif key == "voice":
            audio_output["voice"] = value
        elif key == "output_audio_format":
            audio_output["format"] = _format_to_ga(value)
        elif key in ("output", "input") and isinstance(value, list):
            out[key] = [item_to_ga(i) if isinstance(i, dict) else i for i in value]
        elif params and key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif params and key == "tool_choice":
            out["tool_choice"] = _tool_choice_to_ga(value)
        else:
            out[key] = value
    if audio_output:
        out["audio"] = _merge_audio(out.get("audio"), {"output": audio_output})
    return out


def _response_to_beta(response: dict[str, Any], *, params: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in response.items():
        if key == "output_modalities":
            if "modalities" not in response:
                out["modalities"] = _modalities_to_beta(value)
        elif key == "audio" and isinstance(value, dict):
            leftover = dict(value)
            section = leftover.get("output")
            if isinstance(section, dict):
                rest = dict(section)
                if "voice" in rest:
                    out["voice"] = rest.pop("voice")
                if "format" in rest:
                    out["output_audio_format"] = _format_to_beta(rest.pop("format"))
                if rest:
                    leftover["output"] = rest
                else:
                    del leftover["output"]
            if leftover:
                out["audio"] = leftover
        elif key in ("output", "input") and isinstance(value, list):
            out[key] = [item_to_beta(i) if isinstance(i, dict) else i for i in value]
        elif params and key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        elif params and key == "tool_choice":
            out["tool_choice"] = _tool_choice_to_beta(value)
        else:
            out[key] = value
    return out
