"""Field layouts: the fixed and variable fields at the start of a parameter or message body.

A layout is written in a tiny DSL, one ``Name:kind`` per field, exactly in the order and
width of the standard's bit diagrams; ``-`` names reserved bits (written as zero, ignored
when read, as §17.2.1 asks of clients).

========  ==================================================================
kind      meaning
========  ==================================================================
u8..u64   unsigned big-endian integer; ``s8``/``s16``/``s32`` signed
bN        N-bit unsigned field packed MSB-first with its neighbours (N=1 is a bool)
f12       12 fixed bytes (EPC-96)
u8v       u16 count, then that many bytes  -> ``bytes``
u16v      u16 count, then u16 words        -> ``tuple[int, ...]``
u32v      u16 count, then u32 values       -> ``tuple[int, ...]``
utf8v     u16 byte count, then UTF-8 text  -> ``str``
bitv      u16 bit count, then the bits padded to whole bytes -> ``bytes``
          (the count is kept as ``<Name>NumBits``)
rest      every remaining byte of the container -> ``bytes``
========  ==================================================================

>>> layout = Layout("Status:u16 ErrorDescription:utf8v")
>>> values, end = layout.decode(b"\\x00\\x65\\x00\\x02ok", 0, 6, "LLRPStatus")
>>> values, end
({'Status': 101, 'ErrorDescription': 'ok'}, 6)
>>> layout.encode(values)
b'\\x00e\\x00\\x02ok'
>>> Layout("Connected:b1 -:b7 AntennaID:u16").decode(b"\\x80\\x00\\x02", 0, 3, "x")[0]
{'Connected': True, 'AntennaID': 2}
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from drivers.llrp.errors import FieldValueError, TruncatedError

FieldValue = int | bool | bytes | str | tuple[int, ...]

_INT_FORMATS = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q", "s8": "b", "s16": "h", "s32": "i"}
_GROUP_FORMATS = {8: "B", 16: "H", 32: "I"}
_U16 = struct.Struct(">H")

# One decoded item of a fixed segment: (name, index in the unpacked tuple, shift, mask, kind)
# where kind 0 = plain value, 1 = bool bit, 2 = multi-bit int (3 = fixed bytes, in ``slots`` only).
_Item = tuple[str, int, int, int, int]


class _Fixed:
    """A run of fixed-width fields read with one ``struct.unpack_from``."""

    __slots__ = ("items", "slots", "st")

    def __init__(self, fmt: str, items: list[_Item], slots: list[list[tuple[str, int, int, int]]]) -> None:
        self.st = struct.Struct(">" + fmt)
        self.items = items
        self.slots = slots  # per struct slot: (name, shift, mask, kind) for encoding


class _Var:
    __slots__ = ("kind", "name")

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind


class Layout:
    """A compiled field layout (see the module docstring for the DSL)."""

    __slots__ = ("fixed_size", "names", "spec", "steps")

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.steps: list[_Fixed | _Var] = []
        self.names: list[str] = []
        fmt = ""
        items: list[_Item] = []
        slots: list[list[tuple[str, int, int, int]]] = []
        group: list[tuple[str, int]] = []  # pending bit fields (name, width)
        group_bits = 0
        variable = False

        def flush() -> None:
            nonlocal fmt, items, slots
            if fmt:
                self.steps.append(_Fixed(fmt, items, slots))
            fmt, items, slots = "", [], []

        for token in spec.split():
            name, _, kind = token.partition(":")
            if name != "-":
                self.names.append(name)
            if kind.startswith("b") and kind[1:].isdigit():
                width = int(kind[1:])
                group.append((name, width))
                group_bits += width
                if group_bits in _GROUP_FORMATS:
                    index = len(slots)
                    fmt += _GROUP_FORMATS[group_bits]
                    shift = group_bits
                    slot: list[tuple[str, int, int, int]] = []
                    for gname, gwidth in group:
                        shift -= gwidth
                        if gname != "-":
                            gkind = 1 if gwidth == 1 else 2
                            items.append((gname, index, shift, (1 << gwidth) - 1, gkind))
                            slot.append((gname, shift, (1 << gwidth) - 1, gkind))
                    slots.append(slot)
                    group, group_bits = [], 0
                elif group_bits > 32:
                    raise ValueError(f"bit group in {spec!r} does not end on 8/16/32 bits")
                continue
            if group:
                raise ValueError(f"bit group in {spec!r} does not end on 8/16/32 bits")
            if kind in _INT_FORMATS:
                index = len(slots)
                fmt += _INT_FORMATS[kind]
                items.append((name, index, 0, 0, 0))
                slots.append([(name, 0, 0, 0)])
            elif kind == "f12":
                index = len(slots)
                fmt += "12s"
                items.append((name, index, 0, 0, 0))
                slots.append([(name, 0, 0, 3)])
            elif kind in ("u8v", "u16v", "u32v", "utf8v", "bitv", "rest"):
                flush()
                variable = True
                self.steps.append(_Var(name, kind))
                if kind == "bitv":
                    self.names.append(name + "NumBits")
            else:
                raise ValueError(f"unknown field kind {kind!r} in {spec!r}")
        if group:
            raise ValueError(f"bit group in {spec!r} does not end on 8/16/32 bits")
        flush()
        self.fixed_size: int | None = None
        if not variable:
            self.fixed_size = sum(s.st.size for s in self.steps if isinstance(s, _Fixed))

    # -- decoding ------------------------------------------------------------------------

    def decode(self, buf: bytes | memoryview, off: int, end: int, where: str) -> tuple[dict[str, FieldValue], int]:
        """Decode the fields in ``buf[off:end]``; returns the values and the offset after them."""
        out: dict[str, FieldValue] = {}
        for step in self.steps:
            if isinstance(step, _Fixed):
                size = step.st.size
                if off + size > end:
                    raise TruncatedError(f"fields need {size} bytes, have {end - off}", where, off)
                values = step.st.unpack_from(buf, off)
                for name, index, shift, mask, kind in step.items:
                    v = values[index]
                    if kind == 0:
                        out[name] = bytes(v) if isinstance(v, (bytes, bytearray)) else v
                    elif kind == 1:
                        out[name] = bool((v >> shift) & 1)
                    else:
                        out[name] = (v >> shift) & mask
                off += size
                continue
            vkind = step.kind
            if vkind == "rest":
                out[step.name] = bytes(buf[off:end])
                off = end
                continue
            if off + 2 > end:
                raise TruncatedError(f"{step.name}: count needs 2 bytes, have {end - off}", where, off)
            (count,) = _U16.unpack_from(buf, off)
            off += 2
            if vkind == "u8v" or vkind == "utf8v":
                size = count
            elif vkind == "u16v":
                size = 2 * count
            elif vkind == "u32v":
                size = 4 * count
            else:  # bitv
                size = (count + 7) // 8
            if off + size > end:
                raise TruncatedError(f"{step.name}: {count} items need {size} bytes, have {end - off}", where, off)
            raw = bytes(buf[off:off + size])
            off += size
            if vkind == "u8v":
                out[step.name] = raw
            elif vkind == "utf8v":
                # Readers put Latin-1 in UTF-8 fields now and then: never fail on text.
                out[step.name] = raw.decode("utf-8", errors="replace")
            elif vkind == "u16v":
                out[step.name] = struct.unpack(f">{count}H", raw)
            elif vkind == "u32v":
                out[step.name] = struct.unpack(f">{count}I", raw)
            else:
                out[step.name + "NumBits"] = count
                out[step.name] = raw
        return out, off

    # -- encoding ------------------------------------------------------------------------

    def encode(self, values: Mapping[str, FieldValue]) -> bytes:
        """Encode ``values`` (missing fields are zero / empty)."""
        parts: list[bytes] = []
        for step in self.steps:
            if isinstance(step, _Fixed):
                packed: list[object] = []
                for slot in step.slots:
                    if len(slot) == 1 and slot[0][3] in (0, 3):
                        name = slot[0][0]
                        default: FieldValue = b"\0" * 12 if slot[0][3] == 3 else 0
                        packed.append(values.get(name, default))
                        continue
                    word = 0
                    for name, shift, mask, _kind in slot:
                        iv = int(values.get(name, 0))  # type: ignore[arg-type]
                        if iv & ~mask:
                            raise FieldValueError(f"{name}={iv} does not fit {mask.bit_length()} bits")
                        word |= iv << shift
                    packed.append(word)
                try:
                    parts.append(step.st.pack(*packed))
                except struct.error as exc:
                    raise FieldValueError(f"{exc} in {self.spec!r}") from exc
                continue
            v = values.get(step.name)
            vkind = step.kind
            if vkind == "rest":
                parts.append(bytes(v) if isinstance(v, (bytes, bytearray)) else b"")
            elif vkind == "u8v":
                data = bytes(v) if isinstance(v, (bytes, bytearray)) else b""
                parts.append(_U16.pack(len(data)) + data)
            elif vkind == "utf8v":
                data = str(v or "").encode("utf-8")
                parts.append(_U16.pack(len(data)) + data)
            elif vkind in ("u16v", "u32v"):
                seq = tuple(v) if isinstance(v, (tuple, list)) else ()
                code = "H" if vkind == "u16v" else "I"
                try:
                    parts.append(_U16.pack(len(seq)) + struct.pack(f">{len(seq)}{code}", *seq))
                except struct.error as exc:
                    raise FieldValueError(f"{step.name}: {exc}") from exc
            else:  # bitv
                data = bytes(v) if isinstance(v, (bytes, bytearray)) else b""
                nbits_value = values.get(step.name + "NumBits", len(data) * 8)
                nbits = int(nbits_value) if isinstance(nbits_value, int) else len(data) * 8
                if (nbits + 7) // 8 != len(data):
                    raise FieldValueError(f"{step.name}: {nbits} bits need {(nbits + 7) // 8} bytes, got {len(data)}")
                parts.append(_U16.pack(nbits) + data)
        return b"".join(parts)
