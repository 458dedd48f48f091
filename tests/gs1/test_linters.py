"""Every linter of the Syntax Dictionary with a passing and a failing case.

Cases follow the GS1 reference linters' own unit tests (gs1/gs1-syntax-engine
``src/c-lib/syntax/lint_*.c``).
"""

from __future__ import annotations

import pytest

from gateway.gs1._ai_table import AI_TABLE
from gateway.gs1.linters import LINTERS

CASES = {
    "csum": ("09506000134352", "09506000134353"),
    "csumalpha": ("1987654Ad4X4bL5ttr2310c2K", "1987654Ad4X4bL5ttr2310cXK"),
    "gcppos1": ("0123A", "012A"),
    "gcppos2": ("90123A", "9012A"),
    "yymmd0": ("240200", "241300"),
    "yymmdd": ("240229", "240200"),
    "yyyymmdd": ("20240229", "20230229"),
    "yyyymmd0": ("20230200", "20231301"),
    "hh": ("23", "24"),
    "mi": ("59", "60"),
    "ss": ("00", "61"),
    "hhmi": ("2359", "2360"),
    "iso3166": ("752", "999"),
    "iso3166999": ("999", "998"),
    "iso3166alpha2": ("SE", "XX"),
    "iso4217": ("978", "000"),
    "iso5218": ("9", "3"),
    "iban": ("GB98MIDL07009312345678", "BE71096123456760"),
    "mediatype": ("80", "11"),
    "packagetype": ("BGE", "ZZZ"),
    "importeridx": ("_", "!"),
    "pieceoftotal": ("0102", "0301"),
    "posinseqslash": ("1/2", "3/2"),
    "latitude": ("1800000000", "1800000001"),
    "longitude": ("3600000000", "3600000001"),
    "winding": ("9", "2"),
    "yesno": ("1", "2"),
    "hyphen": ("-", "+"),
    "pcenc": ("A%20B", "A%2G"),
    "zero": ("0", "1"),
    "nonzero": ("0001", "0000"),
    "nozeroprefix": ("10", "01"),
    "hasnondigit": ("123A", "1234"),
    "couponcode": ("012345612345611110123", "71234567890123"),
    "couponposoffer": ("001234561234560123456", "0012345612345601234567"),
    "csetnumeric": ("0123", "01A3"),
    "cset82": ("AZaz09!\"%&'()*+,-./:;<=>?_", "A B"),
    "cset39": ("AZ09#-/", "az"),
    "cset64": ("12=", "123="),
}


def test_every_dictionary_linter_is_implemented_and_tested() -> None:
    used = {name for entry in AI_TABLE.values() for comp in entry[3] for name in comp[4]}
    assert used <= set(LINTERS)
    assert used <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_linter_pass_and_fail(name: str) -> None:
    good, bad = CASES[name]
    assert LINTERS[name](good) is None
    result = LINTERS[name](bad)
    assert result is not None
    _code, offset, detail = result
    assert 0 <= offset <= len(bad) and detail


def test_coupon_expiry_before_start() -> None:
    assert LINTERS["couponcode"]("0123456123456111101233241231") is None
    assert LINTERS["couponcode"]("01234561234561111012332412314250101") is not None


def test_check_digit_positions() -> None:
    assert LINTERS["csum"]("106141411234567890") == ("bad-check-digit", 17, "check digit should be 7, not 0")
