"""Each symbology, drawn by the independent encoder, decodes byte-exact (GS kept) with its identifier."""

from __future__ import annotations

import random

import numpy as np
import pytest
import zxingcpp

from drivers.camera.decoders import PyzbarDecoder, ZxingDecoder, symbology_name
from gateway.gs1.check_digit import check_digit
from simulators.camera_sim.labels import SYMBOL_KINDS, element_string, make_label

GS = "\x1d"


def test_golden_element_string_and_check_digits() -> None:
    # GS1 General Specifications examples: SSCC 106141411234567897, GTIN 09506000134352
    assert check_digit("10614141123456789") == "7"
    assert check_digit("0950600013435") == "2"
    assert element_string([("01", "09506000134352"), ("10", "AB-123"), ("17", "261231")]) == \
        "0109506000134352" + "10AB-123" + GS + "17261231"
    assert element_string([("00", "106141411234567897"), ("410", "9506000134352")]) == \
        "00106141411234567897" + "4109506000134352"


def test_golden_gs1_128_with_separator() -> None:
    img = np.array(zxingcpp.create_barcode("(01)09506000134352(10)AB-123(17)261231", zxingcpp.BarcodeFormat.Code128,
                                           gs1=True).to_image(scale=3))
    [sym] = ZxingDecoder().decode(img)
    assert sym.raw == "]C1010950600013435210AB-123\x1d17261231"
    assert sym.symbology == "GS1-128" and sym.symbology_id == "]C1"
    assert len(sym.corners) == 4


@pytest.mark.parametrize("kind", SYMBOL_KINDS)
def test_every_symbology_reads_exact(kind: str) -> None:
    label = make_label(kind, random.Random(kind))
    [truth] = label.codes
    got = {s.raw: s for s in ZxingDecoder().decode(label.image)}
    assert truth.raw in got, (kind, truth.raw, list(got))
    assert got[truth.raw].symbology_id == truth.symbology_id
    if kind != "upc-a":  # zxing-cpp reports UPC-A as EAN-13 with a leading 0 (same ]E0 data)
        assert got[truth.raw].symbology == truth.symbology


@pytest.mark.parametrize("kind", ["gs1-128-content", "databar", "databar-expanded", "ean-13", "itf-14"])
def test_pyzbar_reads_what_it_supports(kind: str) -> None:
    label = make_label(kind, random.Random(3))
    [truth] = label.codes
    got = [s.raw for s in PyzbarDecoder().decode(label.image)]
    assert got == [truth.raw]  # inferred ]C1 for GS1 Code 128, GS kept


def test_logistic_label_has_sscc_content_and_ship_to() -> None:
    label = make_label("sscc-label", random.Random(9))
    ais = [c.pairs[0][0] for c in label.codes]
    assert ais == ["02", "410", "00"]
    assert {c.raw for c in label.codes} <= {s.raw for s in ZxingDecoder().decode(label.image)}


def test_symbology_names() -> None:
    assert symbology_name("Code 128", "]C0") == "Code 128"
    assert symbology_name("Data Matrix", "]d2") == "GS1 DataMatrix"
    assert symbology_name("ITF", "]I1") == "ITF-14"
