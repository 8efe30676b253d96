"""The settings dialog's parts: field editors, tables, the API key field, the connection test.

:mod:`realtime_desktop.ui.settings_dialog` assembles them into pages. ``background`` and
``labels`` are also used by the history window.
"""
