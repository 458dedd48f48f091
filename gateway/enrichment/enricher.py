"""``Enricher(store, config).enrich(passage, now)``: link, route, flag and summarise a closed passage.

>>> from gateway.identity import Identifier
>>> from gateway.lane.passage import Evidence, Passage, SeenIdentifier
>>> seen = SeenIdentifier(Identifier.from_elements([("00", "340123450000000017")]), Evidence(0.0, 1.0, 3))
>>> p = Passage(id="p-1", lane="lane1", direction="inbound", state="closed", opened_at=0.0, closed_at=1.0,
...             identifiers=(seen,))
>>> result = Enricher(Store(":memory:")).enrich(p, now=1.0)
>>> result.flag_codes()
['NO_DECLARATION', 'SSCC_NOT_DECLARED']
"""

from __future__ import annotations

import datetime as dt

from gateway.config.enrichment import EnrichmentConfig
from gateway.enrichment.dates import gs1_date, gs1_datetime
from gateway.enrichment.flags import FlagContext, evaluate
from gateway.enrichment.linking import Linked, Linker, VehicleObservation
from gateway.enrichment.result import EnrichmentResult, Party, Product
from gateway.enrichment.routing import route
from gateway.enrichment.rules import RoutingTable, RuleSet, load_routing, load_rules
from gateway.enrichment.store import Store
from gateway.lane.passage import Passage


class Enricher:
    def __init__(self, store: Store, config: EnrichmentConfig | None = None, *, rules: RuleSet | None = None,
                 routing: RoutingTable | None = None) -> None:
        self.store = store
        self.config = config or EnrichmentConfig()
        self.rules = rules or load_rules(self.config.rules)
        self.routing = routing or load_routing(self.config.agency_routing)
        self.linker = Linker(store, self.rules)

    def enrich(self, passage: Passage, now: float, vehicle: VehicleObservation | None = None) -> EnrichmentResult:
        """Match ``passage`` at lane time ``passage.closed_at`` (else ``now``); deterministic."""
        lane_time = passage.closed_at if passage.closed_at is not None else now
        observed = VehicleObservation.from_passage(passage).merged(vehicle)
        office = self.config.border_office
        linked = self.linker.link(passage, lane_time, self.config.window(office), office, observed)
        routing = route(self.routing, linked)
        flags = evaluate(FlagContext(passage, linked, self.store, self.rules, routing, bool(observed)))
        return EnrichmentResult(
            passage_id=passage.id, lane=passage.lane, evaluated_at=now, declaration_refs=linked.refs(),
            links=linked.links, identifiers=linked.identifiers, items=linked.items, products=_products(linked),
            parties=self._parties(linked), flags=flags, routing=routing, rules_version=self.rules.version,
            master_data={"routing": self.routing.version}, movement_refs=sorted(linked.movements))

    def _parties(self, linked: Linked) -> list[Party]:
        out: list[Party] = []
        for _decl_id, decl in sorted(linked.decls.items(), key=lambda kv: kv[1].mrn):
            for role, ref in decl.party_roles():
                inline = decl.parties.get(ref)
                master = self.store.party(ref)
                if master is None and inline is not None and inline.gln:
                    found = self.store.parties_by(gln=inline.gln)
                    master = found[0] if found else None
                natural = (inline is not None and inline.type_of_person == 1) or (master is not None
                                                                                  and master.natural_person)
                address = None
                if master is not None and master.address is not None:
                    a = master.address
                    address = ", ".join(x for x in (a.street and f"{a.street} {a.number or ''}".strip(),
                                                    a.postcode and f"{a.postcode} {a.city or ''}".strip(),
                                                    a.country) if x)
                out.append(Party(
                    role=role, natural_person=natural,
                    name=(inline.name if inline and inline.name else master.name if master else None),
                    eori=(inline.eori if inline and inline.eori else master.ids.eori if master else None),
                    gln=(inline.gln if inline and inline.gln else master.ids.gln if master else None),
                    lei=master.ids.lei if master else None,
                    country=(inline.country_code if inline and inline.country_code
                             else master.address.country if master and master.address else None),
                    address=address, aeo=master.aeo.status if master and master.aeo else None, mrn=decl.mrn))
        return out


def _products(linked: Linked) -> list[Product]:
    out = []
    for gtin, link in sorted(linked.gtins.items()):
        p = link.product
        ident = link.seen[0]
        year = dt.datetime.fromtimestamp(linked.lane_time, dt.UTC).year
        day = gs1_date(ident.value("17") or "", year) or gs1_datetime(ident.value("7003") or "", year)
        expiry = day.isoformat() if day else None
        decl = linked.decls.get(link.decl_id) if link.decl_id is not None else None
        amount = decl.amount(link.item.seq) if decl and link.item else None
        declared_qty = next((g.quantity for g in link.item.gs1.gtins if g.gtin == gtin), None) if link.item else None
        out.append(Product(
            gtin=gtin, description=p.description if p else None, brand=p.brand_name if p else None,
            hs6_master=p.hs6 if p else None, hs6_declared=link.item.hs6 if link.item else None,
            cn8=(link.item.hs6 + link.item.cn2) if link.item and link.item.cn2 else None,
            origin=(ident.value("422") or (p.country_of_origin[0] if p and p.country_of_origin else None)),
            quantity=declared_qty if declared_qty is not None else float(len({i.key for i in link.seen})),
            unit="EA", gross_mass_kg=p.gross_weight_kg if p else None, net_mass_kg=p.net_weight_kg if p else None,
            batch=ident.value("10"), expiry=expiry, mrn=decl.mrn if decl else None,
            goods_item_seq=link.item.seq if link.item else None,
            value=amount.value if amount else None, currency=amount.currency if amount else None))
    return out
