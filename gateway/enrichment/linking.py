"""Link a closed passage to declarations, rule by rule (research note §1.6).

Order of the rules, each recording *which* rule linked and a confidence (from ``flag_rules.yaml``):

1. SSCC in a goods item's declared ``gs1.ssccs`` list (``declared-sscc-list``, 1.0), else an SSCC
   with a valid check digit found in the shipping marks (``shipping-marks-sscc``, 0.9);
2. GSIN / GINC (as the key or as AI 402 / 401 on any label) to a house UCR (``ucr-gsin``,
   ``ucr-ginc``, 1.0), else a GINC equal to the house transport document number
   (``house-transport-document``, 0.9);
3. container id, seal and plate observations to the transport means (``vehicle-*``);
4. GTINs to goods items of the declarations linked so far: declared GTIN list
   (``declared-gtin-list``), else product-master HS6 equal to the declared HS6 (``gtin-hs6``), same
   heading (``gtin-hs-heading``) or same chapter (``gtin-hs-chapter``) as weaker matches.

Every lookup is scoped to current declarations of the border office whose ETA lies in the window
around the lane time, so a recycled SSCC declared last month does not link.  Deterministic: the
lane time is the passage's ``closed_at`` (or the ``now`` passed in), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.enrichment.declaration import Declaration, GoodsItem, HouseConsignment
from gateway.enrichment.keys import find_ssccs, gs1_ok, normalise_container, normalise_plate
from gateway.enrichment.movement import Movement
from gateway.enrichment.product import Product
from gateway.enrichment.result import DeclarationRef, DocumentRef, IdentifierMatch, ItemMatch, Link
from gateway.enrichment.rules import RuleSet
from gateway.enrichment.store import DeclarationHit, MovementHit, Store
from gateway.identity import Identifier
from gateway.lane.passage import Passage, VehicleEvidence
from gateway.vehicle import confusable_distance, plate_skeleton

GOODS_KEY_TYPES = frozenset({"sscc", "gtin", "sgtin", "gsin", "ginc"})
_LEVELS = ("hs6", "heading", "chapter")
_LEVEL_VIA = {"hs6": "gtin-hs6", "heading": "gtin-hs-heading", "chapter": "gtin-hs-chapter"}


@dataclass(frozen=True, slots=True)
class VehicleObservation:
    """What the vehicle itself showed: plates and container codes (the passage's ANPR / OCR evidence) and
    seals (an e-seal reader, when one is wired: passed to :meth:`Enricher.enrich`)."""

    plates: tuple[VehicleEvidence, ...] = ()
    containers: tuple[VehicleEvidence, ...] = ()
    seals: tuple[str, ...] = ()

    @classmethod
    def from_passage(cls, passage: Passage) -> VehicleObservation:
        return cls(tuple(passage.plates()), tuple(passage.containers()))

    def merged(self, other: VehicleObservation | None) -> VehicleObservation:
        if other is None:
            return self
        return VehicleObservation(self.plates + other.plates, self.containers + other.containers,
                                  self.seals + other.seals)

    def __bool__(self) -> bool:
        return bool(self.plates or self.containers or self.seals)


@dataclass(frozen=True, slots=True)
class VehicleLink:
    """One plate or container seen, matched to a declaration's (or a movement's) transport means."""

    kind: str  # plate | container
    seen: str  # the comparison key read on the lane
    declared: str  # the key it matched
    decl_id: int | None
    mrn: str | None
    via: str
    confidence: float
    role: str  # vehicle | trailer | container
    movement: str | None = None  # the movement reference, when the link came through one
    uncertain: str | None = None  # why it is only a weak link: ocr_confusable, country_differs
    distance: int = 0  # confusable characters between seen and declared


@dataclass(slots=True)
class GtinLink:
    gtin: str
    seen: list[Identifier]
    product: Product | None
    decl_id: int | None = None
    house: HouseConsignment | None = None
    item: GoodsItem | None = None
    via: str | None = None
    confidence: float | None = None


@dataclass(slots=True)
class Linked:
    """What linking found; the flag rules and the result builder read it."""

    lane_time: float
    window: tuple[float, float]
    office: str | None
    decls: dict[int, Declaration] = field(default_factory=dict)
    vehicle_via: dict[int, str] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    identifiers: list[IdentifierMatch] = field(default_factory=list)
    items: list[ItemMatch] = field(default_factory=list)
    out_of_scope: dict[str, list[str]] = field(default_factory=dict)  # seen key -> MRNs outside window/office
    ssccs_linked: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)  # sscc -> (decl, seq)
    ssccs_unexpected: list[str] = field(default_factory=list)
    ssccs_invalid: list[str] = field(default_factory=list)
    gtins: dict[str, GtinLink] = field(default_factory=dict)
    vehicle: VehicleObservation = field(default_factory=VehicleObservation)
    vehicle_links: list[VehicleLink] = field(default_factory=list)
    weak_plates: list[VehicleEvidence] = field(default_factory=list)  # under min_confidence: evidence only
    weak_matches: list[tuple[VehicleEvidence, int]] = field(default_factory=list)  # (weak plate, decl_id)
    movements: dict[str, Movement] = field(default_factory=dict)  # ref -> the movements that linked

    def refs(self) -> list[DeclarationRef]:
        return [DeclarationRef(mrn=d.mrn, version=d.version, lrn=d.declaration_ref.lrn,
                               office=d.customs_office_of_first_entry, vehicle_via=self.vehicle_via.get(i))
                for i, d in sorted(self.decls.items(), key=lambda kv: kv[1].mrn)]


def _item_with_sscc(decl: Declaration, sscc: str, marks: bool) -> tuple[HouseConsignment, GoodsItem] | None:
    for house, item in decl.goods_items():
        if not marks and sscc in item.gs1.ssccs:
            return house, item
        if marks and any(sscc in find_ssccs(p.shipping_marks or "") for p in item.packaging):
            return house, item
    return None


def _house_by(decl: Declaration, key_type: str, key: str) -> HouseConsignment | None:
    for house in decl.house_consignments:
        if key_type in ("gsin", "ginc", "ucr") and house.ucr is not None and house.ucr.value == key:
            return house
        if key_type == "hwb" and house.transport_document_house is not None \
                and house.transport_document_house.number == key:
            return house
    return None


def _docs(house: HouseConsignment | None) -> list[DocumentRef]:
    if house is None:
        return []
    return [DocumentRef(type=d.type, reference=d.ref) for d in house.supporting_documents]


def _seals(house: HouseConsignment | None) -> list[str]:
    return [] if house is None else [s for e in house.transport_equipment for s in e.seals]


def hs_level(a: str, b: str) -> str | None:
    """``hs6`` if equal, ``heading`` if the first 4 digits agree, ``chapter`` for 2, else ``None``."""
    if a == b:
        return "hs6"
    if a[:4] == b[:4]:
        return "heading"
    if a[:2] == b[:2]:
        return "chapter"
    return None


class Linker:
    def __init__(self, store: Store, rules: RuleSet) -> None:
        self.store, self.rules = store, rules

    def link(self, passage: Passage, lane_time: float, window: tuple[float, float], office: str | None,
             vehicle: VehicleObservation) -> Linked:
        start, end = lane_time - window[1], lane_time + window[0]
        out = Linked(lane_time=lane_time, window=(start, end), office=office)
        conf = self.rules.linking.conf

        def scoped(key_type: str, key: str, seen_key: str,
                   hits: list[DeclarationHit] | None = None) -> list[DeclarationHit]:
            if hits is None:
                hits = self.store.find(key_type, key)
            inside = [h for h in hits if self._in_scope(h, start, end, office)]
            outside = [h.mrn for h in hits if h not in inside]
            if outside:
                out.out_of_scope.setdefault(seen_key, []).extend(sorted(outside))
            return inside

        def add_decl(hit: DeclarationHit) -> Declaration:
            decl = out.decls.get(hit.decl_id)
            if decl is None:
                decl = out.decls[hit.decl_id] = self.store.declaration_by_id(hit.decl_id)
            return decl

        groups = passage.by_type()
        out.vehicle = vehicle
        # 3. the vehicle first: plates and container codes to transport means and movements
        self._link_vehicle(out, vehicle, start, end, office, scoped, add_decl)
        for seal in vehicle.seals:
            value = seal.strip().upper()
            for hit in scoped("seal", value, f"seal:{value}"):
                decl = add_decl(hit)
                out.vehicle_via.setdefault(hit.decl_id, "vehicle-seal")
                out.links.append(Link(mrn=decl.mrn, version=decl.version, key=value, key_type="seal",
                                      via="vehicle-seal", confidence=conf("vehicle-seal")))
        # 1. SSCCs.  A truck carries tens of them: their declared-list hits come from one query, and the
        # shipping-marks hits (the fallback) from a second one for those the first did not link.
        ssccs = [ident.key for ident in _distinct(groups.get("sscc", []))]
        valid = {sscc for sscc in ssccs if len(sscc) == 18 and gs1_ok(sscc)}
        found = {"sscc": self.store.find_many("sscc", [s for s in ssccs if s in valid])}
        found["sscc_marks"] = self.store.find_many("sscc_marks", [
            s for s in ssccs if s in valid
            and not any(self._in_scope(h, start, end, office) for h in found["sscc"].get(s, ()))])
        for sscc in ssccs:
            if sscc not in valid:
                out.ssccs_invalid.append(sscc)
                out.identifiers.append(IdentifierMatch(key_type="sscc", key=sscc, status="seen_unexpected"))
                continue
            linked = False
            for key_type, via, marks in (("sscc", "declared-sscc-list", False),
                                         ("sscc_marks", "shipping-marks-sscc", True)):
                for hit in scoped(key_type, sscc, sscc, found[key_type].get(sscc, [])):
                    decl = add_decl(hit)
                    in_item = _item_with_sscc(decl, sscc, marks)
                    house, item = in_item if in_item else (None, None)
                    out.ssccs_linked.setdefault(sscc, []).append((hit.decl_id, item.seq if item else None))
                    out.links.append(Link(mrn=decl.mrn, version=decl.version,
                                          house_ucr=house.ucr.value if house and house.ucr else None,
                                          goods_item_seq=item.seq if item else None, key=sscc, key_type="sscc",
                                          via=via, confidence=conf(via), documents=_docs(house), seals=_seals(house)))
                    out.identifiers.append(IdentifierMatch(key_type="sscc", key=sscc, status="expected_seen",
                                                           mrn=decl.mrn, goods_item_seq=item.seq if item else None,
                                                           via=via, confidence=conf(via)))
                    linked = True
                if linked:
                    break
            if not linked:
                out.ssccs_unexpected.append(sscc)
                out.identifiers.append(IdentifierMatch(key_type="sscc", key=sscc, status="seen_unexpected"))
        # 2. GSIN / GINC, as keys or as AI 402 / 401 on another label
        consignment_keys: dict[tuple[str, str], None] = {}
        for seen_id in passage.identifiers:
            ident = seen_id.identifier
            for ai, kt in (("402", "gsin"), ("401", "ginc")):
                label_value = ident.value(ai)
                if label_value:
                    consignment_keys[(kt, label_value)] = None
        for kt, value in consignment_keys:
            linked_via: str | None = None
            lookups = [("gsin", "ucr-gsin")] if kt == "gsin" else [("ginc", "ucr-ginc"), ("ucr", "ucr-ginc"),
                                                                    ("hwb", "house-transport-document")]
            for key_type, via in lookups:
                for hit in scoped(key_type, value, value):
                    decl = add_decl(hit)
                    house = _house_by(decl, key_type, value)
                    out.links.append(Link(mrn=decl.mrn, version=decl.version,
                                          house_ucr=house.ucr.value if house and house.ucr else None,
                                          key=value, key_type=kt, via=via, confidence=conf(via),
                                          documents=_docs(house), seals=_seals(house)))
                    linked_via = via
                if linked_via:
                    break
            if kt == "gsin" and not gs1_ok(value):
                status = "seen_unexpected"
            else:
                status = "expected_seen" if linked_via else "seen_unexpected"
            out.identifiers.append(IdentifierMatch(key_type=kt, key=value, status=status, via=linked_via,
                                                   confidence=conf(linked_via) if linked_via else None))
        # 4. GTINs against the goods items of the declarations linked so far
        gtin_seen: dict[str, list[Identifier]] = {}
        for seen_gtin in groups.get("gtin", []) + groups.get("sgtin", []):
            gtin = seen_gtin.identifier.gtin or seen_gtin.identifier.key.split(".")[0]
            gtin_seen.setdefault(gtin, []).append(seen_gtin.identifier)
        weakest = _LEVELS.index(self.rules.linking.gtin_weakest_level)
        for gtin, idents in sorted(gtin_seen.items()):
            product = self.store.product(gtin) if gs1_ok(gtin) else None
            link = GtinLink(gtin=gtin, seen=idents, product=product)
            best: tuple[int, int, HouseConsignment, GoodsItem, str] | None = None
            for decl_id, decl in sorted(out.decls.items()):
                for house, item in decl.goods_items():
                    if any(g.gtin == gtin for g in item.gs1.gtins):
                        cand = (-1, decl_id, house, item, "declared-gtin-list")
                    elif product is not None and product.hs6:
                        level = hs_level(product.hs6, item.hs6)
                        if level is None or _LEVELS.index(level) > weakest:
                            continue
                        cand = (_LEVELS.index(level), decl_id, house, item, _LEVEL_VIA[level])
                    else:
                        continue
                    if best is None or cand[0] < best[0]:
                        best = cand
            if best is not None:
                _, decl_id, house, item, via = best
                decl = out.decls[decl_id]
                link.decl_id, link.house, link.item, link.via, link.confidence = decl_id, house, item, via, conf(via)
                out.links.append(Link(mrn=decl.mrn, version=decl.version,
                                      house_ucr=house.ucr.value if house.ucr else None, goods_item_seq=item.seq,
                                      key=gtin, key_type="gtin", via=via, confidence=conf(via),
                                      documents=_docs(house), seals=_seals(house)))
            out.gtins[gtin] = link
            for ident in _distinct_idents(idents):
                if best is not None:
                    out.identifiers.append(IdentifierMatch(
                        key_type=ident.key_type, key=ident.key, status="expected_seen", mrn=out.decls[best[1]].mrn,
                        goods_item_seq=best[3].seq, via=best[4], confidence=conf(best[4])))
                else:
                    out.identifiers.append(IdentifierMatch(key_type=ident.key_type, key=ident.key,
                                                           status="seen_unexpected"))
        # identifiers that are not goods (GRAI, GIAI, GLN ...): attached to the passage only
        for key_type, seens in sorted(groups.items()):
            if key_type in GOODS_KEY_TYPES:
                continue
            for other in _distinct(seens):
                out.identifiers.append(IdentifierMatch(key_type=key_type, key=other.key, status="seen_not_goods"))
        self._corroborate(out)
        self._expected(out, passage)
        return out

    def _link_vehicle(self, out: Linked, vehicle: VehicleObservation, start: float, end: float, office: str | None,
                      scoped: Any, add_decl: Any) -> None:
        """Plates (exact key and country, then one OCR-confusable character) and container codes, to the
        declarations' transport means and to movements; weak reads are kept as evidence only."""
        linking = self.rules.linking
        conf = linking.conf

        def link(ev: VehicleEvidence, hit: DeclarationHit, declared: str, role: str, via: str,
                 uncertain: str | None = None, distance: int = 0, movement: str | None = None) -> None:
            decl = add_decl(hit)
            out.vehicle_via.setdefault(hit.decl_id, via)
            out.vehicle_links.append(VehicleLink(ev.kind, ev.value, declared, hit.decl_id, decl.mrn, via, conf(via),
                                                 role, movement, uncertain, distance))
            out.links.append(Link(mrn=decl.mrn, version=decl.version, key=ev.value, key_type=ev.kind, via=via,
                                  confidence=conf(via)))

        def movement_decls(mhit: MovementHit) -> tuple[Movement, list[DeclarationHit]]:
            movement = self.store.movement_by_id(mhit.movement_id)
            hits: list[DeclarationHit] = []
            for mrn in movement.declarations:  # the movement groups them: its own window, not theirs
                hits += [h for h in self.store.find("mrn", mrn)
                         if office is None or h.office is None or h.office == office]
            return movement, hits

        for ev in vehicle.plates:
            if not ev.usable:
                continue
            weak = ev.confidence is not None and ev.confidence < linking.plate_min_confidence
            exact = {h.decl_id: h for h in scoped("plate", ev.value, f"plate:{ev.value}")}
            fuzzy = {h.decl_id: h for h in scoped("plate_sk", plate_skeleton(ev.value), f"plate:{ev.value}")
                     if h.decl_id not in exact}
            if weak:
                out.weak_matches += [(ev, decl_id) for decl_id in [*exact, *fuzzy]]
                out.weak_plates.append(ev)
                continue
            for hit in exact.values():
                decl = self.store.declaration_by_id(hit.decl_id)
                for key, role, nationality in _conveyances(decl):
                    if key != ev.value:
                        continue
                    if ev.country and nationality and ev.country != nationality:
                        link(ev, hit, key, role, "vehicle-plate-country", "country_differs")
                    else:
                        link(ev, hit, key, role, "vehicle-plate" if role == "vehicle" else "vehicle-trailer")
                    break
            for hit in fuzzy.values():
                decl = self.store.declaration_by_id(hit.decl_id)
                for key, role, _nat in _conveyances(decl):
                    distance = confusable_distance(ev.value, key)
                    if distance is not None and 0 < distance <= linking.plate_max_confusable:
                        link(ev, hit, key, role, "vehicle-plate-confusable", "ocr_confusable", distance)
                        break
            for mhit in self._movements("plate", ev.value, plate_skeleton(ev.value), start, end, office):
                movement, hits = movement_decls(mhit)
                keys = movement.plate_keys()
                distance = 0 if ev.value in keys else min(
                    (d for d in (confusable_distance(ev.value, k) for k in keys) if d is not None), default=None)
                if distance is None or distance > linking.plate_max_confusable:
                    continue
                out.movements[movement.ref] = movement
                lead = movement.vehicle.key if movement.vehicle else None
                trailer = lead is None or (lead != ev.value and confusable_distance(ev.value, lead) is None)
                for hit in hits:
                    if distance:
                        link(ev, hit, ev.value, "trailer" if trailer else "vehicle", "vehicle-plate-confusable",
                             "ocr_confusable", distance, movement.ref)
                    else:
                        link(ev, hit, ev.value, "trailer" if trailer else "vehicle", "movement-plate",
                             movement=movement.ref)
        for ev in vehicle.containers:
            if not ev.usable:
                continue  # a wrong check digit: evidence, never a key
            for hit in scoped("container", ev.value, f"container:{ev.value}"):
                link(ev, hit, ev.value, "container", "vehicle-container")
            for mhit in self._movements("container", ev.value, None, start, end, office):
                movement, hits = movement_decls(mhit)
                out.movements[movement.ref] = movement
                for hit in hits:
                    link(ev, hit, ev.value, "container", "movement-container", movement=movement.ref)

    def _movements(self, key_type: str, key: str, skeleton: str | None, start: float, end: float,
                   office: str | None) -> list[MovementHit]:
        hits = {h.movement_id: h for h in self.store.find_movements(key_type, key)}
        if skeleton is not None:
            hits.update((h.movement_id, h) for h in self.store.find_movements("plate_sk", skeleton))
        return [h for _id, h in sorted(hits.items()) if (office is None or h.office is None or h.office == office)
                and h.eta is not None and start <= h.eta <= end]

    def _corroborate(self, out: Linked) -> None:
        """Plates read under ``plate_min_confidence`` link nothing themselves; where one names a declaration
        that something else linked, it is recorded as agreeing (a weak link, never the only one)."""
        for ev, decl_id in out.weak_matches:
            if decl_id in out.decls:
                decl = out.decls[decl_id]
                via = "vehicle-plate-weak"
                out.links.append(Link(mrn=decl.mrn, version=decl.version, key=ev.value, key_type="plate", via=via,
                                      confidence=self.rules.linking.conf(via)))

    @staticmethod
    def _in_scope(hit: DeclarationHit, start: float, end: float, office: str | None) -> bool:
        if office is not None and hit.office is not None and hit.office != office:
            return False
        return hit.eta is not None and start <= hit.eta <= end

    @staticmethod
    def _expected(out: Linked, passage: Passage) -> None:
        """Declared SSCCs / GTINs of the linked declarations that were never seen; per-item status."""
        seen_ssccs = {s.identifier.key for s in passage.identifiers if s.identifier.key_type == "sscc"}
        for _decl_id, decl in sorted(out.decls.items(), key=lambda kv: kv[1].mrn):
            for house, item in decl.goods_items():
                expected = list(item.gs1.ssccs)
                for pack in item.packaging:
                    expected += [s for s in find_ssccs(pack.shipping_marks or "") if s not in expected]
                seen = [s for s in expected if s in seen_ssccs]
                missing = [s for s in expected if s not in seen_ssccs]
                for sscc in missing:
                    out.identifiers.append(IdentifierMatch(key_type="sscc", key=sscc, status="expected_missing",
                                                           mrn=decl.mrn, goods_item_seq=item.seq))
                gtins_seen = sorted(g for g, link in out.gtins.items() if link.item is item)
                for declared in item.gs1.gtins:
                    if declared.gtin not in out.gtins:
                        out.identifiers.append(IdentifierMatch(key_type="gtin", key=declared.gtin,
                                                               status="expected_missing", mrn=decl.mrn,
                                                               goods_item_seq=item.seq))
                anything_seen = bool(seen or gtins_seen)
                if expected and not missing:
                    status = "expected_seen"
                elif anything_seen:
                    status = "partially_seen" if missing else "expected_seen"
                else:
                    status = "expected_missing"
                out.items.append(ItemMatch(mrn=decl.mrn, goods_item_seq=item.seq,
                                           house_ucr=house.ucr.value if house.ucr else None, hs6=item.hs6,
                                           status=status, ssccs_expected=expected, ssccs_seen=seen,
                                           ssccs_missing=missing, gtins_seen=gtins_seen))


def _conveyances(decl: Declaration) -> list[tuple[str, str, str | None]]:
    """(plate key, role, nationality) of a declaration's transport means: the active one (the vehicle), then
    each house consignment's passive ones (trailers)."""
    out: list[tuple[str, str, str | None]] = []
    at = decl.active_transport
    if at is not None and at.id and normalise_plate(at.id):
        out.append((normalise_plate(at.id), "vehicle", at.nationality))
    for house in decl.house_consignments:
        for passive in house.passive_transport:
            if normalise_plate(passive.id):
                out.append((normalise_plate(passive.id), "trailer", None))
    return out


def declared_plates(decl: Declaration) -> set[str]:
    """Plate keys of a declaration's vehicle and trailers."""
    return {key for key, _role, _nat in _conveyances(decl)}


def declared_containers(decl: Declaration) -> set[str]:
    return {normalise_container(e.container_id) for h in decl.house_consignments for e in h.transport_equipment
            if e.container_id}


def _distinct(seens: Iterable[object]) -> list[Identifier]:
    out: dict[str, Identifier] = {}
    for seen in seens:
        ident: Identifier = seen.identifier  # type: ignore[attr-defined]
        out.setdefault(ident.key, ident)
    return [out[k] for k in sorted(out)]


def _distinct_idents(idents: Iterable[Identifier]) -> list[Identifier]:
    out: dict[str, Identifier] = {}
    for ident in idents:
        out.setdefault(ident.key, ident)
    return [out[k] for k in sorted(out)]
