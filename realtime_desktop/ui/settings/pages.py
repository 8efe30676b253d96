"""How the settings dialog lays out the settings: pages, sections, the order of fields.

Every field of :data:`~realtime_desktop.storage.settings.FIELDS` is listed once (the tests
check it); the dialog builds the editor for each from its :class:`FieldSpec`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

API_KEY = "api_key"
"""The API key's place on the Connection page (it is not a setting: it lives in the keyring)."""

# Transcription models of the GA protocol (PROTOCOL.md, audio.input.transcription); the field
# stays free text because new ones appear.
TRANSCRIPTION_MODELS = (
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe",
    "gpt-transcribe",
    "whisper-1",
)


@dataclasses.dataclass(frozen=True)
class Section:
    """A group box on a page and its fields, in order."""

    title: str
    paths: tuple[str, ...]
    name: str = ""  # how the dialog finds it; a provider's name for PROVIDER_SECTIONS


@dataclasses.dataclass(frozen=True)
class PageLayout:
    title: str
    intro: str
    sections: tuple[Section, ...]


PAGES: tuple[PageLayout, ...] = (
    PageLayout(
        "Connection",
        "Where conversations run and how the app stays connected.",
        (
            Section("Service", ("connection.provider", API_KEY), name="service"),
            Section(
                "Azure OpenAI",
                (
                    "connection.azure_resource",
                    "connection.azure_deployment",
                    "connection.azure_auth",
                ),
                name="azure",
            ),
            Section(
                "Custom server",
                (
                    "connection.custom_url",
                    "connection.custom_dialect",
                    "connection.custom_auth",
                    "connection.custom_headers",
                ),
                name="custom",
            ),
            Section(
                "Model", ("connection.model", "connection.models", "connection.ephemeral_key_url")
            ),
            Section(
                "When the connection drops",
                (
                    "connection.auto_reconnect",
                    "connection.max_reconnect_attempts",
                    "connection.reconnect_delay_s",
                    "connection.buffer_while_disconnected",
                ),
            ),
        ),
    ),
    PageLayout(
        "Voice & responses",
        "How the assistant sounds and answers. Changes apply to a running conversation.",
        (
            Section("Voice", ("voice.voice", "voice.speed", "voice.output_modality")),
            Section("Responses", ("voice.max_output_tokens", "voice.instructions")),
        ),
    ),
    PageLayout(
        "Turn detection",
        "How the app knows you have finished speaking.",
        (
            Section("Mode", ("turn_detection.mode",)),
            Section(
                "Server VAD",
                (
                    "turn_detection.threshold",
                    "turn_detection.prefix_padding_ms",
                    "turn_detection.silence_duration_ms",
                    "turn_detection.idle_timeout_ms",
                ),
            ),
            Section("Semantic VAD", ("turn_detection.eagerness",)),
            Section(
                "At the end of a turn",
                ("turn_detection.create_response", "turn_detection.interrupt_response"),
            ),
        ),
    ),
    PageLayout(
        "Audio",
        "Your microphone and speaker, and how your voice is cleaned up before it is sent.",
        (
            Section("Devices", ("audio.input_device", "audio.output_device")),
            Section(
                "Processing",
                (
                    "audio.echo_cancellation",
                    "audio.noise_suppression",
                    "audio.headset_mode",
                    "audio.half_duplex",
                    "audio.local_vad_threshold",
                ),
            ),
            Section("Display", ("audio.show_audio_levels",)),
        ),
    ),
    PageLayout(
        "Transcription",
        "Text of what you say, shown in the transcript and saved with the conversation.",
        (
            Section(
                "Your speech as text",
                (
                    "transcription.enabled",
                    "transcription.model",
                    "transcription.language",
                    "transcription.prompt",
                ),
            ),
            Section("Input audio", ("transcription.noise_reduction",)),
        ),
    ),
    PageLayout(
        "Tools",
        "Functions the assistant may call while you talk.",
        (
            Section("Built-in", ("tools.builtins_enabled", "tools.disabled_tools")),
            Section("Every tool", ("tools.approval", "tools.timeout_s")),
        ),
    ),
    PageLayout(
        "Privacy & storage",
        "What is kept on this computer, and what conversations cost.",
        (
            Section(
                "Conversations",
                ("privacy.save_conversations", "privacy.conversations_dir", "privacy.record_audio"),
            ),
            Section("Logs", ("privacy.log_level",)),
            Section("Prices", ("prices",)),
        ),
    ),
)

PROVIDER_SECTIONS = frozenset({"azure", "custom"})
"""Sections shown only for their provider (the section's ``name`` is the provider)."""

PAGE_OF_GROUP = {
    "connection": "Connection",
    "voice": "Voice & responses",
    "turn_detection": "Turn detection",
    "audio": "Audio",
    "transcription": "Transcription",
    "tools": "Tools",
    "privacy": "Privacy & storage",
    "prices": "Privacy & storage",
}

TURN_DETECTION_HELP = {
    "server_vad": "The server ends your turn after a pause of the silence duration.",
    "semantic_vad": "The server ends your turn when what you said sounds finished.",
    "push_to_talk": "You decide when your turn ends; the server does not listen for pauses.",
}

# Dialog buttons take these letters; page mnemonics avoid them.
BUTTON_MNEMONICS = {"o", "a", "d"}


def assign_mnemonics(texts: Sequence[str], reserved: Iterable[str] = ()) -> list[str]:
    """Each text with an ``&`` before a letter no other text (or ``reserved``) uses,
    preferring the first letter of a word. A text without a free letter gets none."""
    used = {letter.lower() for letter in reserved}
    marked: list[str] = []
    for text in texts:
        plain = text.replace("&&", "\0")
        word_starts = [
            i
            for i, ch in enumerate(plain)
            if ch.isalnum() and (i == 0 or not plain[i - 1].isalnum())
        ]
        others = [i for i, ch in enumerate(plain) if ch.isalnum() and i not in word_starts]
        choice = next((i for i in [*word_starts, *others] if plain[i].lower() not in used), None)
        if choice is None:
            marked.append(text)
            continue
        used.add(plain[choice].lower())
        marked.append((plain[:choice] + "&" + plain[choice:]).replace("\0", "&&"))
    return marked
