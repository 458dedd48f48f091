"""Enrichment store and matching at scale: 10,000 declarations + 100,000 products.

Reports load time, key-lookup rate (vs. the anchor: a scan of the stored declaration bodies, i.e.
the same SQLite without the key index), passages matched per second, the share of passages linked
to the right declaration, and memory (VmRSS / VmHWM from /proc/self/status).

    .venv/bin/python benchmarks/bench_enrichment.py [--declarations 10000] [--products 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.config.enrichment import EnrichmentConfig
from gateway.enrichment.declaration import Declaration
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.product import Product
from gateway.enrichment.store import Store
from gateway.gs1.check_digit import with_check_digit as ck
from gateway.identity import Identifier
from gateway.lane.passage import Evidence, Passage, SeenIdentifier

HS = ["020230", "080810", "190532", "210690", "870899", "940360", "392690", "610910", "847130", "040690"]
T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC).timestamp()


def proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    return 0


def make_declaration(n: int, rng: random.Random, n_products: int) -> dict[str, object]:
    eta = dt.datetime.fromtimestamp(T0 + (n % 2000) * 300, dt.UTC).isoformat()
    items = []
    for seq in range(1, rng.randint(1, 3) + 1):
        ssccs = [ck(f"3{4012345:07d}{n * 10 + seq * 3 + k:09d}") for k in range(2)]
        g = rng.randrange(n_products)
        items.append({"seq": seq, "description": "Assorted goods for retail", "hs6": HS[g % len(HS)],
                      "packaging": [{"type": "PX", "count": 2}],
                      "gs1": {"ssccs": ssccs, "gtins": [{"gtin": ck(f"0{5012345:07d}{g:05d}"[:13])}]}})
    return {"declarationRef": {"mrn": f"25DE{n:014d}", "version": 1}, "customsOfficeOfFirstEntry": "DE004056",
            "activeTransport": {"id": f"B-{n:06d}", "eta": eta},
            "houseConsignments": [{"supportingDocuments": [{"type": "N853", "ref": f"CHED-{n}"}],
                                   "goodsItems": items}]}


def gtin_for(g: int) -> str:
    return ck(f"0{5012345 + g // 100000:07d}{g % 100000:05d}"[:13])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--declarations", type=int, default=10_000)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=20_000)
    ap.add_argument("--passages", type=int, default=2_000)
    args = ap.parse_args()
    rng = random.Random(7)
    rss0 = proc_status("VmRSS")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "enrichment.sqlite")
        raw = [make_declaration(n, rng, args.products) for n in range(args.declarations)]
        t = time.perf_counter()
        decls = [Declaration.model_validate(d) for d in raw]
        for i in range(0, len(decls), 500):
            store.upsert_declarations(decls[i:i + 500])
        t_decl = time.perf_counter() - t
        del raw
        t = time.perf_counter()
        batch: list[Product] = []
        for g in range(args.products):
            batch.append(Product.model_validate({
                "gtin": ck(f"0{5012345:07d}{g:05d}"[:13]) if g < 100000 else gtin_for(g),
                "description": f"Product {g}", "countryOfOrigin": ["276"],
                "importClassifications": [{"type": "HS6", "value": HS[g % len(HS)], "hsEdition": "HS2022"}]}))
            if len(batch) == 1000:
                store.upsert_products(batch)
                batch = []
        store.upsert_products(batch)
        t_prod = time.perf_counter() - t
        rss_loaded = proc_status("VmRSS")
        counts = store.counts()
        db_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6

        # lookups: random SSCCs through the key index
        keys = []
        for _ in range(args.lookups):
            d = decls[rng.randrange(len(decls))]
            keys.append(d.house_consignments[0].goods_items[0].gs1.ssccs[0])
        t = time.perf_counter()
        found = sum(1 for k in keys if store.find("sscc", k))
        t_lookup = time.perf_counter() - t
        lookup_rate = args.lookups / t_lookup
        # anchor: the same question without the key index (scan of the stored bodies)
        n_scan = 20
        t = time.perf_counter()
        for k in keys[:n_scan]:
            store._db.execute("SELECT id FROM declarations WHERE current = 1 AND body LIKE ?", (f"%{k}%",)).fetchall()
        scan_rate = n_scan / (time.perf_counter() - t)

        # passages: each declared truck seen with its SSCCs, one GTIN and its plate
        enricher = Enricher(store, EnrichmentConfig(border_office="DE004056"))
        passages = []
        for i in range(args.passages):
            n = rng.randrange(len(decls))
            d = decls[n]
            ids = [Identifier.from_elements([("00", s)]) for _h, it in d.goods_items() for s in it.gs1.ssccs]
            ids.append(Identifier.from_elements([("01", d.house_consignments[0].goods_items[0].gs1.gtins[0].gtin),
                                                 ("21", str(i))]))
            at = d.eta.timestamp() if d.eta else T0
            seen = tuple(SeenIdentifier(x, Evidence(at, at, 2)) for x in ids)
            passages.append((d.mrn, Passage(id=f"p{i}", lane="l1", direction="inbound", state="closed",
                                            opened_at=at - 10, closed_at=at, identifiers=seen,
                                            triggers=(f"plate:{d.active_transport.id}",)  # type: ignore[union-attr]
                                            )))
        t = time.perf_counter()
        correct = 0
        for expected, p in passages:
            result = enricher.enrich(p, p.closed_at or 0.0)
            correct += [r.mrn for r in result.declaration_refs] == [expected]
        t_match = time.perf_counter() - t
        match_rate = args.passages / t_match
        rss_end, hwm = proc_status("VmRSS"), proc_status("VmHWM")
        store.close()

    rows = [
        {"metric": f"load {args.declarations:,} declarations", "ours": args.declarations / t_decl, "anchor": None,
         "anchor_name": None, "ratio": None, "unit": "declarations/s", "target": "10k in < 60 s"},
        {"metric": f"load {args.products:,} products", "ours": args.products / t_prod, "anchor": None,
         "anchor_name": None, "ratio": None, "unit": "products/s", "target": "100k in < 120 s"},
        {"metric": "SSCC -> declaration lookup", "ours": lookup_rate, "anchor": scan_rate,
         "anchor_name": "same SQLite, body scan (no key index)", "ratio": lookup_rate / scan_rate,
         "unit": "lookups/s", "target": "O(1)-ish: > 10k/s"},
        {"metric": "passages enriched (link + flags + routing)", "ours": match_rate, "anchor": None,
         "anchor_name": None, "ratio": None, "unit": "passages/s", "target": "> 100/s"},
        {"metric": "passages linked to the right declaration", "ours": 100.0 * correct / args.passages,
         "anchor": None, "anchor_name": None, "ratio": None, "unit": "%", "target": "100"},
        {"metric": "RSS after loading (growth)", "ours": (rss_loaded - rss0) / 1024, "anchor": None,
         "anchor_name": None, "ratio": None, "unit": "MiB", "target": "moderate (< 500)"},
        {"metric": "peak RSS (VmHWM)", "ours": hwm / 1024, "anchor": None, "anchor_name": None, "ratio": None,
         "unit": "MiB", "target": "< 1 GiB"},
        {"metric": "SQLite file size", "ours": db_mb, "anchor": None, "anchor_name": None, "ratio": None,
         "unit": "MB", "target": ""},
    ]
    print(f"stored: {counts}; lookups found {found}/{args.lookups}; RSS start {rss0 / 1024:.0f} MiB, "
          f"after load {rss_loaded / 1024:.0f} MiB, end {rss_end / 1024:.0f} MiB, peak {hwm / 1024:.0f} MiB")
    for r in rows:
        ratio = f"  (x{r['ratio']:.0f} vs {r['anchor_name']}: {r['anchor']:.1f})" if r["ratio"] else ""
        print(f"{r['metric']:<48} {r['ours']:>12,.1f} {r['unit']}{ratio}")
    out = {"benchmark": "Enrichment: store, lookups and matching", "machine": f"{platform.machine()} "
           f"{platform.python_implementation()} {platform.python_version()}", "rows": rows}
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "enrichment.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
