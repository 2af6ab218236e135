"""The end-to-end peer: a Python pipeline doing the core of `ringfence ingest` + `link`.

polars reads the CSVs, applies light normalisation (trim/lower-case, digits-only phones and ID
numbers), turns every linking column into star edges with a group-by, and
scipy.sparse.csgraph.connected_components finds the clusters, which are written to Parquet.
No hubs, time windows, combinations, rings or scores: it does less than Ringfence.

usage: python peer_link.py ACCOUNTS.csv INQUIRIES.csv OUT_DIR
"""
import sys
import time

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def main(accounts_csv, inquiries_csv, out_dir):
    t0 = time.perf_counter()
    acc = pl.read_csv(accounts_csv, infer_schema_length=0)
    inq = pl.read_csv(inquiries_csv, infer_schema_length=0)
    n_acc = acc.height
    acc = acc.with_row_index("idx")
    ids = acc.select(pl.col("account_id"), pl.col("idx"))
    # Inquiries are anchored to their account's index (or their own when unknown).
    inq = inq.with_row_index("own").join(ids, on="account_id", how="left")
    inq = inq.with_columns(pl.coalesce(pl.col("idx"), pl.col("own") + n_acc).alias("idx"))

    def norm(df, col):
        e = pl.col(col).str.strip_chars().str.to_lowercase()
        if col in ("phone", "gov_id_number"):
            e = e.str.replace_all(r"\D", "")
        return df.select(pl.col("idx").cast(pl.Int64), e.alias("v")).filter(
            pl.col("v").is_not_null() & (pl.col("v") != "")
        )

    link_cols = ["email", "phone", "gov_id_number", "device_id", "card_fingerprint", "bank_account"]
    frames = []
    for col in link_cols:
        for df in (acc, inq):
            if col in df.columns:
                frames.append(norm(df, col).with_columns(pl.lit(col).alias("k")))
    obs = pl.concat(frames)
    first = obs.group_by(["k", "v"]).agg(pl.col("idx").min().alias("root"))
    edges = obs.join(first, on=["k", "v"]).filter(pl.col("idx") != pl.col("root"))
    n = n_acc + inq.height
    src = edges["idx"].to_numpy()
    dst = edges["root"].to_numpy()
    g = sp.coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    ncomp, labels = connected_components(g, directed=False)
    out = pl.DataFrame({"idx": np.arange(n), "component": labels})
    out.write_parquet(f"{out_dir}/peer_clusters.parquet")
    dt = time.perf_counter() - t0
    print(f"peer: {n} entities, {len(src)} edges, {ncomp} components in {dt:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:4])
