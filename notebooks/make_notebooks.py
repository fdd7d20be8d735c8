#!/usr/bin/env python3
"""Write the analysis notebooks (candidates, reliability, validation) with nbformat.

The notebooks are plain Jupyter files; this script is where their code lives so that the three share
one way of finding the data and saving figures. Edit it and rerun (`python notebooks/make_notebooks.py`)
or edit a notebook in Jupyter; either way commit notebooks without outputs
(`python notebooks/check_notebooks.py --fix` strips them, CI checks it).
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------------------
# Shared cells
# --------------------------------------------------------------------------------------------------

PARAMS_DOC = """\
# Parameters (papermill-style: `papermill NB.ipynb out.ipynb -p data_dir /path/to/data`).
# data_dir = None: the environment variable WANKA_DATA, else notebooks/data under the repository root.
# A relative path is tried against the working directory first, then against the repository root.
data_dir = None
"""

SETUP = '''\
import json
import math
import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are written as PNG files next to the data
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Image, display

plt.rcParams.update({
    "figure.dpi": 110, "savefig.dpi": 130, "font.size": 10.5, "axes.titlesize": 11.5,
    "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 9, "legend.framealpha": 0.9,
})
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 40)


def find_repo_root():
    """The wanka checkout around the working directory (works from the repo root or notebooks/)."""
    for d in [Path.cwd(), *Path.cwd().parents]:
        if (d / "notebooks" / "make_data.sh").is_file():
            return d
    return None


ROOT = find_repo_root()
if ROOT is not None:  # notebooks/wanka_frames.py: sweep tables with their manifest's column types
    import sys

    sys.path.insert(0, str(ROOT / "notebooks"))


def resolve_data_dir(p):
    p = Path(p or os.environ.get("WANKA_DATA") or "notebooks/data").expanduser()
    tried = [p] if p.is_absolute() else [Path.cwd() / p] + ([ROOT / p] if ROOT else [])
    for c in tried:
        if c.is_dir():
            return c.resolve()
    raise FileNotFoundError(
        f"data directory {p} not found (tried {', '.join(map(str, tried))}); "
        "generate it with notebooks/make_data.sh or point WANKA_DATA at it")


DATA = resolve_data_dir(data_dir)
print("repository:", ROOT)
print("data:      ", DATA)


def save(fig, name):
    """Write the figure as PNG into the data directory and show the file."""
    path = DATA / name
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    print("wrote", path)
    display(Image(filename=str(path)))
'''


def notebook(cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    out = []
    for kind, src, *tags in cells:
        cell = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        if tags:
            cell.metadata["tags"] = list(tags)
        out.append(cell)
    nb.cells = out
    # Stable cell ids keep regenerated notebooks byte-identical (nbformat >= 4.5 wants ids).
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i:02d}"
    return nb


def params(extra=""):
    return ("code", PARAMS_DOC + extra, "parameters")


# --------------------------------------------------------------------------------------------------
# candidates.ipynb
# --------------------------------------------------------------------------------------------------

CANDIDATES = notebook([
    ("md", """\
# Candidates of the default plan

**Question:** which of the default plan's candidate clusters (`scenarios/default_plan.ron`) trains the model
soonest and cheapest, how uncertain are the training days, what do they cost in money and energy, and
which candidates are on the time-versus-cost Pareto front?

Input: `compare.json` (`wanka compare --json`) and/or `compare.csv` (`wanka compare --csv FILE`) in the data
directory; `notebooks/make_data.sh` writes both. Days are wall-clock days with failures and restarts
(Monte Carlo p10 / p50 / p90 over seeds); cost is the run's share (amortised hardware + electricity, or
rental); energy is at the facility (PUE included)."""),
    params('plan_file = "scenarios/default_plan.ron"  # only read for the deadline, budget and power cap lines\n'),
    ("code", SETUP),
    ("md", "## Load the comparison"),
    ("code", '''\
json_path, csv_path = DATA / "compare.json", DATA / "compare.csv"
doc = json.loads(json_path.read_text()) if json_path.is_file() else None
csv_df = pd.read_csv(csv_path) if csv_path.is_file() else None
if doc is None and csv_df is None:
    raise FileNotFoundError(f"neither {json_path} nor {csv_path} exists: run notebooks/make_data.sh")

nan = float("nan")
if doc is not None:
    rows = []
    for c in doc["candidates"]:
        e, d, t = c.get("economics") or {}, c.get("days") or {}, c.get("ettr") or {}
        rows.append({
            "rank": c["rank"], "name": c["name"], "feasible": c["feasible"],
            "devices": c["devices"], "chips": c["chips"], "mfu": c.get("mfu", nan),
            "ettr_mean": t.get("mean", nan), "interruptions_mean": (c.get("interruptions") or {}).get("mean", nan),
            "ideal_days": c.get("ideal_days", nan),
            "days_p10": d.get("p10", nan), "days_p50": d.get("p50", nan), "days_p90": d.get("p90", nan),
            "hardware_cost_musd": e.get("hardware_cost_musd", nan), "energy_cost_musd": e.get("energy_cost_musd", nan),
            "cost_musd": e.get("cost_musd", nan), "usd_per_mtok": e.get("usd_per_mtok", nan),
            "energy_mwh": e.get("energy_mwh", nan), "peak_mw": e.get("peak_mw", nan),
            "pareto": bool(c.get("pareto")), "flags": "; ".join(c.get("flags") or []),
            "infeasible_reason": c.get("infeasible_reason"),
        })
    cand = pd.DataFrame(rows)
    title = f"{doc['plan']} ({doc.get('seeds', '?')} seeds per candidate)"
else:
    cand = csv_df.copy()   # the CSV's columns are the JSON's names (docs/OUTPUTS.md)
    cand["hardware_cost_musd"] = nan
    cand["energy_cost_musd"] = nan
    cand["flags"] = cand["flags"].fillna("")
    title = "wanka compare (from compare.csv)"

# The CSV is the same ranking as the JSON when both come from one `wanka compare` call: check it.
if doc is not None and csv_df is not None:
    m = cand.merge(csv_df, on="name", suffixes=("", "_csv"))
    same = len(m) == len(cand) and np.allclose(m["days_p50"], m["days_p50_csv"], equal_nan=True) \\
        and np.allclose(m["cost_musd"], m["cost_musd_csv"], rtol=1e-9, equal_nan=True)
    print("compare.csv agrees with compare.json" if same else
          "WARNING: compare.csv and compare.json differ (from different runs?); the figures use compare.json")

ok = cand[cand["feasible"] & cand["days_p50"].notna()].sort_values("rank").reset_index(drop=True)
if len(ok) < len(cand):
    print("not plotted (infeasible):")
    for _, r in cand[~cand.index.isin(cand[cand["feasible"] & cand["days_p50"].notna()].index)].iterrows():
        print("  ", r["name"], "-", r.get("infeasible_reason"))
print(title)
ok[["rank", "name", "devices", "mfu", "ettr_mean", "ideal_days", "days_p10", "days_p50", "days_p90",
    "cost_musd", "usd_per_mtok", "energy_mwh", "peak_mw", "pareto"]].round(3)
'''),
    ("code", '''\
# The plan's goal lines (deadline, budget) and the facility power cap: read from the plan file when it is
# the plan that compare.json was made from (compare.json does not carry them).
deadline_days = budget_musd = power_cap_mw = None
pf = Path(plan_file) if Path(plan_file).is_absolute() else (ROOT / plan_file if ROOT else Path(plan_file))
if pf.is_file():
    text = pf.read_text()
    name = re.search(r'name:\\s*"([^"]*)"', text)
    if doc is None or (name and name.group(1) == doc["plan"]):
        num = r"\\s*Some\\(\\s*([0-9.eE+-]+)\\s*\\)"
        if (m := re.search(r"deadline_days:" + num, text)):
            deadline_days = float(m.group(1))
        if (m := re.search(r"budget_musd:" + num, text)):
            budget_musd = float(m.group(1))
        caps = {float(x) for x in re.findall(r"facility_cap_mw:" + num, text)}
        if len(caps) == 1:
            power_cap_mw = caps.pop()
print(f"deadline {deadline_days} days, budget {budget_musd} M USD, power cap {power_cap_mw} MW")

for _, r in ok.iterrows():
    if r["flags"]:
        print(f"{r['name']}: {r['flags']}")
'''),
    ("md", """\
## Figures

1. `candidates_days.png` — p50 training days per candidate with p10–p90 error bars and the failure-free
   ideal; right: the days failures cost (p50 − ideal), where the Monte Carlo spread is visible.
2. `candidates_cost_energy.png` — the run's cost (hardware share + electricity) against the budget, energy,
   and peak facility power against the cap.
3. `candidates_pareto.png` — p50 days against cost with the Pareto front (computed here and checked against
   wanka's `pareto` flags)."""),
    ("code", '''\
names = ok["name"].tolist()
y = np.arange(len(ok))[::-1]  # rank 1 on top
colors = plt.cm.tab10(np.arange(len(ok)) % 10)

fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.5, 0.7 * len(ok) + 2.2), sharey=True,
                              gridspec_kw={"width_ratios": [1.6, 1]})
err = [ok["days_p50"] - ok["days_p10"], ok["days_p90"] - ok["days_p50"]]
ax.barh(y, ok["days_p50"], color=colors, alpha=0.8, height=0.6)
ax.errorbar(ok["days_p50"], y, xerr=err, fmt="none", ecolor="black", capsize=5, lw=1.5, label="p10–p90 over seeds")
ax.scatter(ok["ideal_days"], y, marker="|", s=400, color="black", zorder=3, label="ideal (no failures)")
for yi, (_, r) in zip(y, ok.iterrows()):
    ax.text(r["days_p90"] + 0.01 * ok["days_p90"].max(), yi, f"{r['days_p50']:.1f} d", va="center", fontsize=9)
if deadline_days:
    ax.axvline(deadline_days, color="crimson", ls="--", lw=1.5, label=f"deadline {deadline_days:g} days")
ax.set_yticks(y, [f"{r['rank']}. {r['name']}" for _, r in ok.iterrows()])
ax.set_xlabel("wall-clock training days (p50; bars p10–p90)")
ax.set_xlim(0, max(ok["days_p90"].max(), deadline_days or 0) * 1.15)
ax.set_title("Training time per candidate")
ax.legend(loc="upper right")

lost = ok["days_p50"] - ok["ideal_days"]
err2 = [ok["days_p50"] - ok["days_p10"], ok["days_p90"] - ok["days_p50"]]
ax2.barh(y, lost, color=colors, alpha=0.8, height=0.6)
ax2.errorbar(lost, y, xerr=err2, fmt="none", ecolor="black", capsize=5, lw=1.5)
for yi, l, e in zip(y, lost, ok["ettr_mean"]):
    ax2.text(l * 1.03 + 0.05, yi + 0.22, f"ETTR {e:.3f}", va="center", fontsize=8.5)
ax2.set_xlabel("days lost (p50 − ideal; bars p10–p90)")
ax2.set_title("Days lost to failures, restarts, checkpoints")
ax2.set_xlim(0, (lost + err2[1]).max() * 1.35)
fig.suptitle(title, fontsize=12)
fig.tight_layout()
save(fig, "candidates_days.png")
'''),
    ("code", '''\
fig, axes = plt.subplots(1, 3, figsize=(15, 0.7 * len(ok) + 2.2), sharey=True)
ax = axes[0]
if ok["hardware_cost_musd"].notna().all():
    ax.barh(y, ok["hardware_cost_musd"], color="steelblue", height=0.6, label="hardware (amortised or rented)")
    ax.barh(y, ok["energy_cost_musd"], left=ok["hardware_cost_musd"], color="orange", height=0.6, label="electricity")
else:
    ax.barh(y, ok["cost_musd"], color="steelblue", height=0.6, label="total")
for yi, (_, r) in zip(y, ok.iterrows()):
    ax.text(r["cost_musd"] * 1.01, yi, f"{r['cost_musd']:.1f} M USD\\n{r['usd_per_mtok']:.2f} USD / M tokens", va="center", fontsize=8.5)
if budget_musd:
    ax.axvline(budget_musd, color="crimson", ls="--", lw=1.5, label=f"budget {budget_musd:g} M USD")
ax.set_xlim(0, max(ok["cost_musd"].max(), budget_musd or 0) * 1.45)
ax.set_yticks(y, [f"{r['rank']}. {r['name']}" for _, r in ok.iterrows()])
ax.set_xlabel("cost of the run (million USD, at p50 days)")
ax.set_title("Cost")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8.5)

ax = axes[1]
ax.barh(y, ok["energy_mwh"], color="seagreen", height=0.6)
for yi, v in zip(y, ok["energy_mwh"]):
    ax.text(v * 1.01, yi, f"{v:,.0f} MWh", va="center", fontsize=8.5)
ax.set_xlim(0, ok["energy_mwh"].max() * 1.3)
ax.set_xlabel("facility energy of the run (MWh, PUE included)")
ax.set_title("Energy")

ax = axes[2]
over = power_cap_mw is not None and (ok["peak_mw"] > power_cap_mw)
ax.barh(y, ok["peak_mw"], color=np.where(over, "crimson", "grey") if power_cap_mw else "grey", height=0.6)
for yi, v in zip(y, ok["peak_mw"]):
    ax.text(v * 1.01, yi, f"{v:.1f} MW", va="center", fontsize=8.5)
if power_cap_mw:
    ax.axvline(power_cap_mw, color="crimson", ls="--", lw=1.5, label=f"facility cap {power_cap_mw:g} MW")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13))
ax.set_xlim(0, max(ok["peak_mw"].max(), power_cap_mw or 0) * 1.3)
ax.set_xlabel("peak facility power (MW, devices at TDP)")
ax.set_title("Power (red: over the cap)")
fig.suptitle(title, fontsize=12)
fig.tight_layout()
save(fig, "candidates_cost_energy.png")
'''),
    ("code", '''\
# Pareto front (minimise p50 days and cost): a candidate is on it when no other is at least as good on
# both and better on one.
def pareto_front(df):
    keep = []
    for i, r in df.iterrows():
        dominated = ((df["days_p50"] <= r["days_p50"]) & (df["cost_musd"] <= r["cost_musd"])
                     & ((df["days_p50"] < r["days_p50"]) | (df["cost_musd"] < r["cost_musd"]))).any()
        keep.append(not dominated)
    return pd.Series(keep, index=df.index)

ok["front"] = pareto_front(ok)
if set(ok.loc[ok["front"], "name"]) != set(ok.loc[ok["pareto"], "name"]):
    print("NOTE: the front computed here differs from wanka's `pareto` flags:",
          sorted(ok.loc[ok["front"], "name"]), "vs", sorted(ok.loc[ok["pareto"], "name"]))
else:
    print("Pareto front:", ", ".join(ok.loc[ok["front"], "name"]), "(agrees with wanka)")

fig, ax = plt.subplots(figsize=(10, 6.5))
for (i, r), c in zip(ok.iterrows(), colors):
    warn = bool(r["flags"]) and any(k in r["flags"] for k in ("misses deadline", "over budget", "over power cap"))
    ax.errorbar(r["days_p50"], r["cost_musd"], xerr=[[r["days_p50"] - r["days_p10"]], [r["days_p90"] - r["days_p50"]]],
                fmt="o", ms=11, color=c, mfc=c if not warn else "white", mew=2.5, capsize=4,
                label=f"{r['rank']}. {r['name']}" + (" (flagged)" if warn else ""))
    short = [f.split(":")[0] for f in r["flags"].split("; ") if f.startswith(("misses", "over"))]
    ax.annotate(r["name"] + ("\\n(" + ", ".join(short) + ")" if short else ""), (r["days_p50"], r["cost_musd"]),
                textcoords="offset points", xytext=(10, 6), fontsize=8.5, color="crimson" if short else "black")
f = ok[ok["front"]].sort_values("days_p50")
if len(f) > 1:
    ax.step(f["days_p50"], f["cost_musd"], where="post", color="black", lw=1.5, ls="-", zorder=0)
ax.scatter(f["days_p50"], f["cost_musd"], s=420, facecolors="none", edgecolors="black", lw=1.5, label="Pareto front")
if deadline_days:
    ax.axvline(deadline_days, color="crimson", ls="--", lw=1.2, label=f"deadline {deadline_days:g} days")
if budget_musd:
    ax.axhline(budget_musd, color="darkorange", ls="--", lw=1.2, label=f"budget {budget_musd:g} M USD")
ax.set_xlim(0, max(ok["days_p90"].max(), deadline_days or 0) * 1.12)
ax.set_ylim(0, max(ok["cost_musd"].max(), budget_musd or 0) * 1.15)
ax.set_xlabel("wall-clock training days (p50; bars p10–p90)")
ax.set_ylabel("cost of the run (million USD)")
ax.set_title("Time versus cost (hollow marker: flagged for deadline, budget or power cap)")
ax.legend(loc="lower right", fontsize=8.5)
fig.tight_layout()
save(fig, "candidates_pareto.png")
'''),
])

# --------------------------------------------------------------------------------------------------
# reliability.ipynb
# --------------------------------------------------------------------------------------------------

RELIABILITY = notebook([
    ("md", """\
# Reliability: cluster size × failure rate × checkpoint policy

**Question:** how do the cluster size, the failure rate (a multiplier on the failure profile) and the
checkpoint policy change the effective training time ratio (ETTR), where do the lost days go (rework,
restarts, checkpoint stalls, waiting for spares, …), and does checkpointing at Daly's optimum interval
actually maximise ETTR?

Input: sweep output directories (`wanka sweep FILE --out DIR`, each with `results.csv`) in the data directory:
`planner_study/` (GPUs × failure multiplier × checkpoint policy and interval, from
`scenarios/sweeps/planner_study.ron`)
and `checkpoint_interval/` (fixed checkpoint intervals around the optimum, from
`notebooks/sweeps/checkpoint_interval.ron`). `notebooks/make_data.sh` writes both.

Daly's higher-order optimum, with δ the checkpoint stall and M the job's mean time to interruption (both
are columns of the sweep: `checkpoint_stall_s`, `mtti_hours`):
τ_Daly = √(2δM)·[1 + ⅓√(δ/2M) + (1/9)(δ/2M)] − δ (τ = M when δ ≥ 2M)."""),
    params('sweep = "planner_study"                # sweep output directory (under the data directory)\n'
           'interval_sweep = "checkpoint_interval"  # sweep over fixed checkpoint intervals (optional)\n'),
    ("code", SETUP),
    ("md", "## Load the sweeps"),
    ("code", '''\
# The sweep's tables are read with notebooks/wanka_frames.py: every column with the type its manifest
# states (Int64, float64, string), whatever the cells look like; the manifest also names the axes.
# Column names and units: docs/OUTPUTS.md.
from wanka_frames import read_sweep, sweep_manifest

LOST = {"lost_rework_days": "rework (since last durable checkpoint)", "lost_restart_days": "restarts",
        "lost_checkpoint_days": "checkpoint stalls", "lost_spare_wait_days": "waiting for spares / repairs",
        "lost_straggler_days": "stragglers", "lost_maintenance_days": "maintenance"}
LOST_COLORS = dict(zip(LOST, ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]))


def axis_role(axes, *keys):
    for k in keys:
        for a in axes:
            if k in a.lower():
                return a
    return None


def load_sweep(name):
    d = Path(name) if Path(name).is_absolute() else DATA / name
    tables = [f for f in ("results.csv", "results.parquet", "results.jsonl") if (d / f).is_file()]
    if not (d / "manifest.json").is_file() or not tables:
        return None
    df = read_sweep(d, tables[0])     # results.parquet: sweeps built with the `parquet` feature
    axes = sweep_manifest(d)["axis_columns"]
    bad = df[df["status"] != "ok"]
    if len(bad):
        print(f"{name}: {len(bad)} of {len(df)} points not ok:")
        print(bad[["point", "status", "failure"] + axes].to_string(index=False))
    df = df[df["status"] == "ok"].copy()
    roles = {
        "gpus": axis_role(axes, "gpus", "devices"),
        "mult": axis_role(axes, "multiplier"),
        "policy": axis_role(axes, "checkpoint.policy", "policy", "checkpoint"),
        "interval": axis_role(axes, "checkpoint.interval", "interval"),
    }
    if roles["policy"] == roles["interval"]:
        roles["policy"] = None
    df["gpus"] = df[roles["gpus"]] if roles["gpus"] else df["devices"]
    df["mult"] = df[roles["mult"]].astype(float) if roles["mult"] else 1.0
    df["policy"] = df[roles["policy"]].astype(str) if roles["policy"] else "default"
    df["interval"] = df[roles["interval"]].astype(str) if roles["interval"] else "Daly"
    df["interval_min"] = df["checkpoint_interval_s"] / 60
    df["interval_label"] = df["interval"].str.replace(r"Fixed\\(minutes: *([0-9.]+)\\)", r"every \\1 min", regex=True)
    df["interval_label"] = df["interval_label"].str.replace("Daly", "Daly's interval")
    others = [a for a in axes if a not in roles.values() and df[a].nunique() > 1
              and not a.startswith(("parallelism.", "training."))]   # e.g. dp and batch zipped with the GPUs
    df.attrs["other_axes"] = others
    print(f"{name}: {len(df)} points; axes {axes}; roles {roles}")
    if others:
        print(f"  other axes {others}: averaged over in figures 1-2, separate panels in figure 3")
    return df


study = load_sweep(sweep)
if study is None:
    raise FileNotFoundError(f"{DATA / sweep / 'results.csv'} not found: run notebooks/make_data.sh")
ivl = load_sweep(interval_sweep) if interval_sweep else None
'''),
    ("code", '''\
# Daly's higher-order optimum from the sweep's own columns, checked against the interval wanka used.
def daly_tau_s(delta_s, mtti_s):
    delta_s, mtti_s = np.asarray(delta_s, float), np.asarray(mtti_s, float)
    x = delta_s / (2 * mtti_s)
    tau = np.sqrt(2 * delta_s * mtti_s) * (1 + np.sqrt(x) / 3 + x / 9) - delta_s
    return np.where(delta_s >= 2 * mtti_s, mtti_s, np.maximum(tau, 1.0))


def daly_ettr(tau_s, delta_s, restart_s, mtti_s):
    """Daly's expected-runtime model: ETTR = τ / (M e^(R/M) (e^((τ+δ)/M) − 1))."""
    return tau_s / (mtti_s * np.exp(restart_s / mtti_s) * (np.exp((tau_s + delta_s) / mtti_s) - 1))


for df in [d for d in (study, ivl) if d is not None]:
    df["tau_daly_s"] = daly_tau_s(df["checkpoint_stall_s"], df["mtti_hours"] * 3600)
    df["ettr_daly_model"] = daly_ettr(df["tau_daly_s"], df["checkpoint_stall_s"], df["restart_s"], df["mtti_hours"] * 3600)
    df["is_daly"] = df["interval"].str.contains("Daly", case=False)

chk = study[study["is_daly"]]
rel = (chk["checkpoint_interval_s"] / chk["tau_daly_s"] - 1).abs()
print(f"Daly-interval points: wanka's interval vs the formula here: max relative difference {rel.max():.2e}")
if rel.max() > 1e-6:
    print("WARNING: wanka's Daly interval differs from the formula above for some points")

cols = ["gpus", "mult", "policy", "mtti_hours", "checkpoint_stall_s", "restart_s", "checkpoint_interval_s",
        "tau_daly_s", "ettr_mean", "ettr_daly_model", "days_p50", "interruptions_mean", "hot_spare_nodes"]
chk[cols].sort_values(["policy", "mult", "gpus"]).round(4)
'''),
    ("md", """\
## Figures

1. `reliability_ettr.png` — ETTR (mean, band p10–p90 over seeds) against cluster size, one panel per failure
   multiplier; colour = checkpoint policy, line style = checkpoint interval (Daly's or fixed).
2. `reliability_lost_days.png` — mean days lost per run, stacked by cause, per cluster size; rows are
   checkpoint policy × interval, columns failure multipliers (each column has its own day scale).
3. `reliability_daly.png` — ETTR against a fixed checkpoint interval (log axis), simulated (solid, band
   p10–p90) and Daly's model (dotted), with τ_Daly marked (dashed line, star: the simulated Daly point)."""),
    ("code", '''\
base = study[study["is_daly"]] if study["is_daly"].any() else study   # figure 2: at Daly's interval
mults = sorted(study["mult"].unique())
policies = sorted(study["policy"].unique())
intervals = sorted(study["interval_label"].unique(), key=lambda t: (not t.startswith("Daly"), t))
pcolor = dict(zip(policies, plt.cm.Set1(np.arange(len(policies)))))
istyle = dict(zip(intervals, [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."), ("v", (0, (1, 3)))]))

fig, axes = plt.subplots(1, len(mults), figsize=(4.3 * len(mults) + 0.8, 4.8), sharex=True, squeeze=False)
for ax, m in zip(axes[0], mults):
    sub = study[study["mult"] == m]
    for p in policies:
        for iv in intervals:
            s = sub[(sub["policy"] == p) & (sub["interval_label"] == iv)].groupby("gpus").mean(numeric_only=True).reset_index()
            if s.empty:
                continue
            mk, ls = istyle[iv]
            ax.plot(s["gpus"], s["ettr_mean"], marker=mk, ls=ls, color=pcolor[p], lw=2, ms=6, label=f"{p}, {iv}")
            ax.fill_between(s["gpus"], s["ettr_p10"], s["ettr_p90"], color=pcolor[p], alpha=0.10)
    mtti = sub.groupby("gpus")["mtti_hours"].first()
    ax.set_title(f"failure rate × {m:g}\\n(job MTTI {mtti.max():.2g} h → {mtti.min():.2g} h)")
    ax.set_xscale("log", base=2)
    gl = sorted(sub["gpus"].unique())
    ax.set_xticks(gl, [f"{int(g):,}" for g in gl], rotation=30)
    ax.minorticks_off()
    ax.set_xlabel("GPUs in the job")
    ax.set_ylim(max(0.0, min(0.9, sub["ettr_p10"].min() - 0.03)), 1.0)
axes[0][0].set_ylabel("ETTR (useful time / wall clock)")
handles, labels = axes[0][0].get_legend_handles_labels()
fig.legend(handles, labels, loc="lower center", ncol=len(labels), title="checkpoint policy, interval",
           bbox_to_anchor=(0.5, -0.01))
fig.suptitle("ETTR against cluster size, failure rate and checkpointing (mean; band p10–p90 over seeds)", fontsize=12)
fig.tight_layout(rect=(0, 0.1, 1, 1))
save(fig, "reliability_ettr.png")
'''),
    ("code", '''\
causes = [c for c in LOST if c in study.columns and study[c].fillna(0).max() > 0]
combos = [(p, iv) for p in policies for iv in intervals if ((study["policy"] == p) & (study["interval_label"] == iv)).any()]
fig, axes = plt.subplots(len(combos), len(mults), figsize=(4.3 * len(mults) + 1.2, 2.6 * len(combos) + 1.4),
                         sharey="col", squeeze=False)
for i, (p, iv) in enumerate(combos):
    for j, m in enumerate(mults):
        ax = axes[i][j]
        s = study[(study["policy"] == p) & (study["interval_label"] == iv) & (study["mult"] == m)].groupby("gpus").mean(numeric_only=True)
        x = np.arange(len(s))
        bottom = np.zeros(len(s))
        for c in causes:
            v = s[c].fillna(0).to_numpy()
            ax.bar(x, v, bottom=bottom, color=LOST_COLORS[c], label=LOST[c], width=0.65)
            bottom += v
        for xi, tot, e in zip(x, bottom, s["ettr_mean"]):
            ax.text(xi, tot, f"{tot:.1f} d\\nETTR {e:.2f}", ha="center", va="bottom", fontsize=7.5)
        ax.set_xticks(x, [f"{int(g):,}" for g in s.index])
        if i == 0:
            ax.set_title(f"failure rate × {m:g}")
        if i == len(combos) - 1:
            ax.set_xlabel("GPUs in the job")
        if j == 0:
            ax.set_ylabel(f"{p}, {iv}\\nlost days per run")
for j, m in enumerate(mults):  # one day scale per column, with room for the labels
    top = study[study["mult"] == m].groupby(["policy", "interval_label", "gpus"])[causes].mean().sum(axis=1).max()
    axes[0][j].set_ylim(0, top * 1.35)
handles, labels = axes[0][0].get_legend_handles_labels()
fig.legend(handles, labels, loc="lower center", ncol=len(causes), bbox_to_anchor=(0.5, -0.01), title="lost to")
fig.suptitle("Days lost per run by cause, mean over seeds (rows: checkpoint policy and interval;\\n"
             "columns: failure multiplier, each with its own day scale)", fontsize=12)
fig.tight_layout(rect=(0, 0.05, 1, 1))
save(fig, "reliability_lost_days.png")
'''),
    ("code", '''\
# ETTR against the checkpoint interval. Prefer the dedicated interval sweep (fixed intervals); without
# it, the planner study's own points (each at its Daly interval) are all there is.
src = ivl if ivl is not None and (~ivl["is_daly"]).any() else study
for p in sorted(src["policy"].unique()):
    pcolor.setdefault(p, plt.cm.Dark2(len(pcolor) % 8))
keys = ["gpus", "mult"] + src.attrs.get("other_axes", [])
groups = list(src.groupby(keys, sort=True))
fig, axes = plt.subplots(1, len(groups), figsize=(5.6 * len(groups) + 0.6, 5.0), squeeze=False)
for ax, (key, sub) in zip(axes[0], groups):
    g, m, extra = key[0], key[1], key[2:]
    for k, p in enumerate(sorted(sub["policy"].unique())):
        s = sub[sub["policy"] == p]
        fixed = s[~s["is_daly"]].sort_values("checkpoint_interval_s")
        c = pcolor[p]
        if len(fixed):
            ax.plot(fixed["interval_min"], fixed["ettr_mean"], "o-", color=c, lw=2, ms=4, label=f"{p}: simulated (band p10–p90)")
            ax.fill_between(fixed["interval_min"], fixed["ettr_p10"], fixed["ettr_p90"], color=c, alpha=0.15)
            tau = np.geomspace(fixed["checkpoint_interval_s"].min(), fixed["checkpoint_interval_s"].max(), 200)
            r0 = fixed.iloc[0]
            model = daly_ettr(tau, r0["checkpoint_stall_s"], r0["restart_s"], r0["mtti_hours"] * 3600)
            ax.plot(tau / 60, model, ":", color=c, lw=2, label=f"{p}: Daly's model")
        td = s["tau_daly_s"].iloc[0] / 60
        ax.axvline(td, color=c, ls="--", lw=1.2, label=f"{p}: τ_Daly = {td:.1f} min (δ = {s['checkpoint_stall_s'].iloc[0]:.1f} s)")
        d = s[s["is_daly"]]
        if len(d):
            ax.plot(d["interval_min"], d["ettr_mean"], "*", ms=17, color=c, mec="black", zorder=5,
                    label=f"{p}: simulated at Daly's interval")
    ax.set_xscale("log")
    ticks = [t for t in (1, 2, 5, 10, 20, 30, 60, 120, 240, 480) if sub["interval_min"].min() * 0.8 <= t <= sub["interval_min"].max() * 1.2]
    if len(ticks) >= 2:
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
    ax.set_xlabel("checkpoint interval (minutes of training between checkpoints, log scale)")
    more = "".join(f", {a.split('.')[-1]} {v}" for a, v in zip(keys[2:], extra))
    ax.set_title(f"{int(g):,} GPUs, failure rate × {m:g}{more}  (MTTI {sub['mtti_hours'].iloc[0]:.2g} h)")
    spare = (sub["lost_spare_wait_days"] / sub["days_mean"]).mean()
    lo = min(sub["ettr_p10"].min(), ax.get_ylim()[0])  # the autoscaled limit covers Daly's model too
    ax.set_ylim(max(0.0, lo - (0.12 if spare > 0.02 else 0.03)), 1.0)
    if spare > 0.02:
        ax.text(0.5, 0.06, f"{spare:.0%} of the wall clock waits for spares or repairs:\\n"
                "Daly's model has no spare pool, so it sits above the simulation", transform=ax.transAxes,
                ha="center", va="bottom", fontsize=8.5, bbox=dict(boxstyle="round", fc="lightyellow", ec="grey"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
axes[0][0].set_ylabel("ETTR (useful time / wall clock)")
fig.suptitle("ETTR against checkpoint interval: simulation, Daly's model and Daly's optimum τ_Daly", fontsize=12)
fig.tight_layout()
save(fig, "reliability_daly.png")
'''),
])

# --------------------------------------------------------------------------------------------------
# validation.ipynb
# --------------------------------------------------------------------------------------------------

VALIDATION = notebook([
    ("md", """\
# Validation against published runs

**Question:** how close are wanka's predicted step times to the published ones (Megatron-LM SC21
Tables 1–2, Llama 3 405B: the calibration cases; MegaScale's Megatron-LM baseline, BLOOM, MT-NLG: holdout
cases never calibrated on), which cases miss and by how much, how does the predicted MFU behave with
scale, and do the reliability cases (Daly's analytic cases, Llama 3's 54-day run) pass?

Input: `validate_step.json` and `validate_holdout.json` (`wanka validate scenarios/validation/{step,holdout}_cases.csv
--json`), `validate_reliability.json` (same for `reliability_cases.csv`) and the case files `step_cases.csv`,
`holdout_cases.csv` (for GPU counts and sources; taken from `scenarios/validation/` when not in the data
directory). `notebooks/make_data.sh` writes them all. Error = (predicted − measured) / measured."""),
    params(),
    ("code", SETUP),
    ("md", "## Step cases"),
    ("code", '''\
def load_cases(name):
    """One validation report with its case file's inputs; None when the report is missing."""
    report = DATA / f"validate_{name}.json"
    if not report.is_file():
        print(f"{report} not found: run notebooks/make_data.sh")
        return None
    c = pd.json_normalize(json.loads(report.read_text())["cases"])
    case_file = DATA / f"{name}_cases.csv"
    if not case_file.is_file() and ROOT:
        case_file = ROOT / "scenarios" / "validation" / f"{name}_cases.csv"
    inputs = pd.read_csv(case_file)
    c = c.merge(inputs[["id", "source", "chip", "gpus", "tp", "pp", "dp", "zero_stage"]], on="id", how="left")
    c["holdout"] = name == "holdout"
    return c


v = json.loads((DATA / "validate_step.json").read_text())
cases = pd.concat([c for c in (load_cases("step"), load_cases("holdout")) if c is not None], ignore_index=True)


def family(r):
    if r["holdout"]:
        return "holdout: " + ("MegaScale's Megatron-LM baseline (A100)" if str(r["id"]).startswith("megascale")
                              else "BLOOM / MT-NLG (A100)")
    if str(r["id"]).startswith("llama3"):
        return "Llama 3 405B (H100)"
    if r["zero_stage"] == 3 and r["tp"] == 1 and r["pp"] == 1:
        return "Megatron SC21 Table 2: ZeRO-3 (A100)"
    if "-t2-" in str(r["id"]):
        return "Megatron SC21 Table 2: PTD-P (A100)"
    return "Megatron SC21 Table 1 (A100)"


cases["family"] = cases.apply(family, axis=1)
cases["abs_err"] = cases["error"].abs()
# The published run's MFU on wanka's FLOPs count: the same model FLOPs in the measured step time.
cases["implied_measured_mfu"] = cases["predicted_mfu"] * cases["predicted_step_s"] / cases["measured_step_s"]
mape, worst = cases["abs_err"].mean(), cases["abs_err"].max()
cal = cases[~cases["holdout"]]
print(f"calibration cases ({len(cal)}): MAPE {cal['abs_err'].mean():.1%} (reported {v['mape']:.1%}), "
      f"worst {cal['abs_err'].max():.1%} (reported {v['max_abs_error']:.1%})")
hold = cases[cases["holdout"]]
if len(hold):
    print(f"holdout cases ({len(hold)}): MAPE {hold['abs_err'].mean():.1%}, worst {hold['abs_err'].max():.1%}, "
          f"mean signed error {hold['error'].mean():+.1%}")
print(f"all {len(cases)} cases: within ±10%: {(cases['abs_err'] <= 0.10).sum()}, "
      f"within ±20%: {(cases['abs_err'] <= 0.20).sum()}")
FAMS = sorted(cases["family"].unique())
fcolor = dict(zip(FAMS, plt.cm.tab10(np.arange(len(FAMS)))))
cases[["id", "family", "gpus", "measured_step_s", "predicted_step_s", "error", "predicted_mfu",
       "implied_measured_mfu", "measured_mfu"]].round(4)
'''),
    ("md", "## Reliability cases"),
    ("code", '''\
rf = DATA / "validate_reliability.json"
if rf.is_file():
    r = json.loads(rf.read_text())
    rel = pd.DataFrame(r["cases"])
    print(f"{r['passed']} passed, {r['failed']} failed ({r.get('seeds', '?')} seeds per case)")
    display(rel[["id", "kind", "expected_ettr", "predicted_ettr", "predicted_ettr_p10", "predicted_ettr_p90",
                 "expected_tau_opt_s", "predicted_tau_opt_s", "expected_mtti_hours", "predicted_mtti_hours",
                 "expected_interruptions", "predicted_interruptions", "pass"]].round(4))
    for _, c in rel.iterrows():
        print(f"{c['id']:<18} {'pass' if c['pass'] else 'FAIL'}: " + "; ".join(c["checks"]))
else:
    print(f"{rf} not found: run notebooks/make_data.sh")
'''),
    ("md", """\
## Figures

1. `validation_step_scatter.png` — predicted against published step time (log–log) with y = x and the ±10% /
   ±20% bands, coloured by source.
2. `validation_step_error.png` — the signed error of every case as a bar, with the ±10% / ±20% bands.
3. `validation_mfu_scale.png` — MFU against the number of GPUs (log axis): predicted, and the published run's
   MFU implied by its measured step time (plus the MFU Llama 3 published)."""),
    ("code", '''\
fig, ax = plt.subplots(figsize=(7.8, 7))
lo, hi = cases[["measured_step_s", "predicted_step_s"]].min().min() * 0.7, cases[["measured_step_s", "predicted_step_s"]].max().max() * 1.4
xx = np.geomspace(lo, hi, 50)
ax.fill_between(xx, xx * 0.8, xx * 1.2, color="orange", alpha=0.15, label="±20%")
ax.fill_between(xx, xx * 0.9, xx * 1.1, color="green", alpha=0.18, label="±10%")
ax.plot(xx, xx, "k-", lw=1, label="y = x")
for f in FAMS:
    s = cases[cases["family"] == f]
    ax.scatter(s["measured_step_s"], s["predicted_step_s"], s=55, color=fcolor[f], edgecolor="black", lw=0.5, label=f, zorder=3)
out = cases[cases["abs_err"] > 0.10].sort_values("measured_step_s")
ax.scatter(out["measured_step_s"], out["predicted_step_s"], s=170, facecolor="none", edgecolor="crimson", lw=1.3,
           zorder=4, label="outside ±10% (listed)")
if len(out):
    ax.text(0.97, 0.03, "outside ±10%:\\n" + "\\n".join(f"{r['id']}: {r['error']:+.1%}" for _, r in out.iterrows()),
            transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
            bbox=dict(boxstyle="round", fc="white", ec="crimson", alpha=0.9))
ax.set_xscale("log")
ax.set_yscale("log")
ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if lo <= t <= hi]
ax.set_xticks(ticks, [str(t) for t in ticks])
ax.set_yticks(ticks, [str(t) for t in ticks])
ax.minorticks_off()
ax.set_xlim(lo, hi)
ax.set_ylim(lo, hi)
ax.set_aspect("equal")
ax.set_xlabel("published step time (s per iteration)")
ax.set_ylabel("wanka's predicted step time (s per iteration)")
ax.set_title(f"Step time: predicted vs published ({len(cases)} cases, MAPE {mape:.1%}, worst {worst:.1%})")
ax.legend(loc="upper left", fontsize=8.5)
fig.tight_layout()
save(fig, "validation_step_scatter.png")
'''),
    ("code", '''\
fig, ax = plt.subplots(figsize=(10, 0.33 * len(cases) + 1.8))
yy = np.arange(len(cases))[::-1]
ax.axvspan(-20, 20, color="orange", alpha=0.15, label="±20%")
ax.axvspan(-10, 10, color="green", alpha=0.18, label="±10%")
ax.barh(yy, cases["error"] * 100, color=[fcolor[f] for f in cases["family"]], edgecolor="black", lw=0.4, height=0.7)
for yi, e in zip(yy, cases["error"]):
    ax.text(e * 100 + (0.6 if e >= 0 else -0.6), yi, f"{e:+.1%}", va="center", ha="left" if e >= 0 else "right", fontsize=7.5)
ax.axvline(0, color="black", lw=0.8)
ax.set_yticks(yy, cases["id"], fontsize=8)
lim = max(25, cases["abs_err"].max() * 100 + 6)
ax.set_xlim(-lim, lim)
ax.set_xlabel("step-time error, % ((predicted − published) / published)")
ax.set_title(f"Error per case (MAPE {mape:.1%}, worst {worst:.1%})")
from matplotlib.patches import Patch
handles = [Patch(color=fcolor[f], label=f) for f in FAMS] + ax.get_legend_handles_labels()[0]
ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.075), ncol=3, fontsize=8.5)
ax.grid(axis="y", alpha=0)
fig.tight_layout()
save(fig, "validation_step_error.png")
'''),
    ("code", '''\
from matplotlib.lines import Line2D

fig, ax = plt.subplots(figsize=(10, 6))
for f in FAMS:
    s = cases[cases["family"] == f].sort_values("gpus")
    for _, r in s.iterrows():
        ax.plot([r["gpus"]] * 2, [r["predicted_mfu"] * 100, r["implied_measured_mfu"] * 100], color=fcolor[f], lw=1)
    ax.scatter(s["gpus"], s["predicted_mfu"] * 100, s=60, marker="o", color=fcolor[f], edgecolor="black", lw=0.5, zorder=3)
    ax.scatter(s["gpus"], s["implied_measured_mfu"] * 100, s=70, marker="x", color=fcolor[f], lw=2, zorder=3)
pub = cases[cases["measured_mfu"].notna()]
if len(pub):
    ax.scatter(pub["gpus"], pub["measured_mfu"] * 100, s=130, marker="s", facecolor="none", edgecolor="black", lw=1.5, zorder=4)
ax.set_xscale("log", base=2)
lo, hi = int(np.log2(cases["gpus"].min())), int(np.ceil(np.log2(cases["gpus"].max())))
ax.set_xticks([2 ** k for k in range(lo, hi + 1)], [f"{2 ** k:,}" for k in range(lo, hi + 1)])
ax.minorticks_off()
ax.set_ylim(0, max(60, cases[["predicted_mfu", "implied_measured_mfu"]].max().max() * 115))
ax.set_xlabel("GPUs in the job (log scale)")
ax.set_ylabel("MFU (% of peak dense BF16/FP16 FLOP/s)")
ax.set_title("Model FLOPs utilisation against scale (a vertical line joins a case's predicted and published MFU)")
handles = [Line2D([], [], color=fcolor[f], lw=6, label=f) for f in FAMS] + [
    Line2D([], [], ls="", marker="o", color="grey", mec="black", ms=8, label="predicted by wanka"),
    Line2D([], [], ls="", marker="x", color="grey", mew=2, ms=8, label="published, implied by step time\\n(same FLOPs count)"),
    Line2D([], [], ls="", marker="s", mfc="none", mec="black", mew=1.5, ms=10, label="MFU as the paper states it"),
]
ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)
fig.tight_layout()
save(fig, "validation_mfu_scale.png")
'''),
])

NOTEBOOKS = {"candidates.ipynb": CANDIDATES, "reliability.ipynb": RELIABILITY, "validation.ipynb": VALIDATION}


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else HERE
    for name, nb in NOTEBOOKS.items():
        nbformat.validate(nb)
        nbformat.write(nb, out / name)
        print("wrote", out / name)


if __name__ == "__main__":
    main(sys.argv)
