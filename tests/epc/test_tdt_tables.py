"""The codec's scheme tables agree with the GS1 TDT 2.2 definitions (copied into the fixtures)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.gs1.epc.classic import BY_NAME, GCP, PARTITIONS
from gateway.gs1.epc.plus import PLUS_BY_NAME

TDT = Path(__file__).resolve().parent.parent / "fixtures" / "epc" / "tdt-2.2"
SCHEME_FILES = sorted((TDT / "schemes").glob("*.json"))


def _scheme(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())["tdt:epcTagDataTranslation"]["scheme"]
    return data


def _binary(scheme: dict[str, object]) -> dict[str, object]:
    levels = scheme["level"]
    assert isinstance(levels, list)
    level: dict[str, object] = next(lv for lv in levels if lv["type"] == "BINARY")
    return level


@pytest.mark.parametrize("path", SCHEME_FILES, ids=lambda p: p.stem)
def test_header_and_length(path: Path) -> None:
    scheme = _scheme(path)
    name = str(scheme["name"]).lower()
    header = int(str(_binary(scheme)["prefixMatch"]), 2)
    if name in PLUS_BY_NAME:
        assert PLUS_BY_NAME[name].header == header
        return
    ours = BY_NAME[name]
    assert ours.header == header
    if "tagLength" in scheme:
        assert ours.bits == scheme["tagLength"]
    else:
        assert ours.bits is None


_PART_FAMILY_FIELD = {
    "sgtin-96": "itemref", "sgtin-198": "itemref", "itip-110": "itemref", "itip-212": "itemref",
    "sscc-96": "serialref", "gsrn-96": "serviceref", "gsrnp-96": "serviceref",
    "sgln-96": "locationref", "sgln-195": "locationref", "gdti-96": "doctype", "gdti-113": "doctype",
    "gdti-174": "doctype", "sgcn-96": "couponref", "grai-96": "assettype", "grai-170": "assettype",
    "giai-96": "indassetref", "giai-202": "indassetref", "cpi-96": "comppartref",
}


@pytest.mark.parametrize("name", sorted(_PART_FAMILY_FIELD))
def test_partition_tables(name: str) -> None:
    path = _file(name)
    options = _binary(_scheme(path))["option"]
    assert isinstance(options, list)
    family = BY_NAME[name].partition
    assert family is not None
    for option in options:
        digits = int(option["optionKey"])
        p = next(i for i, (d, _) in enumerate(GCP) if d == digits)
        assert f"'{p:03b}'" in option["grammar"]
        fields = {f["name"]: f for f in option["field"]}
        assert fields["gs1companyprefix"]["bitLength"] == GCP[p][1]
        other = fields[_PART_FAMILY_FIELD[name]]
        k, nbits = PARTITIONS[family][p]
        assert other["bitLength"] == nbits
        if family in ("sgtin", "sscc", "sgln", "grai"):
            assert other["length"] == k
        if family == "cpi96":
            assert other["decimalMaximum"] == "9" * k
        if family == "giai96":
            assert int(other["decimalMaximum"]) == (1 << nbits) - 1


def _file(name: str) -> Path:
    return next(p for p in SCHEME_FILES if p.stem.lower() == name)


def test_tail_field_bit_lengths() -> None:
    for name, scheme in BY_NAME.items():
        path = _file(name)
        option = _binary(_scheme(path))["option"][0]  # type: ignore[index]
        tdt_bits = [f.get("bitLength") for f in option["field"]]
        for kind, n in scheme.tail:
            if kind in ("int", "str7", "numstr", "fw2", "int12", "cage8"):
                assert n in tdt_bits, (name, kind, n)
        literals = re.findall(r"'([01]+)'", option["grammar"])
        if any(kind == "zero" for kind, _ in scheme.tail):
            assert any(set(lit) == {"0"} and len(lit) == 24 for lit in literals), name


def test_plus_scheme_ais() -> None:
    for path in SCHEME_FILES:
        scheme = _scheme(path)
        name = str(scheme["name"]).lower()
        if not name.endswith("+"):
            continue
        option = _binary(scheme)["option"][0]  # type: ignore[index]
        ours = PLUS_BY_NAME[name]
        if "encodedAI" in option:
            assert tuple(a["ai"] for a in option["encodedAI"]) == ours.ais
        assert ours.hostname == ("hostnameField" in option)
        assert ours.dated == (scheme.get("optionKey") == "dateType")


def test_generated_tables_are_fresh() -> None:
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_epc_tables", root / "tools" / "gen_epc_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == (root / "gateway" / "gs1" / "epc" / "_tdt_tables.py").read_text()
