"""GS1 dates in element strings: AI 17 / 15 (YYMMDD, day 00 = last day of the month) and 7003
(YYMMDDHHMM), with the GS1 century rule applied relative to a reference year (never the wall clock).

>>> gs1_date("250200", 2025)
datetime.date(2025, 2, 28)
>>> gs1_date("240200", 2025), gs1_date("991231", 2025)
(datetime.date(2024, 2, 29), datetime.date(1999, 12, 31))
>>> gs1_datetime("2503011030", 2025)
datetime.datetime(2025, 3, 1, 10, 30, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import calendar
import datetime as dt


def _year(yy: int, reference_year: int) -> int:
    """GS1 General Specifications §7.12: a two-digit year within -49..+50 years of the reference."""
    century = reference_year - reference_year % 100
    diff = yy - reference_year % 100
    if diff >= 51:
        century -= 100
    elif diff <= -50:
        century += 100
    return century + yy


def gs1_date(value: str, reference_year: int) -> dt.date | None:
    """YYMMDD (DD = 00: last day of the month); ``None`` if not a valid date."""
    if len(value) != 6 or not value.isdigit():
        return None
    year = _year(int(value[:2]), reference_year)
    month, day = int(value[2:4]), int(value[4:6])
    if not 1 <= month <= 12:
        return None
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def gs1_datetime(value: str, reference_year: int) -> dt.datetime | None:
    """YYMMDDHHMM (AI 7003), taken as UTC."""
    if len(value) != 10 or not value.isdigit():
        return None
    day = gs1_date(value[:6], reference_year)
    hour, minute = int(value[6:8]), int(value[8:10])
    if day is None or int(value[4:6]) == 0 or hour > 23 or minute > 59:
        return None
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
