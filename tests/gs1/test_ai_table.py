"""The generated AI table matches the vendored GS1 Barcode Syntax Dictionary."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from gateway.gs1._ai_table import AI_TABLE, DICTIONARY_RELEASE
from gateway.gs1.ai import AI_LENGTH_BY_PREFIX, APPLICATION_IDENTIFIERS, PREDEFINED_LENGTH

ROOT = Path(__file__).parents[2]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_ai_table", ROOT / "tools" / "gen_ai_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_module_is_up_to_date() -> None:
    gen = _generator()
    assert (ROOT / "gateway" / "gs1" / "_ai_table.py").read_text() == gen.generate(gen.DEFAULT_SOURCE)


def test_release_and_coverage() -> None:
    assert DICTIONARY_RELEASE == "2026-01-27"
    assert len(AI_TABLE) == 541
    assert set(APPLICATION_IDENTIFIERS) == set(AI_TABLE)
    assert AI_LENGTH_BY_PREFIX["41"] == 3 and AI_LENGTH_BY_PREFIX["43"] == 4 and AI_LENGTH_BY_PREFIX["72"] == 4


def test_entries_carry_everything() -> None:
    gtin = APPLICATION_IDENTIFIERS["01"]
    assert gtin.predefined_length and gtin.dl_attribute and gtin.ex == ("255", "37")
    assert gtin.dl_qualifiers == (("22", "10", "21"), ("235",))
    assert APPLICATION_IDENTIFIERS["37"].req == ((("00",),), (("02",), ("8026",)))
    assert APPLICATION_IDENTIFIERS["7004"].req == ((("01", "10"),),)
    assert APPLICATION_IDENTIFIERS["414"].dl_qualifiers == (("254",), ("7040",))
    assert APPLICATION_IDENTIFIERS["8006"].fnc1_required and "8006" not in PREDEFINED_LENGTH
    assert [c.optional for c in APPLICATION_IDENTIFIERS["423"].components] == [False, True, True, True, True]
    assert APPLICATION_IDENTIFIERS["3103"].decimal_places == 3
    assert PREDEFINED_LENGTH["00"] == 18 and PREDEFINED_LENGTH["3103"] == 6
