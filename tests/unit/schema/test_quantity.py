from fractions import Fraction

import pytest

from proto import quantity
from proto.quantity import QuantityError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("1", 1),
        ("250m", Fraction(1, 4)),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("100n", Fraction(1, 10**7)),
        ("5u", Fraction(5, 10**6)),
        ("2k", 2000),
        ("3M", 3 * 10**6),
        ("1G", 10**9),
        ("1T", 10**12),
        ("1P", 10**15),
        ("1E", 10**18),
        ("128Ki", 128 * 1024),
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("1Ti", 2**40),
        ("1Pi", 2**50),
        ("1Ei", 2**60),
        ("0.5Gi", 2**29),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1e-3", Fraction(1, 1000)),
        ("+5", 5),
        ("-1", -1),
        ("-250m", Fraction(-1, 4)),
    ],
)
def test_parse(text, value):
    assert quantity.parse(text) == value


@pytest.mark.parametrize(
    "bad", ["12X", "1.2.3", "", "abc", "1Ki3", "e3", ".", "1 Gi", "1mi", "1KB"]
)
def test_invalid(bad):
    with pytest.raises(QuantityError) as exc:
        quantity.parse(bad)
    assert f'"{bad}"' in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_error_message_names_regex():
    with pytest.raises(QuantityError) as exc:
        quantity.parse("12X")
    assert exc.value.reason == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    assert exc.value.value == "12X"


def test_huge_exponent_is_rejected_quickly():
    with pytest.raises(QuantityError):
        quantity.parse("1e999999999")


def test_cpu_millis_rounds_up():
    assert quantity.cpu_millis("250m") == 250
    assert quantity.cpu_millis("1") == 1000
    assert quantity.cpu_millis("1.5") == 1500
    assert quantity.cpu_millis("0.1m") == 1
    assert quantity.cpu_millis("100u") == 1


def test_to_bytes():
    assert quantity.to_bytes("128Mi") == 134217728
    assert quantity.to_bytes("1G") == 10**9
    assert quantity.to_bytes("1.5") == 2
    assert quantity.to_bytes("0") == 0


def test_format():
    assert quantity.format_cpu(250) == "250m"
    assert quantity.format_cpu(2000) == "2"
    assert quantity.format_cpu(0) == "0"
    assert quantity.format_cpu(1500) == "1500m"
    assert quantity.format_bytes(128 * 2**20) == "128Mi"
    assert quantity.format_bytes(2**30) == "1Gi"
    assert quantity.format_bytes(1000) == "1000"
    assert quantity.format_bytes(0) == "0"
    assert quantity.format_bytes(1536) == "1536"


@pytest.mark.parametrize(
    ("text", "canon"),
    [("1000m", "1"), ("0.5", "500m"), ("1024Mi", "1Gi"), ("0.5Gi", "512Mi"), ("1e3", "1e3"),
     ("1500", "1500"), ("128Mi", "128Mi"), ("1536Mi", "1536Mi"), ("2000", "2k"), ("0", "0")],
)
def test_canonical(text, canon):
    assert quantity.canonical(text) == canon
    assert quantity.parse(canon) == quantity.parse(text)


def test_from_number():
    assert quantity.from_number(1) == "1"
    assert quantity.from_number(0.5) == "500m"
    assert quantity.from_number(128) == "128"
    assert quantity.from_number(1e-5) == "10u"
    with pytest.raises(QuantityError):
        quantity.from_number(True)
    with pytest.raises(QuantityError):
        quantity.from_number(float("nan"))
