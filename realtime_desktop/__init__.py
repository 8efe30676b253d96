"""realtime-desktop: a desktop voice client for the OpenAI Realtime API.

Layers (imports only point down; ``lint-imports`` enforces it): ``ui`` > ``core`` >
``storage`` | ``server`` > ``audio`` > ``protocol``. See ../shared/DESIGN.md.
"""

__version__ = "0.1.0"
