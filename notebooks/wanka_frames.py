"""Load a `wanka sweep` output directory with the column types its manifest states.

    from wanka_frames import read_sweep, read_sweep_polars
    df = read_sweep("target/study")            # pandas: int -> Int64, float -> float64, str -> string
    pf = read_sweep_polars("target/study")     # polars: Int64, Float64, String

Plain `pandas.read_csv` has to guess: a text column that is empty in every row (`failure` of an all-ok
sweep) loads as float64, and an integer column with a failed point's empty cell as float64. The
manifest says what each column is, so these readers never guess. `tests/e2e/sweep.rs` checks them on
an all-ok and on a mixed sweep; `notebooks/reliability.ipynb` reads its sweeps with them. Column
names and units: docs/OUTPUTS.md.
"""
from __future__ import annotations

import json
from pathlib import Path

PANDAS = {"int": "Int64", "float": "float64", "str": "string"}


def sweep_manifest(out) -> dict:
    """`manifest.json` of a sweep output directory (name, columns with types, `axis_columns`, …)."""
    with open(Path(out) / "manifest.json") as f:
        return json.load(f)


def columns(out) -> dict[str, str]:
    """Column name -> type (`int`, `float`, `str`), in table order, from `manifest.json`."""
    return {c["name"]: c["type"] for c in sweep_manifest(out)["columns"]}


def read_sweep(out, file: str = "results.csv"):
    """The results as a pandas DataFrame with the manifest's types (`results.csv`, `results.jsonl` or
    `results.parquet`, the last from a build with the `parquet` feature)."""
    import pandas as pd

    cols = columns(out)
    path = Path(out) / file
    if file.endswith(".parquet"):
        df = pd.read_parquet(path)[list(cols)]
    elif file.endswith(".jsonl"):
        df = pd.read_json(path, lines=True, dtype=False)
        df = df[list(cols)]
    else:
        numeric = [c for c, t in cols.items() if t != "str"]
        df = pd.read_csv(path, dtype="string", keep_default_na=False, na_values={c: [""] for c in numeric})
    return df.astype({c: PANDAS[t] for c, t in cols.items()})


def read_sweep_polars(out, file: str = "results.csv"):
    """The results as a polars DataFrame with the manifest's types."""
    import polars as pl

    cols = columns(out)
    kinds = {"int": pl.Int64, "float": pl.Float64, "str": pl.String}
    schema = {c: kinds[t] for c, t in cols.items()}
    path = Path(out) / file
    if file.endswith(".parquet"):
        return pl.read_parquet(path).select(list(cols)).cast(schema)
    if file.endswith(".jsonl"):
        return pl.read_ndjson(path, schema=schema).select(list(cols))
    return pl.read_csv(path, schema_overrides=schema)
