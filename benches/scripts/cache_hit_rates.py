#!/usr/bin/env python3
"""Hit rates of ingest's per-thread normalisation memo (graph_core::normalize::NormalizeCache),
simulated on a generated population: rows go to two threads' tables in blocks of 2,048 (as
ingest hands out blocks), each table holds 32,768 raw values and is emptied when full.

    python3 benches/scripts/cache_hit_rates.py DATA_DIR   # holds accounts.csv, inquiries.csv

Phones are keyed by the raw country and number (ingest keys by the resolved region, which
only merges spellings of one country, so its rate is at most slightly higher)."""
import csv
import sys

CAPACITY = 32_768
BLOCK = 2_048


class Table:
    def __init__(self):
        self.keys, self.hits, self.misses = set(), 0, 0

    def look_up(self, key):
        if key in self.keys:
            self.hits += 1
            return
        self.misses += 1
        if len(self.keys) >= CAPACITY:
            self.keys.clear()
        self.keys.add(key)


def main(data):
    kinds = {k: [Table(), Table()] for k in ("name", "country", "birthdate", "phone")}
    row = 0
    for name in ("accounts.csv", "inquiries.csv"):
        with open(f"{data}/{name}", newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                t = (row // BLOCK) % 2
                row += 1
                for c in ("name_first", "name_middle", "name_last"):
                    if r.get(c):
                        kinds["name"][t].look_up(r[c])
                for c in ("address_country", "gov_id_country"):
                    if r.get(c):
                        kinds["country"][t].look_up(r[c])
                if r.get("birthdate"):
                    kinds["birthdate"][t].look_up(r["birthdate"])
                if r.get("phone"):
                    kinds["phone"][t].look_up((r.get("address_country") or "") + "\0" + r["phone"])
    for kind, tables in kinds.items():
        hits = sum(t.hits for t in tables)
        calls = hits + sum(t.misses for t in tables)
        print(f"{kind:10} {calls:>10} look-ups  {hits / max(calls, 1):6.1%} hits")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "datasets/sample")
