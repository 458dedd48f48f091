"""Compressed GS1 Digital Link URIs: golden vectors, round trips, errors, fuzzing, interop.

Golden vectors (tests/fixtures/gs1/dl_compressed.json) come from three independent
implementations of the DL compression: the .NET Gs1DigitalLinkLib, gs1-compression and the
GS1 DL toolkit.  The ``interop`` tests run gs1-compression itself (installs as ``gs1``).
"""

from __future__ import annotations

import base64
import doctest
import importlib
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.gs1 import GS1ParseError, parse
from gateway.gs1.dl_compression import (
    ALPHABET,
    OPTIMISATIONS,
    CompressedDataError,
    decode_payload,
    encode_payload,
    value_format,
)
from gateway.gs1.errors import (
    DL_COMPRESSED,
    DL_DUPLICATE_AI,
    DL_NO_PRIMARY_KEY,
    DL_NOT_AN_ATTRIBUTE,
    DL_NOT_REPRESENTABLE,
    DL_QUALIFIER_ORDER,
)
from gateway.gs1.message import GS1Message
from tests.support.fuzz import FUZZ_EXAMPLES

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "gs1" / "dl_compressed.json").read_text())
VECTORS: list[dict[str, Any]] = FIXTURE["vectors"]


def _stem(uri: str) -> str:
    scheme, rest = uri.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _codes(data: str) -> list[str]:
    with pytest.raises(GS1ParseError) as info:
        parse(data)
    return [p.code for p in info.value.problems]


def _strictly_valid(uri: str) -> bool:
    try:
        parse(uri)
    except GS1ParseError:
        return False
    return True


def test_docstring_examples() -> None:
    module = importlib.import_module("gateway.gs1.dl_compression")
    assert doctest.testmod(module).failed == 0


# --- golden vectors ---------------------------------------------------------------------------

@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["compressed"].rsplit("/", 1)[-1])
def test_golden_payload_bits(vector: dict[str, Any]) -> None:
    """Bit level, for every vector (also those whose data our validator rejects)."""
    pairs = [tuple(p) for p in vector["pairs"]]
    packed = pairs[1:] if vector["uncompressed_primary"] else pairs
    if not packed:  # nothing to pack: the "partially compressed" URI is the plain one
        assert vector["compressed"] == vector["uri"]
        return
    segment = vector["compressed"].rsplit("/", 1)[-1]
    assert encode_payload(packed) == segment
    decoded, extensions = decode_payload(segment)
    assert dict(decoded) == dict(packed) and len(decoded) == len(packed)
    assert extensions == []


@pytest.mark.parametrize("vector", [v for v in VECTORS if _strictly_valid(v["uri"])],
                         ids=lambda v: v["compressed"].rsplit("/", 1)[-1])
def test_golden_uris_both_ways(vector: dict[str, Any]) -> None:
    msg = parse(vector["uri"])
    partial = vector["uncompressed_primary"]
    assert msg.to_compressed_digital_link(uncompressed_primary=partial) == vector["compressed"]
    back = parse(vector["compressed"])
    assert back.kind == "digital-link"
    assert back.pairs == msg.pairs  # key, qualifiers in path order, then attributes
    assert back.as_digital_link() == vector["uri"]


@pytest.mark.parametrize("vector", FIXTURE["extensions"] + FIXTURE["other"], ids=lambda v: v["compressed"])
def test_golden_uris_with_domains_and_extensions(vector: dict[str, Any]) -> None:
    msg = parse(vector["uri"])
    stem = _stem(vector["uri"])
    got = msg.to_compressed_digital_link(stem, uncompressed_primary=vector.get("uncompressed_primary", False),
                                         compress_extensions=vector.get("compress_extensions", False))
    assert got == vector["compressed"]
    back = parse(vector["compressed"])
    assert back.as_digital_link(stem) == vector["uri"]
    assert back.extensions == msg.extensions


def test_any_domain_and_stem_path_and_fragment() -> None:
    for uri in ("https://example.com/AQnYUc1gmiCNV4JG", "http://brand.example/shop/p/AQnYUc1gmiCNV4JG#x",
                "HTTPS://example.com/a/b/01/05412345000013/EEarwSM"):
        assert parse(uri).pairs == (("01", "05412345000013"), ("10", "ABC123"))


def test_scanner_data_carrying_a_compressed_uri() -> None:
    assert parse("]Q1https://id.gs1.org/AQnYUc1gmiCNV4JG").get("10") == "ABC123"


def test_toolkit_table_quirks_are_kept() -> None:
    """Where the DL toolkit froze older AI formats, the wire format follows the toolkit."""
    assert value_format("8007") == ((False, 24, True),)
    assert value_format("7230") == ((False, 30, True),)
    assert value_format("7040") == ((True, 1, False), (False, 3, False))  # newer AI: from the dictionary
    assert OPTIMISATIONS["1A"] == ("01", "10", "21", "17") and len(OPTIMISATIONS) == 52


# --- round trips ------------------------------------------------------------------------------

def test_numeric_encoded_text_keeps_leading_zeros() -> None:
    """Both reference decoders return lot '0012' as '12'; the digit count is in the data."""
    msg = parse("(01)09506000134352(10)0012(30)0007(21)000")
    for partial in (False, True):
        back = parse(msg.to_compressed_digital_link(uncompressed_primary=partial))
        assert dict(back.pairs) == dict(msg.pairs)


def test_optimisation_codes() -> None:
    msg = parse("(01)09506000134352(17)271231(10)L1(21)S9")
    uri = msg.to_compressed_digital_link(optimise=True)
    assert decode_payload(uri.rsplit("/", 1)[1])[0][:4] == [("01", "09506000134352"), ("10", "L1"),
                                                              ("21", "S9"), ("17", "271231")]
    assert base64.urlsafe_b64decode(uri.rsplit("/", 1)[1][:2] + "==")[0] == 0x1A  # one byte for 01+10+21+17
    assert dict(parse(uri).pairs) == dict(msg.pairs)
    assert len(uri) < len(msg.to_compressed_digital_link())


_CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
# gs1-compression's stale regexes reject ':;<=>?' (in CSET 82 since 2019): left out of interop inputs
_TOOLKIT_SAFE = "".join(c for c in _CSET82 if c not in ":;<=>?")
_TEXT = st.text(alphabet=st.sampled_from(_CSET82 + "0123456789ABCDEFabcdef"), min_size=1, max_size=20)


def _gtin(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str(-total % 10)


@st.composite
def messages(draw: st.DrawFn, text: st.SearchStrategy[str] = _TEXT) -> GS1Message:
    pairs = [("01", _gtin(draw(st.text(alphabet="0123456789", min_size=13, max_size=13))))]
    if draw(st.booleans()):
        pairs.append(("10", draw(text)))
    if draw(st.booleans()):
        pairs.append(("21", draw(text)))
    if draw(st.booleans()):
        pairs.append(("17", f"{draw(st.integers(0, 99)):02d}{draw(st.integers(1, 12)):02d}"
                            f"{draw(st.integers(1, 28)):02d}"))
    if draw(st.booleans()):
        pairs.append((f"310{draw(st.integers(0, 5))}", draw(st.text(alphabet="0123456789", min_size=6,
                                                                        max_size=6))))
    if draw(st.booleans()):
        pairs.append(("30", draw(st.text(alphabet="0123456789", min_size=1, max_size=8))))
    msg = GS1Message.from_elements(pairs)
    extensions = draw(st.lists(st.tuples(st.text(alphabet=ALPHABET, min_size=1, max_size=6).filter(
        lambda k: not k.isdigit()), st.text(alphabet=st.characters(codec="ascii"), max_size=10)),
        max_size=2, unique_by=lambda kv: kv[0]))
    return GS1Message(msg.data, msg.kind, msg.pairs, extensions=tuple(extensions))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(messages(), st.booleans(), st.booleans(), st.booleans())
def test_round_trip_is_lossless(msg: GS1Message, partial: bool, optimise: bool, inline: bool) -> None:
    uri = msg.to_compressed_digital_link("https://example.com/p", uncompressed_primary=partial,
                                         optimise=optimise, compress_extensions=inline)
    back = parse(uri)
    assert dict(back.pairs) == dict(msg.pairs) and len(back.pairs) == len(msg.pairs)
    assert sorted(back.extensions) == sorted(msg.extensions)


# --- errors -------------------------------------------------------------------------------------

def _payload(bits: str) -> str:
    bits += "0" * (-len(bits) % 6)
    return "".join(ALPHABET[int(bits[i:i + 6], 2)] for i in range(0, len(bits), 6))


GTIN_BITS = "00000001" + format(5412345000013, "047b")


@pytest.mark.parametrize(("segment", "fragment"), [
    ("AQnYUc1gmiCNV4", "ends inside a field"),                    # truncated lot
    ("AQnYUc1gmiCNV4JGQhcNT6K6", "ends inside a field"),          # truncated serial
    (_payload("1101" "0101" + "0" * 40), "neither an AI prefix nor an optimisation code"),
    (_payload("0101" "1001" + "0" * 40), "no Application Identifier starts with 59"),
    (_payload("0100" "0001" "1010" + "0" * 40), "is not all digits"),      # 41A...
    (_payload(GTIN_BITS + "11"), "trailing bits"),
    (_payload("00000001" + "1" * 47), "does not fit in 14 digits"),
    (_payload(GTIN_BITS + "00010000" "101" "00001" + "0" * 10), "unknown character encoding 5"),
    (_payload(GTIN_BITS + "1111" "0000000" + "0" * 20), "non-GS1 key is empty"),
])
def test_malformed_payloads_are_typed_errors(segment: str, fragment: str) -> None:
    uri = f"https://id.gs1.org/{segment}"
    with pytest.raises(GS1ParseError) as info:
        parse(uri)
    (found,) = info.value.problems
    assert found.code == DL_COMPRESSED and fragment in found.message
    assert len("https://id.gs1.org/") <= found.position < len(uri)
    with pytest.raises(CompressedDataError):
        decode_payload(segment)


def test_structurally_valid_but_not_a_digital_link() -> None:
    assert _codes(f"https://id.gs1.org/{encode_payload([('17', '291231')])}") == [DL_NO_PRIMARY_KEY]
    assert DL_NOT_AN_ATTRIBUTE in _codes(
        f"https://id.gs1.org/{encode_payload([('414', '9520012345674'), ('21', 'X')])}")
    duplicate = _payload(GTIN_BITS + GTIN_BITS)
    assert DL_DUPLICATE_AI in _codes(f"https://id.gs1.org/{duplicate}")
    conflicting = encode_payload([("01", "05412345000013"), ("22", "A"), ("235", "B")])
    assert DL_QUALIFIER_ORDER in _codes(f"https://id.gs1.org/{conflicting}")
    # a compressed key is also checked against the query string
    assert DL_DUPLICATE_AI in _codes("https://id.gs1.org/AQnYUc1gmiCNV4JGLo3DY?17=290331")
    assert _codes("https://id.gs1.org/AQnYUc1gmiCNV4JG?10=ABC123") == ["dl-qualifier-in-query"]


def test_plain_words_still_mean_no_primary_key() -> None:
    assert _codes("https://id.gs1.org/products/123") == ["dl-no-primary-key"]
    assert _codes("https://id.gs1.org/410/5060917510004") == ["dl-no-primary-key"]
    assert _codes("https://example.com/about-us") == [DL_COMPRESSED]


def test_not_representable() -> None:
    with pytest.raises(GS1ParseError) as info:
        GS1Message("(17)291231", "hri", (("17", "291231"),)).to_compressed_digital_link()
    assert info.value.problems[0].code == DL_NOT_REPRESENTABLE
    with pytest.raises(ValueError, match="5-bit length"):
        encode_payload([("8007", "GB33BUKB20201555555555GB33BUKB2020")])  # 34 > 31, the toolkit's limit
    iban = [("8007", "FR7630006000011234567890189")]  # 27 > 24 (the toolkit's table) but fits 5 bits
    assert decode_payload(encode_payload(iban))[0] == iban


# --- fuzzing ------------------------------------------------------------------------------------

_PREFIXES = st.sampled_from(["", "AQnYUc1gm", "EEarwSM", "gBe1ajAd9AT", "QUSaVjC_d", "8", "_", "A"])


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_PREFIXES, st.text(alphabet=ALPHABET, max_size=60), st.sampled_from(
    ["https://id.gs1.org/", "https://example.com/s/", "https://id.gs1.org/01/09506000134352/",
     "https://id.gs1.org/8006/095060001343520102/"]), st.sampled_from(["", "?17=201225&k=v", "#f"]))
def test_fuzz_base64url_paths_only_raise_gs1_parse_error(prefix: str, body: str, stem: str, tail: str) -> None:
    try:
        msg = parse(stem + prefix + body + tail)
    except GS1ParseError as exc:
        assert exc.problems
        return
    # whatever decodes must compress back to something that decodes to the same data
    again = parse(msg.to_compressed_digital_link(compress_extensions=True))
    assert dict(again.pairs) == dict(msg.pairs)


# --- interop with gs1-compression (PyPI, imports as ``gs1``) --------------------------------------

INTEROP_URIS = [
    "https://id.gs1.org/01/09506000134352",
    "https://id.gs1.org/01/09506000134352/10/ABC123/21/XYZ?17=201225",
    "https://id.gs1.org/01/09506000134352/22/CPV-1/10/Lot%2F7?3103=000525&15=270101",
    "https://id.gs1.org/01/09506000134352/21/abcdef0123?3922=1250&3103=000525",
    "https://id.gs1.org/00/106141411234567897?02=09506000134352&37=25",
    "https://id.gs1.org/414/9520012345674/254/A-12",
    "https://id.gs1.org/8003/0950600013435212345",
    "https://id.gs1.org/8004/95060001343X!%25",
    "https://id.gs1.org/8010/0950600013435%23GH33/8011/123",
    "https://id.gs1.org/8018/950600013435200008/8019/12",
    "https://id.gs1.org/253/950600013435212345",
    "https://id.gs1.org/255/9506000134352123?3900=100",
    "https://id.gs1.org/01/09506000134352?7007=251201251231&421=276D-80331",
]


@pytest.fixture(scope="module")
def gs1c() -> Any:
    compress_mod = pytest.importorskip("gs1.compress.core_functions", reason="gs1-compression is not installed")
    analyse_mod = importlib.import_module("gs1.decompress.analyse_uri")
    logging.getLogger("__name__").disabled = True  # it logs stack traces on every error
    return compress_mod, analyse_mod


@pytest.mark.interop
def test_interop_tables_agree(gs1c: Any) -> None:
    from gateway.gs1.ai import AI_LENGTH_BY_PREFIX

    constants = importlib.import_module("gs1.constants")
    TABLE_F, TABLE_OPT, TABLE_P = constants.TABLE_F, constants.TABLE_OPT, constants.TABLE_P

    for ai, spec in TABLE_F.items():
        theirs = tuple((part["E"] == "N", int(part.get("L", part.get("M"))), "M" in part) for part in spec)
        assert value_format(ai) == theirs, ai
    assert {code: tuple(seq) for code, seq in TABLE_OPT.items()} == OPTIMISATIONS
    assert list(TABLE_OPT) == list(OPTIMISATIONS)  # tie-breaking follows the table order
    for prefix, length in TABLE_P.items():
        assert AI_LENGTH_BY_PREFIX[prefix] == length


@pytest.mark.interop
@pytest.mark.parametrize("uri", INTEROP_URIS)
def test_interop_byte_exact_and_mutual_decoding(gs1c: Any, uri: str) -> None:
    compress_mod, analyse_mod = gs1c
    msg = parse(uri)
    theirs = compress_mod.compress_gs1_digital_link(uri)
    ours = msg.to_compressed_digital_link()
    assert ours == theirs
    assert dict(parse(theirs).pairs) == dict(msg.pairs)
    optimised = msg.to_compressed_digital_link(optimise=True)  # their encoder crashes on optimisation
    assert dict(parse(optimised).pairs) == dict(msg.pairs)
    if _their_decoder_handles(msg.pairs):
        assert analyse_mod.extract_from_compressed_gs1_digital_link(ours)["GS1"] == dict(msg.pairs)
        assert analyse_mod.extract_from_compressed_gs1_digital_link(optimised)["GS1"] == dict(msg.pairs)


def _their_decoder_handles(pairs: tuple[tuple[str, str], ...]) -> bool:
    """gs1-compression 0.1.3 decodes variable-length numeric parts as *binary* digits ('25' -> '11001')
    and drops the leading zeros of digit-only text: leave those cases out of the reverse check."""
    for ai, value in pairs:
        if any(numeric and variable for numeric, _, variable in value_format(ai)):
            return False
        if value.isdigit() and value.startswith("0") and not value_format(ai)[0][0]:
            return False
    return True


@pytest.mark.interop
@pytest.mark.parametrize("hri", ["(01)09506000134352(10)ABC123(17)201225", "(01)00614141123452(3103)000500",
                                 "(00)106141411234567897", "(414)9520012345674(254)A-12",
                                 "(01)09506000134352(7003)2512311200(10)0A"])
def test_interop_element_strings(gs1c: Any, hri: str) -> None:
    compress_mod, _ = gs1c
    msg = parse(hri)
    theirs = compress_mod.element_string_to_compressed_gs1_digital_link(hri, False, "https://id.gs1.org")
    assert msg.to_compressed_digital_link() == theirs
    if len(msg.pairs) > 1:
        theirs_partial = compress_mod.element_string_to_compressed_gs1_digital_link(
            hri, False, "https://id.gs1.org", True)
        assert msg.to_compressed_digital_link(uncompressed_primary=True) == theirs_partial


ANCHOR_BARE_STEM = "https://id.gs1.org/"


def _anchor_reads_a_value_as_the_key(uri: str) -> bool:
    """gs1-compression 0.1.3 finds the primary key by scanning the URI path *from its end* for a segment
    that names a primary-key AI (digits such as ``00``, ``01``, ``414``, ``8003``, or a short name such as
    ``gtin``), without telling keys from values.  A key qualifier whose value reads as such a key
    (``/01/09506000134352/21/00``, ``/10/gtin``) is taken for the primary key: with nothing valid after it,
    it finds no AI at all and compresses the link to the bare stem ``https://id.gs1.org/``; with
    ``/10/gtin/21/7`` it reads ``21`` as the GTIN and encodes other AIs.  The URIs are valid Digital Links
    (ours take them: ``test_anchor_bug_a_value_that_reads_as_a_key``); the interop comparison leaves them out.
    """
    constants = importlib.import_module("gs1.constants")
    keys = set(constants.AI_MAPS["identifiers"])  # the primary keys: 00, 01, 253, 414, 8003 ...
    values = urlsplit(uri).path.split("/")[2::2]  # /key/value/qualifier/value/...: the values
    return any(constants.SHORT_CODE_TO_NUMERIC.get(v, v) in keys for v in values[1:])


@pytest.mark.interop
def test_anchor_bug_a_value_that_reads_as_a_key(gs1c: Any) -> None:
    """The case hypothesis found: (01)00000000000000(21)00.  The anchor's answer is wrong (no AI at all);
    ours round-trips and equals the anchor's own bits for the same message with another serial."""
    compress_mod, _ = gs1c
    msg = parse("(01)00000000000000(21)00")
    uri = msg.as_digital_link()
    assert uri == "https://id.gs1.org/01/00000000000000/21/00" and _anchor_reads_a_value_as_the_key(uri)
    assert compress_mod.compress_gs1_digital_link(uri) == ANCHOR_BARE_STEM  # their bug, confirmed
    ours = msg.to_compressed_digital_link()
    assert ours != ANCHOR_BARE_STEM and dict(parse(ours).pairs) == {"01": "00000000000000", "21": "00"}
    # the same message with a serial the anchor reads right: identical bits up to the serial's value
    other = parse("(01)00000000000000(21)02").to_compressed_digital_link()
    assert compress_mod.compress_gs1_digital_link("https://id.gs1.org/01/00000000000000/21/02") == other
    assert len(other) == len(ours)


@pytest.mark.interop
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(messages(st.text(alphabet=st.sampled_from(_TOOLKIT_SAFE), min_size=1, max_size=20)))
@example(GS1Message.from_elements([("01", "00000000000000"), ("21", "00")]))
@example(GS1Message.from_elements([("01", "09506000134352"), ("10", "gtin"), ("21", "7")]))
def test_interop_random_messages_byte_exact(gs1c: Any, msg: GS1Message) -> None:
    compress_mod, _ = gs1c

    plain = GS1Message(msg.data, msg.kind, msg.pairs)
    uri = plain.as_digital_link()
    theirs, ours = compress_mod.compress_gs1_digital_link(uri), plain.to_compressed_digital_link()
    assert dict(parse(ours).pairs) == dict(plain.pairs)  # ours is right whatever the anchor says
    if _anchor_reads_a_value_as_the_key(uri):
        # Excluded: the anchor takes a qualifier's value for the primary key (see the predicate above), so
        # its own parser misreads the URI and its link is wrong (the bare stem, or other AIs).  Confirm that
        # this bug is the cause; when a fixed release reads the URI right, this fails: drop the exclusion.
        assert compress_mod.extract_from_gs1_digital_link(uri)["GS1"] != dict(plain.pairs)
        assert theirs != ours
        return
    assert theirs == ours
