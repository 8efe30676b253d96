"""Built-in tools that work offline: the time in a time zone, a calculator, unit conversion and
date arithmetic. None of them needs the network, so none of them can return made-up data.

``register_builtins(registry)`` adds them all; each is also a plain function, testable alone.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from typing import Any, Final

from .calculator import evaluate
from .errors import InvalidInputError
from .tools import ToolRegistry

SIGNIFICANT_DIGITS: Final = 10


def current_time(timezone: str = "UTC") -> dict[str, Any]:
    """Get the current date and time in a time zone.

    Args:
        timezone: an IANA time zone name such as "Europe/Paris" or "America/New_York".
    """
    try:
        zone = zoneinfo.ZoneInfo(timezone.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"{timezone!r} is not an IANA time zone; use a name like 'Europe/Paris'."
        ) from None
    now = dt.datetime.now(zone)
    offset = now.utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return {
        "timezone": zone.key,
        "iso": now.isoformat(timespec="seconds"),
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M"),
        "weekday": now.strftime("%A"),
        "utc_offset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
    }


def calculate(expression: str) -> dict[str, Any]:
    """Evaluate an arithmetic expression exactly, instead of guessing.

    Args:
        expression: numbers with + - * / // % ** and parentheses, the constants pi, e and tau,
            and the functions sqrt, exp, log, log10, log2, sin, cos, tan, asin, acos, atan,
            degrees, radians, hypot, abs, round, floor, ceil, min, max and factorial.
    """
    return {"expression": expression, "result": evaluate(expression)}


# unit → (quantity, factor to the quantity's base unit)
_UNITS: Final[dict[str, tuple[str, float]]] = {
    # length, base metre
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "cm": ("length", 0.01),
    "mm": ("length", 0.001),
    "mi": ("length", 1609.344),
    "yd": ("length", 0.9144),
    "ft": ("length", 0.3048),
    "in": ("length", 0.0254),
    "nmi": ("length", 1852.0),
    # mass, base kilogram
    "kg": ("mass", 1.0),
    "g": ("mass", 0.001),
    "mg": ("mass", 1e-6),
    "t": ("mass", 1000.0),
    "lb": ("mass", 0.45359237),
    "oz": ("mass", 0.028349523125),
    "st": ("mass", 6.35029318),
    # volume, base litre (US customary units)
    "l": ("volume", 1.0),
    "ml": ("volume", 0.001),
    "m3": ("volume", 1000.0),
    "gal": ("volume", 3.785411784),
    "qt": ("volume", 0.946352946),
    "pt": ("volume", 0.473176473),
    "cup": ("volume", 0.2365882365),
    "floz": ("volume", 0.0295735295625),
    "tbsp": ("volume", 0.01478676478125),
    "tsp": ("volume", 0.00492892159375),
    # area, base square metre
    "m2": ("area", 1.0),
    "km2": ("area", 1e6),
    "cm2": ("area", 1e-4),
    "ha": ("area", 1e4),
    "acre": ("area", 4046.8564224),
    "ft2": ("area", 0.09290304),
    "mi2": ("area", 2589988.110336),
    # speed, base metre per second
    "m/s": ("speed", 1.0),
    "km/h": ("speed", 1 / 3.6),
    "mph": ("speed", 0.44704),
    "kn": ("speed", 1852 / 3600),
    # time, base second
    "s": ("time", 1.0),
    "ms": ("time", 0.001),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "day": ("time", 86400.0),
    "week": ("time", 604800.0),
    # energy, base joule
    "j": ("energy", 1.0),
    "kj": ("energy", 1000.0),
    "cal": ("energy", 4.184),
    "kcal": ("energy", 4184.0),
    "wh": ("energy", 3600.0),
    "kwh": ("energy", 3.6e6),
    # data, base byte
    "bit": ("data", 0.125),
    "b": ("data", 1.0),
    "kb": ("data", 1e3),
    "mb": ("data", 1e6),
    "gb": ("data", 1e9),
    "tb": ("data", 1e12),
    "kib": ("data", 1024.0),
    "mib": ("data", 1024.0**2),
    "gib": ("data", 1024.0**3),
    "tib": ("data", 1024.0**4),
}
_TEMPERATURES: Final = frozenset({"c", "f", "k"})
_ALIASES: Final[dict[str, str]] = {
    "meter": "m", "metre": "m", "kilometer": "km", "kilometre": "km", "centimeter": "cm",
    "centimetre": "cm", "millimeter": "mm", "millimetre": "mm", "mile": "mi", "yard": "yd",
    "foot": "ft", "feet": "ft", "inch": "in", "inches": "in", "nautical mile": "nmi",
    "kilogram": "kg", "gram": "g", "milligram": "mg", "tonne": "t", "ton": "t", "pound": "lb",
    "lbs": "lb", "ounce": "oz", "stone": "st", "liter": "l", "litre": "l", "milliliter": "ml",
    "millilitre": "ml", "cubic meter": "m3", "gallon": "gal", "quart": "qt", "pint": "pt",
    "fl oz": "floz", "fluid ounce": "floz", "tablespoon": "tbsp", "teaspoon": "tsp",
    "square meter": "m2", "square kilometer": "km2", "hectare": "ha", "square foot": "ft2",
    "square feet": "ft2", "square mile": "mi2", "kph": "km/h", "kmh": "km/h",
    "knot": "kn", "knots": "kn", "second": "s", "sec": "s", "millisecond": "ms",
    "minute": "min", "hour": "h", "hr": "h", "days": "day", "d": "day", "weeks": "week",
    "joule": "j", "kilojoule": "kj", "calorie": "cal", "kilocalorie": "kcal",
    "watt hour": "wh", "kilowatt hour": "kwh", "byte": "b", "kilobyte": "kb",
    "megabyte": "mb", "gigabyte": "gb", "terabyte": "tb", "kibibyte": "kib",
    "mebibyte": "mib", "gibibyte": "gib", "tebibyte": "tib", "bits": "bit",
    "celsius": "c", "°c": "c", "fahrenheit": "f", "°f": "f", "kelvin": "k",
}  # fmt: skip


def _unit(name: str) -> str:
    key = " ".join(name.strip().lower().replace("_", " ").split())
    key = _ALIASES.get(key, key)
    if key not in _UNITS and key not in _TEMPERATURES and key.endswith("s"):
        key = _ALIASES.get(key[:-1], key[:-1])  # plurals: "meters", "pounds"
    if key in _UNITS or key in _TEMPERATURES:
        return key
    raise InvalidInputError(f"Unknown unit {name!r}.")


def _to_kelvin(value: float, unit: str) -> float:
    if unit == "c":
        return value + 273.15
    if unit == "f":
        return (value - 32) * 5 / 9 + 273.15
    return value


def _from_kelvin(kelvin: float, unit: str) -> float:
    if unit == "c":
        return kelvin - 273.15
    if unit == "f":
        return (kelvin - 273.15) * 9 / 5 + 32
    return kelvin


def convert_units(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
    """Convert a value between units of length, mass, volume, area, speed, time, energy,
    data size or temperature (metric, imperial and US units).

    Args:
        value: the amount to convert.
        from_unit: its unit, e.g. "km", "mi", "lb", "°F", "gal", "km/h", "GiB".
        to_unit: the unit wanted.
    """
    source, target = _unit(from_unit), _unit(to_unit)
    if not math.isfinite(value):
        raise InvalidInputError("The value must be a finite number.")
    if source in _TEMPERATURES or target in _TEMPERATURES:
        if not (source in _TEMPERATURES and target in _TEMPERATURES):
            raise InvalidInputError(f"Cannot convert {from_unit!r} to {to_unit!r}.")
        kelvin = _to_kelvin(value, source)
        if kelvin < 0:
            raise InvalidInputError("That is below absolute zero.")
        result = _from_kelvin(kelvin, target)
    else:
        (quantity, factor), (target_quantity, target_factor) = _UNITS[source], _UNITS[target]
        if quantity != target_quantity:
            raise InvalidInputError(
                f"Cannot convert {from_unit!r} ({quantity}) to {to_unit!r} ({target_quantity})."
            )
        result = value * factor / target_factor
    return {
        "value": value,
        "from_unit": from_unit,
        "to_unit": to_unit,
        "result": float(f"{result:.{SIGNIFICANT_DIGITS}g}"),
    }


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(f"{what} {text!r} is not a date like 2026-03-14.") from None


def days_between(start_date: str, end_date: str) -> dict[str, Any]:
    """Count the days from one date to another.

    Args:
        start_date: the first date, YYYY-MM-DD.
        end_date: the second date, YYYY-MM-DD (before the first gives a negative count).
    """
    start, end = _date(start_date, "start_date"), _date(end_date, "end_date")
    days = (end - start).days
    weeks, rest = divmod(abs(days), 7)
    return {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "days": days,
        "weeks_and_days": [weeks if days >= 0 else -weeks, rest if days >= 0 else -rest],
        "start_weekday": start.strftime("%A"),
        "end_weekday": end.strftime("%A"),
    }


def add_days(date: str, days: int) -> dict[str, Any]:
    """Find the date a number of days after (or, negative, before) a date.

    Args:
        date: the date to start from, YYYY-MM-DD.
        days: how many days to add; negative to go back.
    """
    start = _date(date, "date")
    try:
        result = start + dt.timedelta(days=days)
    except OverflowError:
        raise InvalidInputError("That date is out of range.") from None
    return {
        "date": start.isoformat(),
        "days": days,
        "result": result.isoformat(),
        "weekday": result.strftime("%A"),
    }


def register_builtins(registry: ToolRegistry) -> ToolRegistry:
    """Adds every built-in tool to ``registry`` and returns it."""
    for handler in (current_time, calculate, convert_units, days_between, add_days):
        registry.register(handler, timeout=5.0)
    return registry


def builtin_registry() -> ToolRegistry:
    """A new registry with the built-in tools."""
    return register_builtins(ToolRegistry())
