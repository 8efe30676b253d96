"""A calculator for the model that cannot be turned into anything else (DESIGN.md: built-in
tools never use ``eval``).

The expression is parsed with :mod:`ast` and walked over a whitelist: numbers, ``+ - * / // % **``
(also written ``× ÷ − ^``), parentheses, unary signs, the constants ``pi``, ``e``, ``tau`` and a
few math functions. Everything else — names, attributes, subscripts, keywords, strings, lambdas —
is rejected before anything is computed. Work is bounded up front: the expression's length and
node count, and the size of every intermediate integer is checked *before* the operation that
would produce it (``9**9**9`` is refused in microseconds, not computed for hours).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Final

from .errors import InvalidInputError

MAX_EXPRESSION_LENGTH: Final = 500
MAX_NODES: Final = 200
MAX_INT_BITS: Final = 1024  # about 1.8e308: beyond it an answer is not useful to read aloud
MAX_FACTORIAL: Final = 170  # the largest n whose n! fits a float

Number = int | float

_CONSTANTS: Final[dict[str, float]] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _factorial(n: Number) -> Number:
    if isinstance(n, float):
        if not n.is_integer():
            raise CalculatorError("factorial needs a whole number.")
        n = int(n)
    if n < 0 or n > MAX_FACTORIAL:
        raise CalculatorError(f"factorial needs a whole number from 0 to {MAX_FACTORIAL}.")
    return math.factorial(n)


def _round(x: Number, digits: Number = 0) -> Number:
    if not isinstance(digits, int) or not -20 <= digits <= 20:
        raise CalculatorError("round's second argument must be a whole number from -20 to 20.")
    return round(x, digits)


def _log(x: Number, base: Number = math.e) -> Number:
    return math.log(x, base)


# name → (function, minimum arguments, maximum arguments)
_FUNCTIONS: Final[dict[str, tuple[Callable[..., Number], int, int]]] = {
    "sqrt": (math.sqrt, 1, 1),
    "exp": (math.exp, 1, 1),
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "degrees": (math.degrees, 1, 1),
    "radians": (math.radians, 1, 1),
    "hypot": (math.hypot, 1, 10),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "min": (min, 1, 20),
    "max": (max, 1, 20),
    "factorial": (_factorial, 1, 1),
}

_SPELLINGS: Final = str.maketrans({"×": "*", "÷": "/", "−": "-", "^": "**"})
_ALLOWED_NODES: Final = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Constant,
    ast.Name,
    ast.Call,
    ast.Load,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.UAdd,
    ast.USub,
)


class CalculatorError(InvalidInputError):
    """The expression is not allowed, not valid, or its result is out of range."""


def evaluate(expression: str) -> Number:
    """The value of ``expression``; raises :class:`CalculatorError` with a reason."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise CalculatorError(
            f"The expression is too long ({len(expression)} characters; "
            f"at most {MAX_EXPRESSION_LENGTH})."
        )
    text = expression.translate(_SPELLINGS).strip()
    if not text:
        raise CalculatorError("The expression is empty.")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise CalculatorError(f"{expression!r} is not an arithmetic expression.") from None
    for nodes, node in enumerate(ast.walk(tree), start=1):
        if nodes > MAX_NODES:
            raise CalculatorError(f"The expression is too complex (more than {MAX_NODES} parts).")
        if not isinstance(node, _ALLOWED_NODES):
            raise CalculatorError(f"{type(node).__name__} is not allowed in a calculation.")
    try:
        result = _eval(tree.body)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
        raise CalculatorError(_describe(exc)) from None
    if isinstance(result, float) and not math.isfinite(result):
        raise CalculatorError("The result is not a finite number.")
    return result


def _describe(exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError):
        return "Division by zero."
    if isinstance(exc, OverflowError):
        return "The result is too large."
    if isinstance(exc, CalculatorError):
        return exc.message
    return f"Math error: {exc}."


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalculatorError(f"{value!r} is not a number.")
        _check_int(value)
        return value
    if isinstance(node, ast.Name):
        if node.id not in _CONSTANTS:
            raise CalculatorError(f"Unknown name {node.id!r}; known constants: pi, e, tau.")
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        return _binary(node.op, _eval(node.left), _eval(node.right))
    if isinstance(node, ast.Call):
        return _call(node)
    raise CalculatorError(f"{type(node).__name__} is not allowed in a calculation.")


def _binary(op: ast.operator, left: Number, right: Number) -> Number:
    if isinstance(op, ast.Add):
        return _check_int(left + right)
    if isinstance(op, ast.Sub):
        return _check_int(left - right)
    if isinstance(op, ast.Mult):
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(abs(left).bit_length() + abs(right).bit_length())
        return left * right
    if isinstance(op, ast.Div):
        return left / right
    if isinstance(op, ast.FloorDiv):
        return left // right
    if isinstance(op, ast.Mod):
        return left % right
    if isinstance(op, ast.Pow):
        return _power(left, right)
    raise CalculatorError(f"{type(op).__name__} is not allowed in a calculation.")


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if abs(base) > 1:
            # A lower bound of the bit length of base**exponent, known before computing it:
            # past the limit it is refused at once; under it the result has at most about
            # twice the limit's bits, which is cheap to compute and then checked exactly.
            _check_bits(exponent * (abs(base).bit_length() - 1) + 1)
        return _check_int(int(base**exponent))
    return math.pow(float(base), float(exponent))  # raises OverflowError rather than hanging


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        name = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
        raise CalculatorError(
            f"{name!r} is not an allowed function; allowed: {', '.join(sorted(_FUNCTIONS))}."
        )
    if node.keywords:
        raise CalculatorError("Keyword arguments are not allowed.")
    function, least, most = _FUNCTIONS[node.func.id]
    if not least <= len(node.args) <= most:
        raise CalculatorError(f"{node.func.id} takes {least} to {most} arguments.")
    result = function(*(_eval(argument) for argument in node.args))
    return _check_int(result)


def _check_int(value: Number) -> Number:
    if isinstance(value, int):
        _check_bits(value.bit_length())
    return value


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise CalculatorError("The result is too large.")
