"""Agency routing: for each goods item, the agencies its HS code concerns, the documents they expect
and whether the declaration references them (research note §3.2; table in ``agency_routing.yaml``).

>>> from gateway.enrichment.rules import load_routing
>>> [(r.agency, r.expected_docs, r.present) for r in route_item(load_routing(), "020230", ["N853"])]
[('VET', ['N853'], True), ('EUDR', [], None)]
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.enrichment.linking import Linked
from gateway.enrichment.result import DocumentRef, Routing
from gateway.enrichment.rules import RoutingTable


def route_item(table: RoutingTable, hs6: str, doc_types: Sequence[str], *, documents: Sequence[DocumentRef] = (),
               mrn: str | None = None, seq: int | None = None, basis_prefix: str = "HS") -> list[Routing]:
    out = []
    for entry in table.agencies:
        prefix = entry.matches(hs6)
        if prefix is None:
            continue
        level = {2: "chapter", 4: "heading"}.get(len(prefix), "sub-heading")
        present = any(t in doc_types for t in entry.expected_docs) if entry.expected_docs else None
        docs = [d for d in documents if d.type in entry.expected_docs]
        out.append(Routing(agency=entry.agency, basis=f"{basis_prefix} {level} {prefix}",
                                 expected_docs=list(entry.expected_docs), present=present, documents=docs,
                                 mrn=mrn, goods_item_seq=seq, hs6=hs6, audience=entry.audience, name=entry.name))
    return out


def route(table: RoutingTable, linked: Linked) -> list[Routing]:
    """Per goods item of the linked declarations; plus, for goods seen without any declaration, per
    product-master HS6 (``present`` False: nothing declared)."""
    out: list[Routing] = []
    for _decl_id, decl in sorted(linked.decls.items(), key=lambda kv: kv[1].mrn):
        for house, item in decl.goods_items():
            docs = [DocumentRef(type=d.type, reference=d.ref) for d in house.supporting_documents]
            out += route_item(table, item.hs6, [d.type for d in docs], documents=docs, mrn=decl.mrn, seq=item.seq)
    if not linked.decls:
        for hs6 in sorted({g.product.hs6 for g in linked.gtins.values() if g.product and g.product.hs6}):
            for r in route_item(table, hs6, [], basis_prefix="master HS"):
                out.append(r if r.present is None else r.model_copy(update={"present": False}))
    return out
