"""EPC bank -> the normalised :class:`~gateway.reads.Read`: the one EPC normaliser of every RFID source.

The LLRP client, the Mercury and ASCII serial drivers, the vendor JSON feeds (Impinj, Zebra) and the
simulators' tag-world replay all decode a tag's EPC here, so a tag reads the same whichever way it
arrived.  :func:`decode_epc` is the decoding alone; :func:`rfid_read` builds the whole read.

>>> r = rfid_read("dock-1", "2", "3074257bf7194e4000001a85", 1_700_000_000.0, rssi_dbm=-52.5)
>>> r.identifier.key_type, r.identifier.key, r.scheme, r.error
('sgtin', '80614141123458.6789', 'sgtin-96', None)

A tag that does not decode is still delivered, with the reason (nothing is dropped silently; the lane
engine counts it by the reason's first word):

>>> rfid_read("dock-1", "2", "000000000000000000000000", 0.0).error.split(":")[0]
'UnprogrammedError'

The PC word, when the reader reports it, goes with the EPC: a plain one (no XPC, no GS1 toggle, the
length of the EPC) says nothing the EPC bits do not, and the hex takes the codec's fast path; any
other is decoded together with the EPC (``pc-epc`` form).  Results are cached: a tag in the field
repeats, thousands of times per passage.  The codec is imported on first use: a deployment whose GS1
package is broken still delivers raw reads, with ``error`` saying why.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from gateway.identity import Identifier
from gateway.reads import Read

Decoded = tuple[Identifier | None, str | None, str | None]  # identifier, EPC scheme, error


@lru_cache(maxsize=65536)
def decode_epc(epc_hex: str, pc: int | None = None, xpc_w1: int | None = None,
               xpc_w2: int | None = None) -> Decoded:
    """``(identifier, scheme, error)`` for an EPC in lower-case hex, with the PC and XPC words the reader
    reported beside it, if any (every driver separates them from the EPC bits: LLRP's C1G2PC and
    C1G2XPCW1/W2 parameters, the serial modules' records, the vendor feeds' ``pc``).

    >>> decode_epc("3074257bf7194e4000001a85", 0x3000)[1]
    'sgtin-96'

    The toggle bit says the memory holds an ISO UII, never an EPC, whatever its first byte looks like:

    >>> decode_epc("3074257bf7194e4000001a85", 0x3100)[2].split(":")[0]
    'NonGS1AFIError'
    """
    try:
        from gateway.gs1.epc import decode
    except Exception as exc:  # pragma: no cover - depends on the deployment
        return None, None, f"EPC decoder unavailable: {exc}"
    if not epc_hex:
        return None, None, "empty EPC"
    try:
        if pc is None or (pc & 0x0300 == 0 and (pc >> 11) * 4 == len(epc_hex)):
            epc = decode(epc_hex)
        else:
            epc = decode(epc_hex, pc=pc, xpc_w1=xpc_w1, xpc_w2=xpc_w2)
        return epc.to_identifier(), str(epc.scheme), None
    except Exception as exc:  # the codec's typed errors, or a key type the identity model does not know
        return None, None, f"{type(exc).__name__}: {exc}"


def rfid_read(source: str, channel: str, epc_hex: str, host_time: float, *, pc: int | None = None,
              xpc: tuple[int, ...] = (), **fields: Any) -> Read:
    """One tag read as every driver delivers it; ``xpc`` the XPC words reported beside the EPC, ``fields``
    the rest of :class:`Read` (RSSI, counts ...)."""
    ident, scheme, error = decode_epc(epc_hex, pc, *xpc[:2])
    return Read(source=source, channel=channel, carrier="rfid", raw=epc_hex, host_time=host_time,
                identifier=ident, scheme=scheme, error=error, pc=pc, **fields)
