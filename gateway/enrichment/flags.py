"""Discrepancy flags (research note §3.1), each ``{"code", "severity", "rule": {"id", "version"}, "evidence"}``.

Each ``check_*`` function reads what :mod:`.linking` found and returns flags; thresholds, severities
and stop-lists come from the rule set (``flag_rules.yaml``).  Nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

from gateway.enrichment.dates import gs1_date, gs1_datetime
from gateway.enrichment.declaration import Declaration, GoodsItem
from gateway.enrichment.keys import country_alpha2, eori_format_ok, gs1_ok
from gateway.enrichment.linking import Linked, declared_containers, declared_plates, hs_level
from gateway.enrichment.result import Flag, Routing
from gateway.enrichment.rules import RuleSet
from gateway.enrichment.store import Store
from gateway.gs1.keys import GDTI, GLN, GRAI, GSIN, GSRN, GTIN, SSCC, GS1Key
from gateway.identity import Identifier
from gateway.lane.passage import Passage


class FlagContext:
    def __init__(self, passage: Passage, linked: Linked, store: Store, rules: RuleSet,
                 routing: list[Routing], vehicle_seen: bool) -> None:
        self.passage, self.linked, self.store, self.rules = passage, linked, store, rules
        self.routing, self.vehicle_seen = routing, vehicle_seen
        self.lane_dt = dt.datetime.fromtimestamp(linked.lane_time, dt.UTC)

    def flag(self, code: str, severity_param: str | None = None, *, evidence: dict[str, Any],
             message: str | None = None, mrn: str | None = None, seq: int | None = None,
             severity: str | None = None) -> Flag:
        rule = self.rules.rule(code)
        sev = severity or rule.sev(severity_param)
        return Flag(code=code, severity=sev, rule=rule.ref, evidence=evidence,
                    message=message, mrn=mrn, goods_item_seq=seq)

    def items(self) -> Iterator[tuple[Declaration, GoodsItem]]:
        for _decl_id, decl in sorted(self.linked.decls.items(), key=lambda kv: kv[1].mrn):
            for _house, item in decl.goods_items():
                yield decl, item


# -- linking --------------------------------------------------------------------------------------


def check_no_declaration(c: FlagContext) -> list[Flag]:
    """Every vehicle must be declared: whatever identified it (GS1 keys, plates, containers) linked nothing,
    or nothing identified it at all (a loop saw a vehicle no camera or reader could read)."""
    if c.linked.decls:
        return []
    vehicle = c.linked.vehicle
    return [c.flag("NO_DECLARATION", evidence={
        "identifiers": len({s.identifier.key for s in c.passage.identifiers}),
        "plates": [p.value for p in vehicle.plates], "containers": [v.value for v in vehicle.containers],
        "weak_plates": [p.value for p in c.linked.weak_plates],
        "office": c.linked.office, "window": list(c.linked.window),
        "out_of_window": c.linked.out_of_scope},
        message="nothing identified the vehicle" if c.passage.empty and not vehicle else None)]


def check_sscc_not_declared(c: FlagContext) -> list[Flag]:
    param = None if c.linked.decls else "severity_without_declaration"
    return [c.flag("SSCC_NOT_DECLARED", param, evidence={
        "sscc": sscc, "declarations": [d.mrn for d in c.linked.decls.values()],
        "declared_elsewhere": c.linked.out_of_scope.get(sscc, [])},
        message="recycled SSCC: declared outside the ETA window / office" if sscc in c.linked.out_of_scope else None)
        for sscc in c.linked.ssccs_unexpected]


def check_gtin_undeclared(c: FlagContext) -> list[Flag]:
    if not c.linked.decls:
        return []
    out = []
    for gtin, link in sorted(c.linked.gtins.items()):
        if link.item is not None or not gs1_ok(gtin):
            continue
        hs6 = link.product.hs6 if link.product else None
        out.append(c.flag("GTIN_UNDECLARED", None if hs6 else "severity_unknown_product", evidence={
            "gtin": gtin, "hs6_master": hs6,
            "declared_hs6": sorted({item.hs6 for _d, item in c.items()})},
            message=None if hs6 else "no product master data for this GTIN"))
    return out


def check_hs_mismatch(c: FlagContext) -> list[Flag]:
    out = []
    for gtin, link in sorted(c.linked.gtins.items()):
        if link.item is None or link.product is None or not link.product.hs6:
            continue
        master, declared = link.product.hs6, link.item.hs6
        level = hs_level(master, declared)
        if level == "hs6":
            continue
        param = {"heading": "severity_same_heading", "chapter": "severity_same_chapter"}.get(
            level or "", "severity_other_chapter")
        decl = c.linked.decls[link.decl_id] if link.decl_id is not None else None
        out.append(c.flag("HS_MISMATCH", param, evidence={
            "gtin": gtin, "hs6_master": master, "hs6_declared": declared, "distance": level or "other_chapter",
            "hs_edition_master": link.product.hs_edition, "linked_via": link.via},
            mrn=decl.mrn if decl else None, seq=link.item.seq))
    return out


def check_origin_mismatch(c: FlagContext) -> list[Flag]:
    out = []
    for gtin, link in sorted(c.linked.gtins.items()):
        if link.item is None or link.item.origin_country is None:
            continue
        declared = country_alpha2(link.item.origin_country)
        seen: set[str] = set()
        for ident in link.seen:
            if ident.value("422"):
                seen.add(country_alpha2(ident.value("422") or ""))
        if not seen and link.product is not None:
            seen = {country_alpha2(code) for code in link.product.country_of_origin}
        if seen and declared not in seen:
            decl = c.linked.decls[link.decl_id] if link.decl_id is not None else None
            out.append(c.flag("ORIGIN_MISMATCH", evidence={
                "gtin": gtin, "origin_declared": declared, "origin_seen": sorted(seen),
                "source": "AI 422" if any(i.value("422") for i in link.seen) else "product master"},
                mrn=decl.mrn if decl else None, seq=link.item.seq))
    return out


def check_count_mismatch(c: FlagContext) -> list[Flag]:
    rule = c.rules.rule("COUNT_MISMATCH")
    unit_loads = set(rule.param("unit_load_package_types", []))
    declared = 0
    per_mrn: dict[str, int] = {}
    for decl, item in c.items():
        n = sum(p.count for p in item.packaging if p.type in unit_loads)
        declared += n
        per_mrn[decl.mrn] = per_mrn.get(decl.mrn, 0) + n
    if not declared:
        return []
    seen = len({s.identifier.key for s in c.passage.identifiers
                if s.identifier.key_type == "sscc" and gs1_ok(s.identifier.key)})
    if seen == declared:
        return []
    return [c.flag("COUNT_MISMATCH", "severity_short" if seen < declared else "severity_surplus", evidence={
        "ssccs_seen": seen, "unit_loads_declared": declared, "per_declaration": per_mrn,
        "package_types": sorted(unit_loads)})]


# -- the vehicle --------------------------------------------------------------------------------------


def check_plate_link_uncertain(c: FlagContext) -> list[Flag]:
    """A declaration linked through a plate one OCR-confusable character off, or of another country."""
    strong = {li.mrn for li in c.linked.links if li.via not in ("vehicle-plate-confusable", "vehicle-plate-country",
                                                               "vehicle-plate-weak")}
    out = []
    for vl in c.linked.vehicle_links:
        if vl.uncertain is None:
            continue
        only = vl.mrn not in strong
        out.append(c.flag("PLATE_LINK_UNCERTAIN", "severity_only_link" if only else None, evidence={
            "seen": vl.seen, "declared": vl.declared, "reason": vl.uncertain, "confusable_characters": vl.distance,
            "role": vl.role, "movement": vl.movement, "only_link": only},
            message="plate one OCR-confusable character off the declared one" if vl.uncertain == "ocr_confusable"
            else "plate of another country than declared", mrn=vl.mrn))
    return out


def check_transport_mismatch(c: FlagContext) -> list[Flag]:
    """GS1 keys link a declaration, but the plates the cameras read are not its vehicle or trailers."""
    seen = [p for p in c.linked.vehicle.plates if p.usable and p not in c.linked.weak_plates]
    if not seen:
        return []
    by_vehicle = {vl.decl_id for vl in c.linked.vehicle_links}
    out = []
    for decl_id, decl in sorted(c.linked.decls.items(), key=lambda kv: kv[1].mrn):
        if decl_id in by_vehicle:
            continue
        declared = declared_plates(decl)
        if not declared:
            continue  # nothing declared to compare with
        if any(p.value in declared or p.value in {v.declared for v in c.linked.vehicle_links} for p in seen):
            continue
        out.append(c.flag("TRANSPORT_MISMATCH", evidence={
            "declared": sorted(declared), "seen": [p.value for p in seen],
            "linked_via": sorted({li.via or "" for li in c.linked.links if li.mrn == decl.mrn})},
            message="the vehicle seen is not the declared means of transport", mrn=decl.mrn))
    return out


def check_containers(c: FlagContext) -> list[Flag]:
    """Declared containers the lane's OCR did not read, and containers read that no linked declaration names."""
    readings = c.linked.vehicle.containers
    if not readings or not c.linked.decls:
        return []  # no container camera looked, or nothing linked (NO_DECLARATION says so)
    seen = {v.value for v in readings if v.usable}
    out = []
    declared_all: set[str] = set()
    for _decl_id, decl in sorted(c.linked.decls.items(), key=lambda kv: kv[1].mrn):
        declared = declared_containers(decl)
        declared_all |= declared
        for container in sorted(declared - seen):
            out.append(c.flag("CONTAINER_NOT_SEEN", evidence={
                "container": container, "seen": sorted(seen),
                "unreadable": [v.value for v in readings if not v.usable]}, mrn=decl.mrn))
    for container in sorted(seen - declared_all):
        out.append(c.flag("CONTAINER_NOT_DECLARED", evidence={
            "container": container, "declarations": sorted(d.mrn for d in c.linked.decls.values())}))
    return out


# -- identifiers --------------------------------------------------------------------------------------


_KEY_CLASSES: dict[str, tuple[str, type[GS1Key]]] = {
    "sscc": ("00", SSCC), "gtin": ("01", GTIN), "sgtin": ("01", GTIN), "gln": ("414", GLN), "sgln": ("414", GLN),
    "gsin": ("402", GSIN), "grai": ("8003", GRAI), "gdti": ("253", GDTI), "gsrn": ("8018", GSRN),
}


def _distinct_idents(c: FlagContext) -> list[Identifier]:
    out: dict[tuple[str, str], Identifier] = {}
    for seen in c.passage.identifiers:
        out.setdefault((seen.identifier.key_type, seen.identifier.key), seen.identifier)
    return [out[k] for k in sorted(out)]


def check_key_checkdigit(c: FlagContext) -> list[Flag]:
    out = []
    for ident in _distinct_idents(c):
        spec = _KEY_CLASSES.get(ident.key_type)
        value = ident.value(spec[0]) if spec else None
        if spec is None or value is None:
            if ident.key_type == "gtin" and ident.value("02"):
                spec, value = ("02", GTIN), ident.value("02")
            else:
                continue
        if value is not None and not spec[1](value).is_check_digit_valid:
            out.append(c.flag("KEY_CHECKDIGIT_INVALID", evidence={
                "key_type": ident.key_type, "ai": spec[0], "value": value, "uri": ident.uri},
                message="possible counterfeit or misprinted label"))
    return out


def check_expired(c: FlagContext) -> list[Flag]:
    rule = c.rules.rule("EXPIRED")
    food = set(rule.param("food_medicine_hs_chapters", []))
    out = []
    lane = c.lane_dt
    for ident in _distinct_idents(c):
        expiry: str | None = None
        raw17, raw7003 = ident.value("17"), ident.value("7003")
        if raw17 is not None:
            day = gs1_date(raw17, lane.year)
            if day is not None and day < lane.date():
                expiry = day.isoformat()
            ai = "17"
        if expiry is None and raw7003 is not None:
            when = gs1_datetime(raw7003, lane.year)
            if when is not None and when < lane:
                expiry = when.isoformat()
            ai = "7003"
        if expiry is None:
            continue
        gtin = ident.gtin
        link = c.linked.gtins.get(gtin or "")
        hs6 = (link.product.hs6 if link and link.product else None) or (link.item.hs6 if link and link.item else None)
        param = "severity_food_medicine" if hs6 and hs6[:2] in food else None
        out.append(c.flag("EXPIRED", param, evidence={
            "key": ident.key, "ai": ai, "value": raw17 if ai == "17" else raw7003, "expiry": expiry,
            "lane_date": lane.date().isoformat(), "hs6": hs6, "batch": ident.value("10")}))
    return out


def check_recalled(c: FlagContext) -> list[Flag]:
    out = []
    for gtin, link in sorted(c.linked.gtins.items()):
        if link.product is None:
            continue
        batches = sorted({i.value("10") or "" for i in link.seen})
        for batch in batches:
            ids = link.product.recall_ids(batch or None)
            if ids:
                out.append(c.flag("RECALLED", evidence={"gtin": gtin, "batch": batch or None, "recalls": ids}))
    return out


def check_dg_undeclared(c: FlagContext) -> list[Flag]:
    out = []
    for gtin, link in sorted(c.linked.gtins.items()):
        label_dg = any(i.value("4321") == "1" for i in link.seen)
        master_un = link.product.dangerous_goods.un_numbers if link.product else []
        if not (label_dg or master_un):
            continue
        if link.item is not None:
            if link.item.un_numbers:
                continue
        elif not c.linked.decls or any(item.un_numbers for _d, item in c.items()):
            continue
        decl = c.linked.decls.get(link.decl_id) if link.decl_id is not None else None
        out.append(c.flag("DG_UNDECLARED", evidence={
            "gtin": gtin, "ai_4321": label_dg, "un_numbers_master": master_un},
            mrn=decl.mrn if decl else None, seq=link.item.seq if link.item else None))
    # AI 4321 on a logistic label (SSCC) linked to an item without a UN number
    for ident in _distinct_idents(c):
        if ident.key_type != "sscc" or ident.value("4321") != "1":
            continue
        for decl_id, seq in c.linked.ssccs_linked.get(ident.key, []):
            decl = c.linked.decls[decl_id]
            items = [item for _h, item in decl.goods_items() if seq is None or item.seq == seq]
            if not any(item.un_numbers for item in items):
                out.append(c.flag("DG_UNDECLARED", evidence={"sscc": ident.key, "ai_4321": True},
                                  mrn=decl.mrn, seq=seq))
    return out


# -- declaration content ------------------------------------------------------------------------------


def check_sps_doc_missing(c: FlagContext) -> list[Flag]:
    agencies = set(c.rules.rule("SPS_DOC_MISSING").param("agencies", []))
    return [c.flag("SPS_DOC_MISSING", evidence={
        "agency": r.agency, "hs6": r.hs6, "basis": r.basis, "expected_docs": r.expected_docs,
        "supporting_documents": [d.type for d in r.documents]}, mrn=r.mrn, seq=r.goods_item_seq)
        for r in c.routing if r.agency in agencies and r.present is False and r.mrn is not None]


def _keywords(words: list[str], text: str) -> list[str]:
    low = text.lower()
    return [w for w in words if re.search(rf"\b{re.escape(w.lower())}", low)]


def check_cites_candidate(c: FlagContext) -> list[Flag]:
    rule = c.rules.rule("CITES_CANDIDATE")
    words = list(rule.param("keywords", []))
    out = []
    done: set[tuple[str | None, int | None]] = set()
    for r in c.routing:
        if r.agency != "CITES" or (r.mrn, r.goods_item_seq) in done:
            continue
        texts = []
        for decl, item in c.items():
            if decl.mrn == r.mrn and item.seq == r.goods_item_seq:
                texts.append(item.description)
        for link in c.linked.gtins.values():
            if link.product and link.product.description and (link.item is None or link.item.seq == r.goods_item_seq):
                texts.append(link.product.description)
        hits = _keywords(words, " ".join(texts))
        if hits or not rule.param("require_keyword", True):
            done.add((r.mrn, r.goods_item_seq))
            out.append(c.flag("CITES_CANDIDATE", evidence={"hs6": r.hs6, "basis": r.basis, "keywords": hits},
                              mrn=r.mrn, seq=r.goods_item_seq))
    return out


def check_vague_description(c: FlagContext) -> list[Flag]:
    rule = c.rules.rule("VAGUE_DESCRIPTION")
    stop = {s.lower() for s in rule.param("stop_list", [])}
    min_words = int(rule.param("min_words", 2))
    out = []
    for decl, item in c.items():
        norm = " ".join(re.sub(r"[^\w/ ]+", " ", item.description.lower()).split())
        words = len(norm.split())
        if norm in stop or words < min_words:
            out.append(c.flag("VAGUE_DESCRIPTION", evidence={
                "description": item.description, "words": words, "min_words": min_words,
                "stop_list_hit": norm in stop}, mrn=decl.mrn, seq=item.seq))
    return out


def check_party_ids(c: FlagContext) -> list[Flag]:
    out = []
    for _decl_id, decl in sorted(c.linked.decls.items(), key=lambda kv: kv[1].mrn):
        for role, ref in decl.party_roles():
            problems: list[str] = []
            inline = decl.parties.get(ref)
            master = c.store.party(ref)
            eori = inline.eori if inline else None
            gln = inline.gln if inline else None
            if eori is not None and not eori_format_ok(eori):
                problems.append("EORI format")
            if gln is not None and not (len(gln) == 13 and gs1_ok(gln)):
                problems.append("GLN check digit")
            if master is None and gln is not None:
                found = c.store.parties_by(gln=gln)
                master = found[0] if found else None
            if master is None and eori is not None:
                found = c.store.parties_by(eori=eori)
                master = found[0] if found else None
            if master is not None:
                if master.verification and master.verification.eori_valid is False:
                    problems.append("EORI not valid (EORI check)")
                if master.verification and master.verification.gln_active is False:
                    problems.append("GLN inactive")
                if eori and master.ids.eori and master.ids.eori != eori:
                    problems.append("GLN/EORI cross-reference conflict")
            if problems:
                out.append(c.flag("PARTY_ID_INVALID", evidence={
                    "role": role, "party_ref": ref, "problems": problems, "eori": eori, "gln": gln,
                    "master_eori": master.ids.eori if master else None}, mrn=decl.mrn))
    return out


CHECKS: tuple[Callable[[FlagContext], list[Flag]], ...] = (
    check_no_declaration, check_sscc_not_declared, check_gtin_undeclared, check_hs_mismatch,
    check_origin_mismatch, check_count_mismatch, check_key_checkdigit, check_expired, check_recalled,
    check_dg_undeclared, check_sps_doc_missing, check_cites_candidate, check_vague_description, check_party_ids,
    check_plate_link_uncertain, check_transport_mismatch, check_containers,
)


def evaluate(c: FlagContext) -> list[Flag]:
    flags: list[Flag] = []
    for check in CHECKS:
        flags.extend(check(c))
    return flags
