"""SQLite store for declarations, products and parties, indexed on every linking key.

* ``declarations``: every version ever received (history), ``current = 1`` on the highest version
  of each MRN.  Upserts are idempotent on MRN + version (same content -> ``unchanged``; different
  content under the same version -> :class:`DeclarationConflict`); a higher version supersedes
  (``amended``); a lower one arriving late is kept as history (``stale``).
* ``decl_keys(key_type, key, decl_id)``: one row per linking key of the *current* versions only
  (SSCC, SSCC in shipping marks, GTIN, GSIN, GINC, UCR, house/master transport document, container,
  seal, plate, GLN, EORI, MRN), so a lookup is one B-tree probe.
* ``(office, eta)`` index for "declarations expected at this office in this window".

One connection guarded by a lock (the asyncio service calls from its loop and from executor threads);
WAL journal for file databases.

>>> from gateway.enrichment.declaration import Declaration
>>> store = Store(":memory:")
>>> d = Declaration.model_validate({"declarationRef": {"mrn": "25DE000000000123A1"},
...     "customsOfficeOfFirstEntry": "DE004056",
...     "activeTransport": {"id": "B-XY 1234", "eta": "2025-03-01T10:30:00Z"},
...     "houseConsignments": [{"goodsItems": [{"seq": 1, "description": "Frozen beef cuts", "hs6": "020230",
...                                           "gs1": {"ssccs": ["340123450000000017"]}}]}]})
>>> store.upsert_declaration(d).outcome, store.upsert_declaration(d).outcome
('created', 'unchanged')
>>> [hit.mrn for hit in store.find("sscc", "340123450000000017")], store.find("plate", "BXY1234")[0].office
(['25DE000000000123A1'], 'DE004056')
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.keys import find_ssccs, gs1_ok, normalise_container, normalise_plate
from gateway.enrichment.movement import Movement
from gateway.enrichment.party import Party
from gateway.enrichment.product import Product
from gateway.storage.files import ENRICHMENT_DB
from gateway.storage.schema import open_database
from gateway.storage.schemas import ENRICHMENT
from gateway.vehicle import plate_skeleton

DB_FILENAME = ENRICHMENT_DB
log = logging.getLogger(__name__)

Outcome = Literal["created", "amended", "unchanged", "stale", "updated"]

_IN_CHUNK = 500  # keys per ``IN (...)`` list of :meth:`Store.find_many` (SQLite allows 32766 parameters)

KEY_TYPES = ("mrn", "sscc", "sscc_marks", "gtin", "gsin", "ginc", "ucr", "hwb", "mwb", "container", "seal",
             "plate", "plate_sk", "gln", "eori")
MOVEMENT_KEY_TYPES = ("plate", "plate_sk", "container", "mrn")


class MovementConflict(ValueError):
    """The same movement reference and version arrived twice with different content."""

    def __init__(self, ref: str, version: int) -> None:
        super().__init__(f"movement {ref} version {version} already stored with different content "
                         "(send an amendment with a higher version)")
        self.ref, self.version = ref, version


class DeclarationConflict(ValueError):
    """The same MRN and version arrived twice with different content."""

    def __init__(self, mrn: str, version: int) -> None:
        super().__init__(f"declaration {mrn} version {version} already stored with different content "
                         "(send an amendment with a higher version)")
        self.mrn, self.version = mrn, version


@dataclass(frozen=True, slots=True)
class Upsert:
    key: str  # MRN, GTIN or party reference
    outcome: Outcome
    version: int | None = None


@dataclass(frozen=True, slots=True)
class MovementHit:
    movement_id: int
    ref: str
    version: int
    office: str | None
    eta: float | None


@dataclass(frozen=True, slots=True)
class DeclarationHit:
    decl_id: int
    mrn: str
    version: int
    office: str | None
    eta: float | None


ChangeKind = Literal["declarations", "movements", "products", "parties"]


@dataclass(frozen=True, slots=True)
class Change:
    """Records that changed what enrichment finds: created, amended or updated (never ``unchanged`` or
    ``stale``), each with its outcome; what :attr:`Store.listeners` are told after the commit."""

    kind: ChangeKind
    records: tuple[tuple[Declaration | Movement | Product | Party, Outcome], ...]


def declaration_keys(decl: Declaration) -> set[tuple[str, str]]:
    """Every (key_type, key) a seen identifier or vehicle observation may link through."""
    keys: set[tuple[str, str]] = {("mrn", decl.mrn)}
    at = decl.active_transport
    if at is not None and at.id and normalise_plate(at.id):
        keys.add(("plate", normalise_plate(at.id)))
    if decl.transport_document_master is not None:
        keys.add(("mwb", decl.transport_document_master.number))
    for party in decl.parties.values():
        if party.gln:
            keys.add(("gln", party.gln))
        if party.eori:
            keys.add(("eori", party.eori))
    for house in decl.house_consignments:
        if house.ucr is not None:
            value = house.ucr.value
            if house.ucr.scheme == "GS1_GSIN" or (len(value) == 17 and gs1_ok(value)):
                keys.add(("gsin", value))
            elif house.ucr.scheme == "GS1_GINC":
                keys.add(("ginc", value))
            keys.add(("ucr", value))
        if house.transport_document_house is not None:
            keys.add(("hwb", house.transport_document_house.number))
        for passive in house.passive_transport:
            if normalise_plate(passive.id):
                keys.add(("plate", normalise_plate(passive.id)))
        for equipment in house.transport_equipment:
            if equipment.container_id:
                keys.add(("container", normalise_container(equipment.container_id)))
            for seal in equipment.seals:
                keys.add(("seal", seal.strip().upper()))
        for item in house.goods_items:
            for sscc in item.gs1.ssccs:
                keys.add(("sscc", sscc))
            for pack in item.packaging:
                for sscc in find_ssccs(pack.shipping_marks or ""):
                    keys.add(("sscc_marks", sscc))
            for declared in item.gs1.gtins:
                keys.add(("gtin", declared.gtin))
    # a one-character OCR misread of a plate finds the declaration through its skeleton (gateway.vehicle)
    keys |= {("plate_sk", plate_skeleton(key)) for kind, key in list(keys) if kind == "plate"}
    return keys


def movement_keys(movement: Movement) -> set[tuple[str, str]]:
    """Every (key_type, key) a vehicle observation may find a movement by."""
    keys: set[tuple[str, str]] = {("mrn", mrn) for mrn in movement.declarations}
    for plate in movement.plate_keys():
        keys |= {("plate", plate), ("plate_sk", plate_skeleton(plate))}
    keys |= {("container", normalise_container(c)) for c in movement.containers}
    return keys


def _digest(body: str) -> str:
    return hashlib.blake2b(body.encode("utf-8"), digest_size=16).hexdigest()


def _eta(decl: Declaration) -> float | None:
    """The ETA (epoch seconds), else the issue or receipt time: what the ETA window is applied to."""
    for when in (decl.eta, decl.issued_at, decl.received_at):
        if when is not None:
            return when.timestamp()
    return None


class Store:
    """Declarations, products and parties.  ``Store(path)`` with a file path or ``":memory:"``."""

    def __init__(self, path: str | Path = ":memory:", cache_size: int = 2048) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        # The schema, and its migrations from earlier releases: gateway.storage.schemas.ENRICHMENT
        self._db = open_database(self.path, ENRICHMENT)
        self._db.execute("PRAGMA foreign_keys=ON")
        # Parsed declarations by row id (a row's body never changes: a new version is a new row) and
        # parsed products by body digest (see :meth:`product`); both LRU, ``cache_size`` entries each.
        self._cache: OrderedDict[int, Declaration] = OrderedDict()
        self._products: OrderedDict[str, Product] = OrderedDict()
        self._cache_size = cache_size
        # called after each committed write that changed something (late data: gateway.history.late), in the
        # writer's thread; a listener must be quick and must not raise
        self.listeners: list[Callable[[Change], None]] = []

    @classmethod
    def for_storage_dir(cls, directory: str | Path) -> Store:
        """The store file inside the config's ``storage.path`` directory."""
        return cls(Path(directory) / DB_FILENAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------------

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    # -- declarations ---------------------------------------------------------------------------

    def upsert_declaration(self, decl: Declaration) -> Upsert:
        return self.upsert_declarations([decl])[0]

    def upsert_declarations(self, decls: Iterable[Declaration]) -> list[Upsert]:
        """Bulk upsert in one transaction (all or nothing: a conflict rolls the batch back)."""
        decls = list(decls)
        with self._lock:
            self._begin()
            try:
                out = [self._upsert_declaration(decl) for decl in decls]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self._notify("declarations", decls, out)
        return out

    def _upsert_declaration(self, decl: Declaration) -> Upsert:
        body = decl.model_dump_json(by_alias=True, exclude_none=True)
        digest = _digest(body)
        db = self._db
        row = db.execute("SELECT digest FROM declarations WHERE mrn = ? AND version = ?",
                         (decl.mrn, decl.version)).fetchone()
        if row is not None:
            if row[0] == digest:
                return Upsert(decl.mrn, "unchanged", decl.version)
            raise DeclarationConflict(decl.mrn, decl.version)
        current = db.execute("SELECT id, version FROM declarations WHERE mrn = ? AND current = 1",
                             (decl.mrn,)).fetchone()
        if current is not None and current[1] > decl.version:
            db.execute("INSERT INTO declarations (mrn, version, current, office, eta, digest, body) "
                       "VALUES (?, ?, 0, ?, ?, ?, ?)",
                       (decl.mrn, decl.version, decl.customs_office_of_first_entry, _eta(decl), digest, body))
            return Upsert(decl.mrn, "stale", decl.version)
        if current is not None:
            db.execute("UPDATE declarations SET current = 0 WHERE id = ?", (current[0],))
            db.execute("DELETE FROM decl_keys WHERE decl_id = ?", (current[0],))
        cur = db.execute("INSERT INTO declarations (mrn, version, current, office, eta, digest, body) "
                         "VALUES (?, ?, 1, ?, ?, ?, ?)",
                         (decl.mrn, decl.version, decl.customs_office_of_first_entry, _eta(decl), digest, body))
        decl_id = cur.lastrowid
        db.executemany("INSERT OR IGNORE INTO decl_keys (key_type, key, decl_id) VALUES (?, ?, ?)",
                       [(kt, k, decl_id) for kt, k in declaration_keys(decl)])
        return Upsert(decl.mrn, "amended" if current is not None else "created", decl.version)

    # -- movements (bx.movement.v1) ------------------------------------------------------------------

    def upsert_movement(self, movement: Movement) -> Upsert:
        return self.upsert_movements([movement])[0]

    def upsert_movements(self, movements: Iterable[Movement]) -> list[Upsert]:
        """Like declarations: idempotent on reference + version, a higher version supersedes, all or nothing."""
        movements = list(movements)
        with self._lock:
            self._begin()
            try:
                out = [self._upsert_movement(m) for m in movements]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self._notify("movements", movements, out)
        return out

    def _upsert_movement(self, movement: Movement) -> Upsert:
        body = movement.model_dump_json(by_alias=True, exclude_none=True)
        digest = _digest(body)
        db = self._db
        ref, version = movement.ref, movement.version
        when = movement.when.timestamp() if movement.when is not None else None
        row = db.execute("SELECT digest FROM movements WHERE ref = ? AND version = ?", (ref, version)).fetchone()
        if row is not None:
            if row[0] == digest:
                return Upsert(ref, "unchanged", version)
            raise MovementConflict(ref, version)
        current = db.execute("SELECT id, version FROM movements WHERE ref = ? AND current = 1", (ref,)).fetchone()
        office = movement.customs_office_of_first_entry
        if current is not None and current[1] > version:
            db.execute("INSERT INTO movements (ref, version, current, office, eta, digest, body) "
                       "VALUES (?, ?, 0, ?, ?, ?, ?)", (ref, version, office, when, digest, body))
            return Upsert(ref, "stale", version)
        if current is not None:
            db.execute("UPDATE movements SET current = 0 WHERE id = ?", (current[0],))
            db.execute("DELETE FROM movement_keys WHERE movement_id = ?", (current[0],))
        cur = db.execute("INSERT INTO movements (ref, version, current, office, eta, digest, body) "
                         "VALUES (?, ?, 1, ?, ?, ?, ?)", (ref, version, office, when, digest, body))
        db.executemany("INSERT OR IGNORE INTO movement_keys (key_type, key, movement_id) VALUES (?, ?, ?)",
                       [(kt, k, cur.lastrowid) for kt, k in movement_keys(movement)])
        return Upsert(ref, "amended" if current is not None else "created", version)

    def movement(self, ref: str) -> Movement | None:
        """The current version of a movement."""
        with self._lock:
            row = self._db.execute("SELECT body FROM movements WHERE ref = ? AND current = 1", (ref,)).fetchone()
        return None if row is None else Movement.model_validate_json(row[0])

    def movement_by_id(self, movement_id: int) -> Movement:
        with self._lock:
            row = self._db.execute("SELECT body FROM movements WHERE id = ?", (movement_id,)).fetchone()
        if row is None:
            raise KeyError(movement_id)
        return Movement.model_validate_json(row[0])

    def find_movements(self, key_type: str, key: str) -> list[MovementHit]:
        """Current movements that carry ``key`` as ``key_type`` (plate, plate_sk, container, mrn)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT m.id, m.ref, m.version, m.office, m.eta FROM movement_keys k JOIN movements m "
                "ON m.id = k.movement_id WHERE k.key_type = ? AND k.key = ? ORDER BY k.movement_id",
                (key_type, key)).fetchall()
        return [MovementHit(*row) for row in rows]

    def declaration(self, mrn: str, version: int | None = None) -> Declaration | None:
        """The current version of ``mrn`` (or the given version, superseded or not)."""
        with self._lock:
            if version is None:
                row = self._db.execute("SELECT id, body FROM declarations WHERE mrn = ? AND current = 1",
                                       (mrn,)).fetchone()
            else:
                row = self._db.execute("SELECT id, body FROM declarations WHERE mrn = ? AND version = ?",
                                       (mrn, version)).fetchone()
        return None if row is None else self._decl(row[0], row[1])

    def declaration_by_id(self, decl_id: int) -> Declaration:
        cached = self._cache.get(decl_id)
        if cached is not None:
            return cached
        with self._lock:
            row = self._db.execute("SELECT body FROM declarations WHERE id = ?", (decl_id,)).fetchone()
        if row is None:
            raise KeyError(decl_id)
        return self._decl(decl_id, row[0])

    def _decl(self, decl_id: int, body: str) -> Declaration:
        with self._lock:
            cached = self._cache.get(decl_id)
            if cached is not None:
                self._cache.move_to_end(decl_id)
                return cached
            decl = Declaration.model_validate_json(body)
            self._cache[decl_id] = decl
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return decl

    def history(self, mrn: str) -> list[tuple[int, bool]]:
        """(version, current) for every stored version of ``mrn``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT version, current FROM declarations WHERE mrn = ? ORDER BY version",
                                    (mrn,)).fetchall()
        return [(int(v), bool(c)) for v, c in rows]

    def find(self, key_type: str, key: str) -> list[DeclarationHit]:
        """Current declarations that carry ``key`` as ``key_type`` (one index probe), by ``decl_id``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT d.id, d.mrn, d.version, d.office, d.eta FROM decl_keys k "
                "JOIN declarations d ON d.id = k.decl_id WHERE k.key_type = ? AND k.key = ? ORDER BY k.decl_id",
                (key_type, key)).fetchall()
        return [DeclarationHit(*row) for row in rows]

    def find_many(self, key_type: str, keys: Sequence[str]) -> dict[str, list[DeclarationHit]]:
        """:meth:`find` for many keys of one type at once: ``{key: hits}`` (keys without hits left out).

        One statement per 500 keys instead of one per key: a truck's 20 SSCCs cost one round through
        SQLite (each statement releases and re-takes the GIL, and its set-up dominates a probe).
        """
        out: dict[str, list[DeclarationHit]] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), _IN_CHUNK):
                chunk = unique[start:start + _IN_CHUNK]
                rows = self._db.execute(
                    "SELECT k.key, d.id, d.mrn, d.version, d.office, d.eta FROM decl_keys k "
                    f"JOIN declarations d ON d.id = k.decl_id WHERE k.key_type = ? AND k.key IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY k.key, k.decl_id", (key_type, *chunk)).fetchall()
                for key, *hit in rows:
                    out.setdefault(key, []).append(DeclarationHit(*hit))
        return out

    def in_window(self, office: str | None, start: float, end: float) -> list[DeclarationHit]:
        """Current declarations expected at ``office`` (any office if ``None``) with ETA in [start, end]."""
        with self._lock:
            if office is None:
                rows = self._db.execute("SELECT id, mrn, version, office, eta FROM declarations "
                                        "WHERE current = 1 AND eta BETWEEN ? AND ?", (start, end)).fetchall()
            else:
                rows = self._db.execute("SELECT id, mrn, version, office, eta FROM declarations "
                                        "WHERE current = 1 AND office = ? AND eta BETWEEN ? AND ?",
                                        (office, start, end)).fetchall()
        return [DeclarationHit(*row) for row in rows]

    def delete_declaration(self, mrn: str) -> int:
        """Remove every version of ``mrn`` (retention / withdrawal); returns the number of versions."""
        with self._lock:
            self._begin()
            ids = [r[0] for r in self._db.execute("SELECT id FROM declarations WHERE mrn = ?", (mrn,))]
            self._db.executemany("DELETE FROM decl_keys WHERE decl_id = ?", [(i,) for i in ids])
            self._db.execute("DELETE FROM declarations WHERE mrn = ?", (mrn,))
            self._db.execute("COMMIT")
            for i in ids:
                self._cache.pop(i, None)
            return len(ids)

    # -- products -------------------------------------------------------------------------------

    def upsert_product(self, product: Product) -> Upsert:
        return self.upsert_products([product])[0]

    def upsert_products(self, products: Iterable[Product]) -> list[Upsert]:
        products = list(products)
        with self._lock:
            self._begin()
            try:
                out = [self._upsert_simple("products", "gtin", p.gtin,
                                           p.model_dump_json(by_alias=True, exclude_none=True), {"hs6": p.hs6})
                       for p in products]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self._notify("products", products, out)
        return out

    def product(self, gtin: str) -> Product | None:
        """The product master record of ``gtin``, parsed once per content.

        Parsed records are cached by the digest of their body, not by GTIN: the lookup still reads the
        row, so a record changed by anyone (the API, ``border-gateway import`` in another process) is
        never served stale, but the same content is validated only once.
        """
        with self._lock:
            row = self._db.execute("SELECT digest, body FROM products WHERE gtin = ?", (gtin,)).fetchone()
            if row is None:
                return None
            cached = self._products.get(row[0])
            if cached is None:
                cached = self._products[row[0]] = Product.model_validate_json(row[1])
                if len(self._products) > self._cache_size:
                    self._products.popitem(last=False)
            else:
                self._products.move_to_end(row[0])
            return cached

    # -- parties --------------------------------------------------------------------------------

    def upsert_party(self, party: Party) -> Upsert:
        return self.upsert_parties([party])[0]

    def upsert_parties(self, parties: Iterable[Party]) -> list[Upsert]:
        parties = list(parties)
        with self._lock:
            self._begin()
            try:
                out = [self._upsert_simple("parties", "party_ref", p.party_ref,
                                           p.model_dump_json(by_alias=True, exclude_none=True),
                                           {"gln": p.ids.gln, "eori": p.ids.eori, "lei": p.ids.lei}) for p in parties]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self._notify("parties", parties, out)
        return out

    def party(self, party_ref: str) -> Party | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM parties WHERE party_ref = ?", (party_ref,)).fetchone()
        return None if row is None else Party.model_validate_json(row[0])

    def parties_by(self, *, gln: str | None = None, eori: str | None = None) -> list[Party]:
        with self._lock:
            if gln is not None:
                rows = self._db.execute("SELECT body FROM parties WHERE gln = ?", (gln,)).fetchall()
            elif eori is not None:
                rows = self._db.execute("SELECT body FROM parties WHERE eori = ?", (eori,)).fetchall()
            else:
                rows = []
        return [Party.model_validate_json(r[0]) for r in rows]

    # -- shared ---------------------------------------------------------------------------------

    def _notify(self, kind: ChangeKind, records: Sequence[Declaration | Movement | Product | Party],
                outcomes: Sequence[Upsert]) -> None:
        changed = tuple((record, up.outcome) for record, up in zip(records, outcomes, strict=True)
                        if up.outcome in ("created", "amended", "updated"))
        if not changed or not self.listeners:
            return
        change = Change(kind, changed)
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:  # a listener's failure never fails the write that was committed
                log.exception("a store listener failed")

    def _upsert_simple(self, table: str, key_col: str, key: str, body: str, columns: dict[str, str | None]) -> Upsert:
        digest = _digest(body)
        row = self._db.execute(f"SELECT digest FROM {table} WHERE {key_col} = ?", (key,)).fetchone()
        if row is not None and row[0] == digest:
            return Upsert(key, "unchanged")
        names = [key_col, *columns, "digest", "body"]
        values = [key, *columns.values(), digest, body]
        placeholders = ", ".join("?" * len(names))
        self._db.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) VALUES ({placeholders})", values)
        return Upsert(key, "created" if row is None else "updated")

    def counts(self) -> dict[str, int]:
        with self._lock:
            q = self._db.execute
            return {
                "declarations": int(q("SELECT count(*) FROM declarations WHERE current = 1").fetchone()[0]),
                "declaration_versions": int(q("SELECT count(*) FROM declarations").fetchone()[0]),
                "products": int(q("SELECT count(*) FROM products").fetchone()[0]),
                "parties": int(q("SELECT count(*) FROM parties").fetchone()[0]),
                "movements": int(q("SELECT count(*) FROM movements WHERE current = 1").fetchone()[0]),
                "keys": int(q("SELECT count(*) FROM decl_keys").fetchone()[0]),
            }

    def iter_mrns(self) -> Iterator[str]:
        with self._lock:
            rows = self._db.execute("SELECT mrn FROM declarations WHERE current = 1 ORDER BY mrn").fetchall()
        for (mrn,) in rows:
            yield mrn

    def export_json(self, what: Literal["declarations", "products", "parties", "movements"]) -> list[object]:
        """Current records as plain JSON (for the API / backups)."""
        sql = {"declarations": "SELECT body FROM declarations WHERE current = 1 ORDER BY mrn",
               "movements": "SELECT body FROM movements WHERE current = 1 ORDER BY ref",
               "products": "SELECT body FROM products ORDER BY gtin",
               "parties": "SELECT body FROM parties ORDER BY party_ref"}[what]
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute(sql).fetchall()]
