"""Compressed GS1 Digital Link URIs: NOT IMPLEMENTED YET.

The hook is in place (:func:`gateway.gs1.digital_link.split_digital_link` asks
:func:`looks_compressed` when a path has no primary key), but the binary decoder of the
GS1 Digital Link compression standard (tables of AI encodings and optimisation codes) is
still to be written, so a compressed URI is reported as ``dl-no-primary-key``.
"""

from __future__ import annotations

from gateway.gs1.errors import GS1Problem


def looks_compressed(segment: str) -> bool:
    """Always ``False`` until the decoder exists (so no compressed URI is mis-read)."""
    return False


def split_compressed(segment: str, problems: list[GS1Problem], pairs: list[tuple[str, str]],
                     positions: list[int], offset: int, source: str) -> None:
    raise NotImplementedError("compressed GS1 Digital Link URIs are not supported yet")
