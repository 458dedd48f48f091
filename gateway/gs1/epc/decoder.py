"""Decode EPC memory as readers report it: EPC alone, PC + EPC, or the whole EPC bank.

>>> decode("3074257BF7194E4000001A85").pure_uri
'urn:epc:id:sgtin:0614141.812345.6789'
>>> epc = decode("30003074257BF7194E4000001A85", form="pc-epc")
>>> epc.pc.length_words, epc.tag_uri
(6, 'urn:epc:tag:sgtin-96:3.0614141.812345.6789')
>>> decode("31C1" "3074257BF7194E4000001A85", form="pc-epc")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
gateway.gs1.epc.errors.NonGS1AFIError: PC toggle T=1: non-GS1 identifier, AFI=0xC1 (input '31C1...')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from gateway.gs1.epc.classic import BY_HEADER, decode_classic
from gateway.gs1.epc.errors import (
    EPCError,
    NonGS1AFIError,
    NotHexError,
    PCLengthError,
    TIDInEPCBankError,
    TruncatedError,
    UnknownHeaderError,
    UnprogrammedError,
)
from gateway.gs1.epc.gs1keys import DEFAULT_DL_STEM
from gateway.gs1.epc.model import EPC
from gateway.gs1.epc.pc import PCWord, crc16_genibus, raw_uri
from gateway.gs1.epc.plus import PLUS_BY_HEADER, decode_plus

Form = Literal["epc", "pc-epc", "epc-bank"]
FORMS: tuple[str, ...] = ("epc", "pc-epc", "epc-bank")

_HEXCHARS = frozenset("0123456789abcdefABCDEF")
# SGTIN-96 fast path tables: partition -> (GCP digits, GCP bits, item digits, item bits)
_SGTIN = ((12, 40, 1, 4), (11, 37, 2, 7), (10, 34, 3, 10), (9, 30, 4, 14), (8, 27, 5, 17), (7, 24, 6, 20),
          (6, 20, 7, 24))
_POW10 = tuple(10**i for i in range(13))
_make = EPC._make
_new: Callable[..., EPC] = tuple.__new__


def _clean_hex(data: str) -> str:
    text = data.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    text = text.replace(" ", "").replace(":", "").replace("-", "")
    if not text or not _HEXCHARS.issuperset(text):
        raise NotHexError("not hexadecimal", input=data)
    return text.upper()


def _to_bytes(data: str | bytes | bytearray | memoryview) -> tuple[bytes, str]:
    if isinstance(data, str):
        text = _clean_hex(data)
        if len(text) % 2:
            raise NotHexError("odd number of hex digits for a word-aligned read", input=data)
        return bytes.fromhex(text), text
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if not raw:
            raise NotHexError("empty input", input=data)
        return raw, raw.hex().upper()
    raise NotHexError(f"expected hex text or bytes, got {type(data).__name__}", input=data)


def _decode_bits(value: int, nbits: int, hex_text: str, source: object, pc: PCWord | None,
                 crc_ok: bool | None, stem: str) -> EPC:
    """Decode ``nbits`` of EPC (``value``) whose hex is ``hex_text``."""
    if nbits < 8:
        raise TruncatedError("fewer than 8 bits: no EPC header", input=source, raw_uri=raw_uri(value, nbits, pc))
    header = value >> (nbits - 8)
    try:
        if header in BY_HEADER:
            scheme, filt, fields = decode_classic(value, nbits)
            warnings: tuple[str, ...] = ()
            if header == 0x30 and filt == 0 and (len(fields[0]) == 12 or fields[0].startswith("0000")):
                warnings = ("implausible SGTIN (filter 0 with partition 0 or a company prefix with leading "
                            "zeros): possibly TID or foreign data behind a 0x30 byte",)
            return _make((scheme, filt, fields, hex_text, nbits, pc, crc_ok, None, None, (), stem, warnings))
        if header in PLUS_BY_HEADER:
            scheme, filt, toggle, elements, host = decode_plus(value, nbits)
            return _make((scheme, filt, tuple(v for _, v in elements), hex_text, nbits, pc, crc_ok, host, toggle,
                          elements, stem, ()))
        if header == 0x00:
            raise UnprogrammedError("header 0x00: unprogrammed tag")
        if header == 0xE2:
            raise TIDInEPCBankError("header 0xE2: TID allocation class byte in the EPC bank")
        raise UnknownHeaderError(f"header 0x{header:02X} is reserved or unknown")
    except EPCError as exc:
        if exc.input is None:
            exc.input = source
        if exc.raw_uri is None:
            exc.raw_uri = raw_uri(value, nbits, pc)
        raise


def decode(data: str | bytes | bytearray | memoryview, form: Form | str = "epc", *,
           dl_stem: str = DEFAULT_DL_STEM, verify_crc: bool = True, pc: int | None = None,
           xpc_w1: int | None = None, xpc_w2: int | None = None) -> EPC:
    """Decode one read.

    ``form``: ``"epc"`` (EPC bits only; trailing zero fill allowed), ``"pc-epc"`` (PC word,
    XPC words when XI = 1, the EPC, optionally the 16-bit PacketCRC), ``"epc-bank"``
    (StoredCRC, PC, EPC and optionally the rest of the bank up to XPC_W1/W2 at word 33/34).

    ``pc`` (with ``xpc_w1``/``xpc_w2``): the PC and XPC words a reader reported beside the EPC bits
    (LLRP PC_Bits, XPC_W1, XPC_W2; the vendor feeds' ``pc``), honoured as in the other forms: its
    length field says how many bits are the EPC, and T = 1 is never decoded as an EPC.

    >>> decode("3074257BF7194E4000001A85", pc=0x3400).tag_uri
    'urn:epc:tag:[umi=1]:sgtin-96:3.0614141.812345.6789'
    >>> decode("3074257BF7194E4000001A85", pc=0x31C1).scheme  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gateway.gs1.epc.errors.NonGS1AFIError: PC toggle T=1: non-GS1 identifier, AFI=0xC1 (input '3074...')
    """
    if pc is not None:
        if form != "epc":
            raise ValueError(f"pc= goes with form 'epc'; form {form!r} carries its own PC word")
        raw, _ = _to_bytes(data)
        return _finish(raw, 0, PCWord.parse(pc & 0xFFFF, xpc_w1, xpc_w2), data, dl_stem, None)
    if form == "epc":
        if type(data) is str and len(data) == 24:
            # 96-bit EPC hex, the common case.  A value >= 0x30 << 88 from int() needs all 24
            # characters to be hex digits (no room for a sign, '_', '0x' or spaces); isascii()
            # excludes the non-ASCII decimal digits int() would also accept.
            try:
                value = int(data, 16)
            except ValueError:
                value = 0
            if value >> 88 == 0x30 and data.isascii():  # SGTIN-96 fast path, same TDS validity checks
                p = (value >> 82) & 7
                if p < 7:
                    gd, gb, idg, ib = _SGTIN[p]
                    shift = 82 - gb
                    c = (value >> shift) & ((1 << gb) - 1)
                    d = (value >> (shift - ib)) & ((1 << ib) - 1)
                    filt = (value >> 85) & 7
                    pg = _POW10[gd]
                    pi = _POW10[idg]
                    # filter 0 with partition 0 or 4+ leading GCP zeros: the generic path adds a warning
                    if c < pg and d < pi and (filt or (p and c >= _POW10[gd - 4])):
                        return _new(EPC, ("sgtin-96", filt, (str(c + pg)[1:], str(d + pi)[1:],
                                                             str(value & 0x3FFFFFFFFF)),
                                          data.upper(), 96, None, None, None, None, (), dl_stem, ()))
        if isinstance(data, str):  # EPC bits may be written nibble-wise (e.g. TDS Annex E); never padded
            hex_text = _clean_hex(data)
            return _decode_bits(int(hex_text, 16), 4 * len(hex_text), hex_text, data, None, None, dl_stem)
        raw, hex_text = _to_bytes(data)
        return _decode_bits(int.from_bytes(raw, "big"), len(raw) * 8, hex_text, data, None, None, dl_stem)
    raw, _ = _to_bytes(data)
    if form == "pc-epc":
        return _decode_pc_epc(raw, data, dl_stem)
    if form == "epc-bank":
        return _decode_bank(raw, data, dl_stem, verify_crc)
    raise ValueError(f"unknown form {form!r}; expected one of {FORMS}")


def _words(raw: bytes, start: int, count: int) -> list[int]:
    return [int.from_bytes(raw[i:i + 2], "big") for i in range(start, start + 2 * count, 2)]


def _words_text(n: int) -> str:
    return f"{n} word" if n == 1 else f"{n} words"


def _finish(raw: bytes, epc_start: int, pc: PCWord, source: object, stem: str, crc_ok: bool | None) -> EPC:
    """Decode the EPC the PC word describes: its length field, never the input's length, says how many
    bits there are, and its toggle says whether they are an EPC at all (TDS 15.2.2)."""
    nbytes = pc.length_words * 2
    if len(raw) < epc_start + nbytes:
        raise TruncatedError(f"PC length is {_words_text(pc.length_words)}, only {(len(raw) - epc_start) // 2} present",
                             input=source, pc=pc)
    epc = raw[epc_start:epc_start + nbytes]
    value = int.from_bytes(epc, "big")
    if pc.toggle:  # T = 1: an ISO/IEC 15961 UII, whatever its first byte looks like
        raise NonGS1AFIError(f"PC toggle T=1: non-GS1 identifier, AFI=0x{pc.afi:02X}", afi=pc.afi or 0,
                             input=source, raw_uri=raw_uri(value, nbytes * 8, pc), pc=pc)
    if not nbytes:
        raise PCLengthError("PC length is 0 words: no EPC", input=source, raw_uri=raw_uri(0, 0, pc), pc=pc)
    try:
        return _decode_bits(value, nbytes * 8, epc.hex().upper(), source, pc, crc_ok, stem)
    except TruncatedError as exc:  # the bits were all there: the PC length is shorter than the scheme
        raise PCLengthError(f"PC length is {_words_text(pc.length_words)} ({nbytes * 8} bits): {exc.message}",
                            input=source, raw_uri=exc.raw_uri, pc=pc) from None
    except EPCError as exc:
        exc.pc = pc
        raise


def _decode_pc_epc(raw: bytes, source: object, stem: str) -> EPC:
    if len(raw) < 2:
        raise TruncatedError("no PC word", input=source)
    word = int.from_bytes(raw[:2], "big")
    start = 2
    xpc_w1 = xpc_w2 = None
    if word & 0x0200:  # XI: XPC_W1 follows the PC in the backscatter, then XPC_W2 when XEB is set
        if len(raw) < 4:
            raise TruncatedError("XI set but no XPC_W1 word", input=source, pc=PCWord.parse(word))
        xpc_w1 = int.from_bytes(raw[2:4], "big")
        start = 4
        if xpc_w1 & 0x8000:
            if len(raw) < 6:
                raise TruncatedError("XEB set but no XPC_W2 word", input=source, pc=PCWord.parse(word, xpc_w1))
            xpc_w2 = int.from_bytes(raw[4:6], "big")
            start = 6
    pc = PCWord.parse(word, xpc_w1, xpc_w2)
    end = start + pc.length_words * 2
    crc_ok = None
    if len(raw) == end + 2:  # a trailing PacketCRC over PC (+XPC) + EPC
        crc_ok = crc16_genibus(raw[:end]) == int.from_bytes(raw[end:], "big")
    return _finish(raw, start, pc, source, stem, crc_ok)


def _decode_bank(raw: bytes, source: object, stem: str, verify_crc: bool) -> EPC:
    if len(raw) < 4:
        raise TruncatedError("an EPC bank read needs StoredCRC and PC (4 bytes)", input=source)
    stored_crc = int.from_bytes(raw[:2], "big")
    word = int.from_bytes(raw[2:4], "big")
    words = len(raw) // 2
    xpc_w1 = _words(raw, 2 * 33, 1)[0] if word & 0x0200 and words > 33 else None
    xpc_w2 = _words(raw, 2 * 34, 1)[0] if xpc_w1 is not None and xpc_w1 & 0x8000 and words > 34 else None
    pc = PCWord.parse(word, xpc_w1, xpc_w2)
    end = 4 + pc.length_words * 2
    crc_ok = None
    if verify_crc and len(raw) >= end:
        crc_ok = crc16_genibus(raw[2:end]) == stored_crc
    return _finish(raw, 4, pc, source, stem, crc_ok)


def decode_batch(reads: Iterable[str | bytes], form: Form | str = "epc", *,
                 dl_stem: str = DEFAULT_DL_STEM) -> Iterator[EPC | EPCError]:
    """Decode a reader stream: yields an :class:`EPC` or the :class:`EPCError` per read, in order.

    Identical consecutive reads (a tag answering many times per second) reuse the last result."""
    last_input: object = None
    last: EPC | EPCError | None = None
    for data in reads:
        if last is not None and data == last_input:
            yield last
            continue
        try:
            last = decode(data, form, dl_stem=dl_stem)
        except EPCError as exc:
            last = exc
        last_input = data
        yield last


__all__ = ["FORMS", "Form", "decode", "decode_batch"]
