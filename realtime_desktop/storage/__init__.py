"""Storage layer: settings schema and file, secrets, the conversation store.

Modules (import them directly; this package imports nothing, so a light process such as the
autosave crash test's child pays only for what it uses):

* :mod:`.paths` — where settings, conversations and logs live (platformdirs or ``--config-dir``);
* :mod:`.settings` — the :class:`~.settings.Settings` model, its field groups, per-field
  validation for the dialog, presets and :meth:`~.settings.Settings.to_session_config`;
* :mod:`.settings_file` — loading (migrations, corrupt and newer files set aside) and atomic saves;
* :mod:`.secrets` — API keys in the OS keyring, the environment fallback, log redaction;
* :mod:`.conversation` — the versioned conversation document (plain pydantic);
* :mod:`.conversation_store` — one JSON file per conversation, the index, trash, search;
* :mod:`.autosave` — the debounced autosaver for the asyncio loop;
* :mod:`.export` — Markdown, plain text and JSON exports;
* :mod:`.files`, :mod:`.notices`, :mod:`.migrations` — atomic writes and file errors, the notices
  the app shows the user, and the ordered-migration runner shared by every versioned file.
"""
