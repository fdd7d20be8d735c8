"""Load a `wanka sweep` output directory with the column types its manifest states.

    from wanka_frames import read_sweep, read_sweep_polars
    df = read_sweep("target/study")            # pandas: int -> Int64, float -> float64, str -> string
    pf = read_sweep_polars("target/study")     # polars: Int64, Float64, String

Plain `pandas.read_csv` has to guess: a text column that is empty in every row (`error` of an all-ok
sweep) loads as float64, and an integer column with a failed point's empty cell as float64. The
manifest says what each column is, so these readers never guess. `tests/e2e/sweep.rs` checks them on
an all-ok and on a mixed sweep.
"""
from __future__ import annotations

import json
from pathlib import Path

PANDAS = {"int": "Int64", "float": "float64", "str": "string"}


def columns(out) -> dict[str, str]:
    """Column name -> type (`int`, `float`, `str`), in table order, from `manifest.json`."""
    with open(Path(out) / "manifest.json") as f:
        return {c["name"]: c["type"] for c in json.load(f)["columns"]}


def read_sweep(out, file: str = "results.csv"):
    """The results as a pandas DataFrame with the manifest's types (`results.csv` or `results.jsonl`)."""
    import pandas as pd

    cols = columns(out)
    path = Path(out) / file
    if file.endswith(".jsonl"):
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
    if file.endswith(".jsonl"):
        return pl.read_ndjson(path, schema=schema).select(list(cols))
    return pl.read_csv(path, schema_overrides=schema)
