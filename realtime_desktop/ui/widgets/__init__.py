"""Widgets: views only. They read view models and never await anything."""
