"""Splink (DuckDB backend) on the same records `ringfence dedupe` sees, for the comparison in
benches/scripts/dedupe_vs_splink.sh.

Input: a `ringfence ingest` output folder (the normalised values in attributes.parquet, so
both tools start from the same cleaned data) and the truth CSV (account_id, person_id).
The model is trained without labels, as Splink's documentation recommends: the prior from
deterministic rules, u by random sampling, m by EM over two blocking passes. Pairs scoring
at least 0.9 (Ringfence's default threshold) are the predicted duplicates, evaluated pairwise exactly as
`ringfence eval` evaluates duplicates.parquet.

Prints one JSON line: seconds (model set-up, training and prediction; data preparation is
not timed), pairs, precision, recall, f1.

    python splink_dedupe.py CANONICAL_DIR TRUTH_CSV [default|fixed_gov_id_m]
"""

import json
import sys
import time
from collections import Counter

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def load(canonical: str):
    """One row per account: the normalised values Ringfence compares."""
    con = duckdb.connect()
    return con.sql(
        f"""
        with e as (
          select entity_idx, entity_id from read_parquet('{canonical}/entities.parquet')
          where entity_type = 'account'
        ),
        a as (
          select entity_idx, kind, value from read_parquet('{canonical}/attributes.parquet')
          where kind in ('name', 'name_last', 'birthdate', 'email', 'phone', 'gov_id', 'address')
        ),
        p as (
          select entity_idx,
                 max(value) filter (where kind = 'name') as full_name,
                 max(value) filter (where kind = 'name_last') as last_name,
                 max(value) filter (where kind = 'birthdate') as birthdate,
                 max(value) filter (where kind = 'email') as email,
                 max(value) filter (where kind = 'phone') as phone,
                 max(value) filter (where kind = 'gov_id') as gov_id,
                 max(value) filter (where kind = 'address') as address
          from a group by entity_idx
        )
        select e.entity_id as unique_id,
               nullif(split_part(p.full_name, ' ', 1), '') as first_name,
               p.last_name,
               p.birthdate,
               substr(p.birthdate, 1, 4) as birth_year,
               p.email,
               split_part(p.email, '@', 1) as email_local,
               p.phone,
               nullif(split_part(p.gov_id, ':', 2), '') as gov_id,
               p.address,
               split_part(p.address, '|', 2) as postal
        from e left join p using (entity_idx)
        """
    ).df()


def gov_id_comparison(fixed_else_m: bool):
    """ID numbers: exact, one edit, else. With `fixed_else_m` the `else` level's m is held
    at 1e-9 as Ringfence's default `fixed_m` does: EM alone cannot tell a synthetic-identity
    farm (same name and birthdate, many ID numbers) from one person, and learns that a
    different ID number is common among matches."""
    if not fixed_else_m:
        return cl.LevenshteinAtThresholds("gov_id", [1])
    return cl.CustomComparison(
        output_column_name="gov_id",
        comparison_levels=[
            cll.NullLevel("gov_id"),
            cll.ExactMatchLevel("gov_id"),
            cll.LevenshteinLevel("gov_id", 1),
            cll.ElseLevel().configure(m_probability=1e-9, fix_m_probability=True),
        ],
    )


def main() -> None:
    canonical, truth_csv = sys.argv[1], sys.argv[2]
    variant = sys.argv[3] if len(sys.argv) > 3 else "default"
    if variant not in ("default", "fixed_gov_id_m"):
        sys.exit(f"unknown variant {variant!r}: default | fixed_gov_id_m")
    fixed_else_m = variant == "fixed_gov_id_m"
    threshold = 0.9
    df = load(canonical)

    t0 = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        # The same kinds of blocking keys Ringfence uses by default.
        blocking_rules_to_generate_predictions=[
            block_on("gov_id"),
            block_on("substr(last_name, 1, 3)", "birthdate"),
            block_on("substr(first_name, 1, 3)", "birthdate"),
            block_on("substr(first_name, 1, 2)", "substr(last_name, 1, 2)", "birth_year"),
            block_on("email_local"),
            block_on("phone"),
            block_on("address", "birth_year"),
            block_on("postal", "birthdate"),
        ],
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name"),
            cl.DateOfBirthComparison("birthdate", input_is_string=True),
            gov_id_comparison(fixed_else_m),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=False),
            cl.JaccardAtThresholds("address", [0.9, 0.7]),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(df, settings, db_api=DuckDBAPI())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("gov_id", "birthdate"), block_on("email"), block_on("phone", "last_name")],
        recall=0.7,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birthdate"), fix_probability_two_random_records_match=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("gov_id"), fix_probability_two_random_records_match=True
    )
    pred = linker.inference.predict(threshold_match_probability=threshold)
    pairs = pred.as_duckdbpyrelation().select("unique_id_l, unique_id_r").fetchall()
    seconds = time.perf_counter() - t0

    person = {}
    with open(truth_csv, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
        ia, ip = header.index("account_id"), header.index("person_id")
        for line in f:
            cols = line.rstrip("\n").split(",")
            person[cols[ia]] = cols[ip]
    counts = Counter(person.values())
    actual = sum(n * (n - 1) // 2 for n in counts.values())
    seen = {(min(a, b), max(a, b)) for a, b in pairs if a in person and b in person and a != b}
    tp = sum(1 for a, b in seen if person[a] == person[b])
    precision = tp / len(seen) if seen else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "pairs": len(seen),
                "true_positives": tp,
                "actual": actual,
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "f1": round(f1, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
