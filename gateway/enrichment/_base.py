"""Shared pydantic base and constrained types for the intake models."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from gateway.enrichment.keys import gs1_ok, iso6346_ok, lei_ok
from gateway.gs1.codelists import ISO3166_ALPHA2, ISO3166_NUMERIC


class Wire(BaseModel):
    """camelCase on the wire (as in the research note), snake_case in Python; unknown keys rejected.

    Numbers are refused, with their field path, rather than lost: ``NaN`` and ``Infinity`` (``1e999``
    parses as infinity) would otherwise pass a ``ge=0`` bound and come out as ``null``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True,
                              str_strip_whitespace=True, allow_inf_nan=False)


# The largest integer the store can keep (SQLite INTEGER is a signed 64-bit number).
STORE_INT_MAX = 2**63 - 1


def _digits(n: int, what: str, check: bool = True) -> Callable[[str], str]:
    def validate(value: str) -> str:
        if len(value) != n or not value.isascii() or not value.isdigit():
            raise ValueError(f"{what} must be {n} digits, got {value!r}")
        if check and not gs1_ok(value):
            raise ValueError(f"{what} {value!r}: bad check digit")
        return value
    return validate


def _gtin(value: str) -> str:
    if value.isascii() and value.isdigit() and len(value) in (8, 12, 13):
        value = value.rjust(14, "0")  # GTIN-8/12/13 as in AI (01)
    return _digits(14, "GTIN")(value)


def _hs6(value: str) -> str:
    if not re.fullmatch(r"[0-9]{6}", value):
        raise ValueError(f"HS sub-heading must be 6 digits, got {value!r}")
    return value


def _country(value: str) -> str:
    if value.upper() in ISO3166_ALPHA2:
        return value.upper()
    if value in ISO3166_NUMERIC:
        return value
    raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 or numeric country code")


def _container(value: str) -> str:
    if not iso6346_ok(value):
        raise ValueError(f"{value!r} is not an ISO 6346 container id (owner code, serial, check digit)")
    return value.replace(" ", "").replace("-", "").upper()


def _lei(value: str) -> str:
    if not lei_ok(value):
        raise ValueError(f"{value!r} is not a valid LEI (ISO 17442, MOD 97-10 check)")
    return value


def _eori(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}[A-Za-z0-9]{1,15}", value):
        raise ValueError(f"{value!r} is not an EORI (country code + up to 15 letters/digits)")
    return value


def _unlocode(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}[A-Z2-9]{3}", value):
        raise ValueError(f"{value!r} is not a UN/LOCODE (2 letters + 3 characters)")
    return value


def _un_number(value: str) -> str:
    if not re.fullmatch(r"[0-9]{4}", value):
        raise ValueError(f"UN number must be 4 digits, got {value!r}")
    return value


GTIN = Annotated[str, AfterValidator(_gtin)]
SSCC = Annotated[str, AfterValidator(_digits(18, "SSCC"))]
GLN = Annotated[str, AfterValidator(_digits(13, "GLN"))]
GSIN = Annotated[str, AfterValidator(_digits(17, "GSIN"))]
HS6 = Annotated[str, AfterValidator(_hs6)]
Country = Annotated[str, AfterValidator(_country)]
ContainerId = Annotated[str, AfterValidator(_container)]
LEI = Annotated[str, AfterValidator(_lei)]
EORI = Annotated[str, AfterValidator(_eori)]
UNLocode = Annotated[str, AfterValidator(_unlocode)]
UNNumber = Annotated[str, AfterValidator(_un_number)]
