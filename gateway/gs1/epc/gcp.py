"""GS1 Company Prefix length table, loaded from an offline file the user supplies.

Going from an element string or Digital Link to an EPC URI or a classic binary scheme needs
the GCP length, which is not derivable from the key.  Accepted file formats:

* GS1's ``gcpprefixformatlist.xml`` (``<entry prefix="..." gcpLength="..."/>``);
* JSON: ``{"prefix": length, ...}`` or GS1's ``{"GCPPrefixFormatList": {"entry": [...]}}``;
* text: one ``prefix length`` (or ``prefix,length``) per line, ``#`` comments.

The longest matching prefix wins.

>>> table = CompanyPrefixTable({"0614141": 7, "95": 9})
>>> table.length_for("80614141123458"[1:]), table.length_for("9506000134352")
(7, 9)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from gateway.gs1.epc.errors import CompanyPrefixUnknownError

_XML_ENTRY = re.compile(r"<entry\b[^>]*?\bprefix=\"(\d+)\"[^>]*?\bgcpLength=\"(\d+)\"", re.S)
_XML_ENTRY_REV = re.compile(r"<entry\b[^>]*?\bgcpLength=\"(\d+)\"[^>]*?\bprefix=\"(\d+)\"", re.S)


class CompanyPrefixTable:
    def __init__(self, lengths: Mapping[str, int], source: str | None = None) -> None:
        self.lengths = {str(k): int(v) for k, v in lengths.items()}
        self.source = source
        self._max = max((len(k) for k in self.lengths), default=0)

    @classmethod
    def load(cls, path: str | Path) -> CompanyPrefixTable:
        text = Path(path).read_text(encoding="utf-8")
        stripped = text.lstrip()
        lengths: dict[str, int] = {}
        if stripped.startswith("<"):
            lengths.update((p, int(n)) for p, n in _XML_ENTRY.findall(text))
            lengths.update((p, int(n)) for n, p in _XML_ENTRY_REV.findall(text))
        elif stripped.startswith("{"):
            data = json.loads(text)
            entries = data.get("GCPPrefixFormatList", {}).get("entry") if isinstance(data, dict) else None
            if entries:
                lengths.update((str(e["prefix"]), int(e["gcpLength"])) for e in entries)
            else:
                lengths.update((str(k), int(v)) for k, v in data.items())
        else:
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    prefix, length = re.split(r"[\s,;]+", line)[:2]
                    lengths[prefix] = int(length)
        return cls(lengths, str(path))

    def length_for(self, digits: str) -> int | None:
        """GCP length for a key's digits (GTIN without indicator, GLN, SSCC without extension ...)."""
        for n in range(min(self._max, len(digits)), 0, -1):
            found = self.lengths.get(digits[:n])
            if found is not None:
                return found
        return None


def resolve_length(digits: str, explicit: int | None, table: CompanyPrefixTable | None, key: str) -> int:
    if explicit is not None:
        if not 6 <= explicit <= 12:
            raise CompanyPrefixUnknownError(f"GS1 Company Prefix length {explicit} is not 6-12", input=explicit)
        return explicit
    if table is not None:
        found = table.length_for(digits)
        if found is not None:
            if not 6 <= found <= 12:
                raise CompanyPrefixUnknownError(
                    f"the company prefix table gives length {found} for {key}; EPCs need 6-12", input=key)
            return found
        raise CompanyPrefixUnknownError(
            f"GS1 Company Prefix length unknown for {key}: no entry in {table.source or 'the table'}", input=key)
    raise CompanyPrefixUnknownError(
        f"GS1 Company Prefix length needed to encode {key}: pass company_prefix_length= or a company prefix "
        "table file (--company-prefix-table)", input=key)
