"""File intake: ``border-gateway import declarations|products|parties|movements FILE`` (JSON or CSV).

* JSON: one object, a list of objects, or JSON Lines (one object per line);
* CSV: one row per record; nested fields use dotted camelCase column names
  (``declarationRef.mrn``, ``ids.gln``, ``importClassifications.0.value``); list cells of plain
  strings may be ``;``-separated (``countryOfOrigin``: ``DE;FR``); empty cells are omitted.

Each record is validated on its own: a bad row is reported with its row number and the field path,
the good ones are stored, and the summary says how many were created / amended / unchanged / failed.
The exit status is 1 if any row failed.

>>> rows = parse_csv_text("gtin,description,countryOfOrigin\\n4012345000016,Beef,DE;FR\\n")
>>> rows
[{'gtin': '4012345000016', 'description': 'Beef', 'countryOfOrigin': ['DE', 'FR']}]
"""

from __future__ import annotations

import argparse
import csv
import io
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import BaseModel, ValidationError

from gateway.enrichment.declaration import Declaration
from gateway.enrichment.movement import Movement
from gateway.enrichment.party import Party
from gateway.enrichment.product import Product
from gateway.enrichment.store import DB_FILENAME, DeclarationConflict, MovementConflict, Store
from gateway.json_limits import JsonLimitError, check_depth, loads

What = Literal["declarations", "products", "parties", "movements"]
MODELS: dict[str, type[BaseModel]] = {"declarations": Declaration, "products": Product, "parties": Party,
                                      "movements": Movement}
# CSV columns whose cells hold ';'-separated lists
_LIST_COLUMNS = {"countryOfOrigin", "targetMarkets", "roles", "regulatoryTags", "unNumbers", "itinerary",
                 "routingCountries", "seals", "ssccs", "childGtins", "parentGtins", "batches", "mraRecognisedBy",
                 "containers", "declarations"}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based record number (CSV: the data row, header excluded; JSON Lines: the line)
    path: str  # field path, e.g. houseConsignments[0].goodsItems[0].hs6
    message: str


@dataclass
class ImportReport:
    what: str
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[RowError] = field(default_factory=list)

    @property
    def failed_rows(self) -> int:
        return len({e.row for e in self.errors})

    def summary(self) -> str:
        parts = [f"{n} {k}" for k, n in sorted(self.outcomes.items())]
        parts.append(f"{self.failed_rows} failed")
        return f"{self.what}: " + ", ".join(parts)


def format_loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) for every problem, in the input's (camelCase) names."""
    return [(format_loc(err["loc"]) or "(root)", err["msg"]) for err in exc.errors()]


MAX_LIST_INDEX = 9_999  # a CSV column ``items.N.x`` builds a list of N + 1 entries: bound N


class ImportFormatError(ValueError):
    """A file or body that cannot be split into records (the message says where)."""


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt: Any = value if last else ([] if parts[i + 1].isdigit() else {})
        if isinstance(node, list):
            if not part.isdigit() or int(part) > MAX_LIST_INDEX:
                raise ImportFormatError(f"column {dotted!r}: {part!r} is not a list index 0..{MAX_LIST_INDEX}")
            index = int(part)
            while len(node) <= index:
                node.append(None)
            if last:
                node[index] = value
            elif node[index] is None:
                node[index] = nxt
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, nxt)
        else:  # "a" and "a.b" both present: "a" already holds a value
            raise ImportFormatError(f"column {dotted!r} conflicts with column {'.'.join(parts[:i])!r}")


def parse_csv_text(text: str) -> list[dict[str, Any]]:
    """CSV rows as records; :class:`ImportFormatError` names the line of a row the csv module refuses
    (a field over ``csv.field_size_limit()``, 131,072 characters, or a stray quote)."""
    rows = []
    reader = csv.DictReader(io.StringIO(text))
    try:
        for raw in reader:
            record: dict[str, Any] = {}
            for column, cell in raw.items():
                if column is None or cell is None or cell.strip() == "":
                    continue
                value: Any = cell.strip()
                if column.split(".")[-1] in _LIST_COLUMNS:
                    value = [v.strip() for v in value.split(";") if v.strip()]
                _set_path(record, column.strip(), value)
            rows.append(record)
    except csv.Error as exc:
        raise ImportFormatError(f"CSV line {reader.line_num + 1}: {exc}") from None  # the line being read
    return rows


def parse_json_text(text: str) -> list[Any]:
    """A JSON array, one JSON value, or JSON Lines; nesting is bounded before anything is parsed
    (:mod:`gateway.json_limits`), and every failure is an :class:`ImportFormatError`."""
    try:
        check_depth(text)
        if text.lstrip().startswith("["):
            return list(loads(text))
        try:
            return [loads(text)]
        except JsonLimitError:
            pass
        records = []
        for number, line in enumerate(text.splitlines(), start=1):  # JSON Lines
            if line.strip():
                try:
                    records.append(loads(line))
                except JsonLimitError as exc:
                    raise ImportFormatError(f"line {number}: {exc}") from None
        return records
    except JsonLimitError as exc:
        raise ImportFormatError(str(exc)) from None


def read_records(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return parse_csv_text(text)
    return parse_json_text(text)


def import_records(store: Store, what: What, records: Iterable[Any], first_row: int = 1) -> ImportReport:
    """Validate each record, store the good ones (one transaction per record), report per-row errors."""
    model = MODELS[what]
    report = ImportReport(what)
    for row, record in enumerate(records, start=first_row):
        if not isinstance(record, dict):
            report.errors.append(RowError(row, "(root)", f"expected an object, got {type(record).__name__}"))
            continue
        try:
            obj = model.model_validate(record)
        except ValidationError as exc:
            report.errors.extend(RowError(row, p, m) for p, m in validation_errors(exc))
            continue
        try:
            if isinstance(obj, Declaration):
                outcome = store.upsert_declaration(obj).outcome
            elif isinstance(obj, Product):
                outcome = store.upsert_product(obj).outcome
            elif isinstance(obj, Movement):
                outcome = store.upsert_movement(obj).outcome
            else:
                assert isinstance(obj, Party)
                outcome = store.upsert_party(obj).outcome
        except DeclarationConflict as exc:
            report.errors.append(RowError(row, "declarationRef.version", str(exc)))
            continue
        except MovementConflict as exc:
            report.errors.append(RowError(row, "movementRef.version", str(exc)))
            continue
        except (sqlite3.Error, OverflowError) as exc:  # one record the store refuses must not cost the others
            report.errors.append(RowError(row, "(record)", f"not stored: {type(exc).__name__}: {exc}"))
            continue
        report.outcomes[outcome] += 1
    return report


def import_file(store: Store, what: What, path: Path) -> ImportReport:
    try:
        records = read_records(path)
    except (OSError, ValueError) as exc:  # ImportFormatError, UnicodeDecodeError
        report = ImportReport(what)
        report.errors.append(RowError(0, "(file)", f"{path}: {exc}"))
        return report
    return import_records(store, what, records)


def _db_path(args: argparse.Namespace) -> Path:
    if getattr(args, "db", None):
        return Path(args.db)
    if getattr(args, "config", None):
        from gateway.config import load_config

        return Path(load_config(args.config).storage.path) / DB_FILENAME
    return Path("./data") / DB_FILENAME


def run_from_cli(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        db = _db_path(args)
    except ValueError as exc:  # ConfigError
        print(str(exc), file=err)
        return 2
    with Store(db) as store:
        report = import_file(store, args.what, Path(args.file))
    for e in report.errors:
        print(f"{args.file}: row {e.row}: {e.path}: {e.message}", file=err)
    print(f"{report.summary()} (into {db})", file=out)
    return 1 if report.errors else 0
