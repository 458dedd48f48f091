"""Typed values decoded from validated AI values.

>>> decode("17", "240200")              # day 00 means the last day of the month
datetime.date(2024, 2, 29)
>>> decode("3103", "000525")            # the 4th digit is the number of decimals
Decimal('0.525')
>>> decode("3932", "97812345")
Money(currency='978', amount=Decimal('123.45'))
>>> decode("7007", "240101240131")
DateRange(start=datetime.date(2024, 1, 1), end=datetime.date(2024, 1, 31))
>>> decode("422", "752")
Country(code='752')
>>> decode("01", "09506000134352")
GTIN(value='09506000134352')
>>> decode("4333", "000250-")          # min. temperature, hundredths of a degree C; '-' makes it negative
Temperature(degrees=Decimal('-2.50'), unit='C')

Values are assumed valid (the parser validated them first). Two-digit years use the
GenSpecs 7.12 window: -49 to +50 years around ``today``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from gateway.gs1.keys import KEY_TYPES


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its ISO 4217 numeric currency code (AIs 391n, 393n)."""

    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Country:
    """An ISO 3166 country code: numeric (``752``) or alpha-2 (``SE``) as the AI defines."""

    code: str


@dataclass(frozen=True, slots=True)
class Temperature:
    """AIs 4330-4333: maximum (4330 F, 4331 C) or minimum (4332 F, 4333 C) temperature."""

    degrees: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class DateRange:
    """AI 7007 with two dates."""

    start: date
    end: date


@dataclass(frozen=True, slots=True)
class PostalCode:
    """AI 421: country plus postal code."""

    country: Country
    code: str


def year_from_yy(yy: int, today: date | None = None) -> int:
    """Full year for a two-digit year, in the window -49..+50 years around ``today``."""
    current = (today or date.today()).year
    year = current - current % 100 + yy
    if year - current > 50:
        year -= 100
    elif year - current < -49:
        year += 100
    return year


def yymmdd_to_date(value: str, today: date | None = None) -> date:
    year = year_from_yy(int(value[:2]), today)
    month, day = int(value[2:4]), int(value[4:6])
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    return date(year, month, day)


def _yyyymmdd(value: str) -> date:
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:8])
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    return date(year, month, day)


def _with_time(d: date, hhmmss: str) -> datetime:
    parts = [int(hhmmss[i:i + 2]) for i in range(0, len(hhmmss), 2)]
    parts += [0] * (3 - len(parts))
    return datetime(d.year, d.month, d.day, parts[0], parts[1], parts[2])


def _decimal(digits: str, places: int) -> Decimal:
    return Decimal(int(digits)).scaleb(-places) if places else Decimal(int(digits))


_DATE_AIS = frozenset({"11", "12", "13", "15", "16", "17", "7006", "4326"})


def decode(ai: str, value: str, today: date | None = None) -> object | None:
    """The typed value of a valid element, or ``None`` when the raw string is all there is."""
    key_type = KEY_TYPES.get(ai)
    if key_type is not None:
        return key_type(value)
    if ai in _DATE_AIS:
        return yymmdd_to_date(value, today)
    head = ai[:3]
    if len(ai) == 4 and "310" <= head <= "369":
        return _decimal(value, int(ai[3]))
    if head in ("390", "392", "394", "395"):
        return _decimal(value, int(ai[3]))
    if head in ("391", "393"):
        return Money(value[:3], _decimal(value[3:], int(ai[3])))
    if ai in ("422", "424", "426"):
        return Country(value)
    if ai in ("423", "425"):
        return tuple(Country(value[i:i + 3]) for i in range(0, len(value), 3))
    if ai == "421":
        return PostalCode(Country(value[:3]), value[3:])
    if ai in ("4307", "4317"):
        return Country(value)
    if ai == "7007":
        start = yymmdd_to_date(value[:6], today)
        return DateRange(start, yymmdd_to_date(value[6:], today)) if len(value) == 12 else start
    if ai in ("7003", "4324", "4325", "8008") or (ai == "7011" and len(value) == 10):
        return _with_time(yymmdd_to_date(value[:6], today), value[6:])
    if ai == "7011":
        return yymmdd_to_date(value, today)
    if ai == "7250":
        return _yyyymmdd(value)
    if ai == "7251":
        return _with_time(_yyyymmdd(value[:8]), value[8:])
    if ai in ("4330", "4331", "4332", "4333"):
        degrees = _decimal(value[:6], 2)
        return Temperature(-degrees if value.endswith("-") else degrees, "F" if ai in ("4330", "4332") else "C")
    if ai in ("20", "30", "37", "8111"):
        return int(value)
    return None
