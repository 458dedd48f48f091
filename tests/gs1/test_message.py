"""Typed results, output forms and the cross-package constructors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.gs1 import GS1Message, GS1ParseError, parse
from gateway.gs1.keys import GCN, GDTI, GIAI, GINC, GLN, GRAI, GSIN, GSRN, GTIN, ITIP, SSCC
from gateway.gs1.values import Country, DateRange, Money, PostalCode, Temperature, year_from_yy, yymmdd_to_date

GS = "\x1d"


def decoded(data: str, ai: str) -> object:
    element = parse(data).element(ai)
    assert element is not None
    return element.decoded


def test_element_fields_and_frozen() -> None:
    msg = parse("(01)09506000134352(17)201225(10)ABC123")
    e = msg.elements[1]
    assert (e.ai, e.title, e.value, e.decoded) == ("17", "USE BY or EXPIRY", "201225", date(2020, 12, 25))
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.value = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.kind = "x"  # type: ignore[misc]
    assert msg.dictionary_release == "2026-01-27"


@pytest.mark.parametrize(("data", "ai", "expected"), [
    ("(01)09506000134352(3103)000525", "3103", Decimal("0.525")),
    ("(01)09506000134352(3100)000525", "3100", Decimal("525")),
    ("(00)106141411234567897(3302)001234", "3302", Decimal("12.34")),
    ("(01)09506000134352(3103)000525(3922)12345", "3922", Decimal("123.45")),
    ("(01)09506000134352(3103)000525(3932)97812345", "3932", Money("978", Decimal("123.45"))),
    ("(255)9521234567899(3941)0150", "3941", Decimal("15.0")),
    ("(01)09506000134352(15)240200", "15", date(2024, 2, 29)),
    ("(01)09506000134352(7007)240101240131", "7007", DateRange(date(2024, 1, 1), date(2024, 1, 31))),
    ("(01)09506000134352(7007)240101", "7007", date(2024, 1, 1)),
    ("(01)09506000134352(7003)2401311530", "7003", datetime(2024, 1, 31, 15, 30)),
    ("(01)09506000134352(8008)24013115", "8008", datetime(2024, 1, 31, 15, 0)),
    ("(01)09506000134352(422)752", "422", Country("752")),
    ("(01)09506000134352(423)752276", "423", (Country("752"), Country("276"))),
    ("(421)75212345", "421", PostalCode(Country("752"), "12345")),
    ("(00)106141411234567897(4307)SE", "4307", Country("SE")),
    ("(01)09506000134352", "01", GTIN("09506000134352")),
    ("(00)106141411234567897", "00", SSCC("106141411234567897")),
    ("(414)9520123456788", "414", GLN("9520123456788")),
    ("(8003)0950600013435212345", "8003", GRAI("0950600013435212345")),
    ("(8004)9506000ABC", "8004", GIAI("9506000ABC")),
    ("(402)95060001234567893", "402", GSIN("95060001234567893")),
    ("(401)9506000XYZ", "401", GINC("9506000XYZ")),
    ("(253)9520123456788DOC1", "253", GDTI("9520123456788DOC1")),
    ("(8018)950600012345678907", "8018", GSRN("950600012345678907")),
    ("(255)9521234567899123", "255", GCN("9521234567899123")),
    ("(8006)095060001343520102", "8006", ITIP("095060001343520102")),
])
def test_decoded_values(data: str, ai: str, expected: object) -> None:
    assert decoded(data, ai) == expected


def test_key_helpers() -> None:
    gtin = GTIN("09506000134352")
    assert (gtin.check_digit, gtin.is_check_digit_valid, gtin.indicator, gtin.gs1_prefix) == ("2", True, "0", "950")
    assert gtin.company_prefix(7) == "9506000"
    assert not GTIN("09506000134353").is_check_digit_valid
    assert SSCC("106141411234567897").extension_digit == "1"
    grai = GRAI("0950600013435212345")
    assert (grai.base, grai.serial, grai.is_check_digit_valid) == ("9506000134352", "12345", True)
    itip = ITIP("095060001343520102")
    assert (itip.gtin, itip.piece, itip.total) == (GTIN("09506000134352"), 1, 2)
    with pytest.raises(ValueError):
        gtin.company_prefix(3)


def test_century_window_is_relative_to_today() -> None:
    assert year_from_yy(75, date(2026, 1, 1)) == 2075
    assert year_from_yy(77, date(2026, 1, 1)) == 1977
    assert yymmdd_to_date("990200", date(2026, 1, 1)) == date(1999, 2, 28)


def test_outputs() -> None:
    msg = parse("]d2010950600013435217201225" "10ABC" + GS + "21S/1" + GS + "3103000525")
    assert msg.as_hri() == "(01)09506000134352(17)201225(10)ABC(21)S/1(3103)000525"
    assert msg.as_element_string() == "010950600013435217201225" "10ABC" + GS + "21S/1" + GS + "3103000525"
    assert msg.as_digital_link("https://example.com/shop/") == (
        "https://example.com/shop/01/09506000134352/10/ABC/21/S%2F1?17=201225&3103=000525")
    assert parse(msg.as_digital_link()).pairs == (
        ("01", "09506000134352"), ("10", "ABC"), ("21", "S/1"), ("17", "201225"), ("3103", "000525"))
    doc = msg.to_json()
    assert doc["dictionary_release"] == "2026-01-27"
    assert doc["elements"][1] == {"ai": "17", "title": "USE BY or EXPIRY", "value": "201225",  # type: ignore[index]
                                  "decoded": "2020-12-25", "components": ["201225"]}


def test_digital_link_not_representable() -> None:
    # 8200 may not be a Digital Link attribute; 20 has no key at all: never silently dropped.
    with pytest.raises(GS1ParseError) as info:
        parse("(01)09506000134352(8200)https://example.com/").as_digital_link()
    assert info.value.problems[0].code == "dl-not-representable"
    msg = parse("(01)09506000134352(8200)https://example.com/")
    assert msg.to_json()["digital_link"] is None


def test_from_elements_validates() -> None:
    msg = GS1Message.from_elements([("01", "09506000134352"), ("21", "ABC")])
    assert msg.kind == "elements" and msg.as_hri() == "(01)09506000134352(21)ABC"
    with pytest.raises(GS1ParseError) as info:
        GS1Message.from_elements([("01", "09506000134353"), ("21", "ABC")])
    assert info.value.problems[0].code == "bad-check-digit"


def test_to_identifier() -> None:
    ident = parse("(01)09506000134352(21)32a").to_identifier()
    assert (ident.key_type, ident.key) == ("sgtin", "09506000134352.32a")
    assert ident.uri == "https://id.gs1.org/01/09506000134352/21/32a"


def test_package_import_is_light() -> None:
    code = "import sys, gateway.gs1; print('gateway.gs1._ai_table' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parents[2], check=True)
    assert out.stdout.strip() == "False"


def test_temperatures_decode_with_unit_and_sign() -> None:
    """AIs 4330-4333 (GenSpecs 3.9.x): six digits in hundredths of a degree, an optional trailing '-'."""
    message = parse("(00)340123450000001014(4330)010050(4333)000250-")
    decoded = {e.ai: e.decoded for e in message.elements}
    assert decoded["4330"] == Temperature(Decimal("100.50"), "F")
    assert decoded["4333"] == Temperature(Decimal("-2.50"), "C")


def test_composite_after_ean() -> None:
    msg = parse("]E09506000134352|]e01724123110ABC")
    assert msg.pairs == (("01", "09506000134352"), ("17", "241231"), ("10", "ABC"))
    assert msg.symbology == "]E0"
