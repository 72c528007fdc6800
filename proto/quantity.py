"""Kubernetes resource quantities ("250m", "128Mi", "1e3", "2").

Pure helpers shared by the control plane, the agent and the CLI:

    parse("250m")        -> Fraction(1, 4)        value in base units
    cpu_millis("250m")   -> 250                   rounded up, like Kubernetes' MilliValue
    to_bytes("128Mi")    -> 134217728             rounded up, like Kubernetes' Value
    format_cpu(250)      -> "250m";  format_cpu(2000) -> "2"
    format_bytes(134217728) -> "128Mi"
    canonical("1000m")   -> "1"                   Kubernetes' canonical form

A malformed quantity raises QuantityError (a ValueError) whose message names the
value and carries Kubernetes' wording in `.reason`.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

__all__ = [
    "QUANTITY_REGEX",
    "QuantityError",
    "canonical",
    "cpu_millis",
    "format_bytes",
    "format_cpu",
    "from_number",
    "parse",
    "to_bytes",
]

QUANTITY_REGEX = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_FORMAT_MSG = f"quantities must match the regular expression '{QUANTITY_REGEX}'"
_SUFFIX_MSG = "unable to parse quantity's suffix"

_QUANTITY_RE = re.compile(QUANTITY_REGEX)
_NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$")
_EXPONENT_RE = re.compile(r"^[eE]([-+]?[0-9]+)$")

_DECIMAL: dict[str, int] = {
    "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}
_BINARY: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_MAX_EXPONENT = 64  # beyond any real resource; keeps Fractions small

_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL.items()}
_BINARY_DESC = sorted(_BINARY.items(), key=lambda kv: -kv[1])


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""

    def __init__(self, value: str, reason: str = _FORMAT_MSG) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f'invalid quantity "{value}": {reason}')


def _split(s: str) -> tuple[Fraction, str, str]:
    """(number, suffix, format) where format is 'decimal', 'binary' or 'exponent'."""
    if not isinstance(s, str):
        raise QuantityError(str(s), "a quantity must be a string")
    m = _QUANTITY_RE.match(s)
    if m is None or not _NUMBER_RE.match(m.group(1)):
        raise QuantityError(s)
    number, suffix = m.group(1), m.group(2)
    try:
        value = Fraction(number)
    except (ValueError, ZeroDivisionError):
        raise QuantityError(s) from None
    if suffix in _DECIMAL:
        return value, suffix, "decimal"
    if suffix in _BINARY:
        return value, suffix, "binary"
    em = _EXPONENT_RE.match(suffix)
    if em is not None:
        return value, suffix, "exponent"
    raise QuantityError(s, _SUFFIX_MSG)


@functools.lru_cache(maxsize=256)   # a few distinct strings, parsed at every container start
def parse(s: str) -> Fraction:
    """The value of a quantity in base units (cores, bytes, ...), exactly."""
    value, suffix, fmt = _split(s)
    if fmt == "binary":
        return value * (1 << _BINARY[suffix])
    exp = _DECIMAL[suffix] if fmt == "decimal" else int(suffix[1:])
    if abs(exp) > _MAX_EXPONENT:
        raise QuantityError(s, "quantity exponent is out of range")
    return value * Fraction(10) ** exp


def is_valid(s: str) -> bool:
    try:
        parse(s)
    except QuantityError:
        return False
    return True


def cpu_millis(s: str) -> int:
    """Millicores of a CPU quantity, rounded up ("0.1m" -> 1, "1.5" -> 1500)."""
    return math.ceil(parse(s) * 1000)


def to_bytes(s: str) -> int:
    """Integer value of a quantity (bytes for memory), rounded up."""
    return math.ceil(parse(s))


def format_cpu(millis: int) -> str:
    """250 -> "250m", 2000 -> "2", 0 -> "0"."""
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis}m"


def format_bytes(n: int) -> str:
    """The largest binary suffix that keeps the value whole: 134217728 -> "128Mi"."""
    if n == 0:
        return "0"
    for suffix, shift in _BINARY_DESC:
        if n % (1 << shift) == 0:
            return f"{n >> shift}{suffix}"
    return str(n)


def _format_decimal(v: Fraction) -> str:
    # Kubernetes keeps nano precision at most, rounding up.
    v = Fraction(math.ceil(v * 10**9), 10**9)
    if v == 0:
        return "0"
    for exp in (18, 15, 12, 9, 6, 3, 0, -3, -6, -9):
        scaled = v / Fraction(10) ** exp
        if scaled.denominator == 1:
            return f"{scaled.numerator}{_DECIMAL_BY_EXP[exp]}"
    raise AssertionError("unreachable: nano precision always divides")


def _format_exponent(v: Fraction) -> str:
    v = Fraction(math.ceil(v * 10**9), 10**9)
    if v == 0:
        return "0"
    for exp in range(18, -12, -3):
        scaled = v / Fraction(10) ** exp
        if scaled.denominator == 1:
            return f"{scaled.numerator}e{exp}" if exp else str(scaled.numerator)
    raise AssertionError("unreachable")


def canonical(s: str) -> str:
    """Kubernetes' canonical form of a quantity, keeping its format family.

    "1000m" -> "1", "0.5" -> "500m", "1024Mi" -> "1Gi", "0.5Gi" -> "512Mi",
    "1e3" -> "1e3", "1500" -> "1500".
    """
    _, _, fmt = _split(s)
    v = parse(s)
    if fmt == "binary":
        if -1024 < v < 1024 or v.denominator != 1:
            return _format_decimal(v)
        n = int(v)
        for suffix, shift in _BINARY_DESC:
            if n % (1 << shift) == 0:
                return f"{n >> shift}{suffix}"
        return str(n)
    if fmt == "exponent":
        return _format_exponent(v)
    return _format_decimal(v)


def from_number(x: int | float) -> str:
    """The canonical quantity string of a JSON/YAML number (`cpu: 0.5` -> "500m")."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise QuantityError(repr(x), "a quantity must be a string or a number")
    if isinstance(x, float) and not math.isfinite(x):
        raise QuantityError(repr(x))
    v = Fraction(x) if isinstance(x, int) else Fraction(repr(x))
    return _format_decimal(v)
