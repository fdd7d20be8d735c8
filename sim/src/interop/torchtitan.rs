//! torchtitan job configuration (TOML, the `train_configs/*.toml` of torchtitan before its 2026 move to
//! Python configs): `[model] name/flavor`, `[training]` batch, sequence length and steps,
//! `[parallelism]` degrees, `[activation_checkpoint] mode`, Float8 through `[model] converters`.
//!
//! The model is the flavor's shape from torchtitan's own table (torchtitan/models/llama3/__init__.py,
//! `llama3_args`; FFN width from `model/model.py`: `4·dim → int(2/3·…) → ·ffn_dim_multiplier → round up
//! to multiple_of`; vocab 128,256 from `model/args.py`). Data parallelism is FSDP (ZeRO-3):
//! `data_parallel_shard_degree` shards, `data_parallel_replicate_degree` > 1 makes it HSDP.

use toml::Value;

use super::{Draft, invalid, src};
use crate::error::WankaError;
use crate::step::stack::Precision;
use crate::workload::model::ModelSpec;
use crate::workload::parallelism::{Recompute, Schedule};

/// torchtitan's Llama 3 flavors: `(flavor, dim, n_layers, n_heads, n_kv_heads, ffn_dim_multiplier, multiple_of)`.
const LLAMA3: &[(&str, u32, u32, u32, u32, f64, u32)] =
    &[("8B", 4096, 32, 32, 8, 1.3, 1024), ("70B", 8192, 80, 64, 8, 1.3, 4096), ("405B", 16384, 126, 128, 8, 1.2, 4096)];

/// torchtitan's FeedForward width (`llama3/model/model.py`).
pub fn llama3_ffn(dim: u32, multiplier: f64, multiple_of: u32) -> u32 {
    let h = (2.0 * f64::from(4 * dim) / 3.0) as u32;
    let h = (multiplier * f64::from(h)) as u32;
    h.div_ceil(multiple_of) * multiple_of
}

fn llama3(flavor: &str) -> Option<ModelSpec> {
    let &(f, dim, layers, heads, kv, mult, multiple) = LLAMA3.iter().find(|x| x.0 == flavor)?;
    Some(ModelSpec {
        name: format!("torchtitan llama3 {f}"),
        layers,
        hidden: dim,
        heads,
        kv_heads: kv,
        ffn_hidden: llama3_ffn(dim, mult, multiple),
        gated_ffn: true,
        vocab: 128_256,
        bias: false,
        learned_positions: false,
        tied_embeddings: false,
        dropout: false,
        moe: None,
        mla: None,
        head_dim: None,
        mtp_layers: 0,
    })
}

/// Keys read, per table (others are listed as not mapped).
const READ: &[(&str, &str)] = &[
    ("model", "name"),
    ("model", "flavor"),
    ("model", "converters"),
    ("training", "local_batch_size"),
    ("training", "batch_size"),
    ("training", "global_batch_size"),
    ("training", "seq_len"),
    ("training", "steps"),
    ("training", "mixed_precision_param"),
    ("parallelism", "data_parallel_replicate_degree"),
    ("parallelism", "data_parallel_shard_degree"),
    ("parallelism", "tensor_parallel_degree"),
    ("parallelism", "pipeline_parallel_degree"),
    ("parallelism", "context_parallel_degree"),
    ("parallelism", "expert_parallel_degree"),
    ("parallelism", "pipeline_parallel_schedule"),
    ("parallelism", "pipeline_parallel_microbatch_size"),
    ("parallelism", "enable_async_tensor_parallel"),
    ("activation_checkpoint", "mode"),
];

/// Tables that never change a step's time.
const NOT_COST: &[&str] = &["job", "profiling", "metrics", "optimizer", "lr_scheduler", "validation", "comm", "memory_estimation"];

/// A draft scenario from a torchtitan TOML.
pub fn draft(text: &str, file: &str) -> Result<Draft, WankaError> {
    let root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        WankaError::Parse { file: file.to_string(), line, col, msg: e.message().to_string() }
    })?;
    let get = |t: &str, k: &str| root.get(t).and_then(|x| x.get(k));
    let int = |t: &str, k: &str| -> Result<Option<i64>, WankaError> {
        match get(t, k) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i)),
            Some(x) => Err(invalid(file, &format!("[{t}] {k}"), format!("`{x}` is not a whole number"))),
        }
    };
    let pos = |t: &str, k: &str| -> Result<Option<u32>, WankaError> {
        match int(t, k)? {
            None => Ok(None),
            Some(i) if i >= 1 && i <= i64::from(u32::MAX) => Ok(Some(i as u32)),
            Some(i) => Err(invalid(file, &format!("[{t}] {k}"), format!("{i}: must be at least 1"))),
        }
    };
    let mut d = Draft::default();
    // Model.
    let name = get("model", "name").and_then(|x| x.as_str()).ok_or_else(|| invalid(file, "[model] name", "required".into()))?;
    let flavor = get("model", "flavor").and_then(|x| x.as_str()).ok_or_else(|| invalid(file, "[model] flavor", "required".into()))?;
    let model = match name {
        "llama3" => llama3(flavor).ok_or_else(|| {
            invalid(
                file,
                "[model] flavor",
                format!(
                    "`{flavor}`: wanka knows torchtitan's llama3 flavors {}",
                    LLAMA3.iter().map(|x| x.0).collect::<Vec<_>>().join(", ")
                ),
            )
        })?,
        other => {
            return Err(invalid(
                file,
                "[model] name",
                format!(
                    "`{other}`: wanka maps torchtitan's `llama3` flavors; for another model import its Hugging Face config.json (`wanka import hf`) and set the parallelism by hand"
                ),
            ));
        }
    };
    d.model = src(model, format!("[model] name = {name:?}, flavor = {flavor:?} (torchtitan's flavor table)"));
    // Parallelism.
    let tp = pos("parallelism", "tensor_parallel_degree")?.unwrap_or(1);
    let pp = pos("parallelism", "pipeline_parallel_degree")?.unwrap_or(1);
    let cp = pos("parallelism", "context_parallel_degree")?.unwrap_or(1);
    let rep = pos("parallelism", "data_parallel_replicate_degree")?.unwrap_or(1);
    let shard = int("parallelism", "data_parallel_shard_degree")?.unwrap_or(-1);
    d.tp = src(tp, "[parallelism] tensor_parallel_degree");
    d.pp = src(pp, "[parallelism] pipeline_parallel_degree");
    d.cp = src(cp, "[parallelism] context_parallel_degree");
    if let Some(ep) = pos("parallelism", "expert_parallel_degree")?
        && ep > 1
    {
        d.ep = src(ep, "[parallelism] expert_parallel_degree");
    }
    let shard = match shard {
        -1 => None,
        s if s >= 1 => Some(s as u32),
        s => {
            return Err(invalid(
                file,
                "[parallelism] data_parallel_shard_degree",
                format!("{s}: -1 (the rest of the devices) or at least 1"),
            ));
        }
    };
    if let Some(s) = shard {
        let g = u64::from(tp) * u64::from(pp) * u64::from(cp) * u64::from(rep) * u64::from(s);
        let g = u32::try_from(g).map_err(|_| invalid(file, "[parallelism]", "the degrees multiply past 2^32 devices".into()))?;
        d.gpus = src(g, "product of the [parallelism] degrees");
        d.dp = src(rep * s, "data_parallel_replicate_degree × data_parallel_shard_degree");
    } else {
        d.notes.push("data_parallel_shard_degree = -1: the shard degree is the devices left over, so --gpus sets it".into());
    }
    let dp_shard_gt1 = shard.is_none_or(|s| s > 1);
    d.zero_stage = src(3, "torchtitan shards parameters, gradients and optimizer states with FSDP2");
    if rep > 1 && dp_shard_gt1 {
        d.flag("hybrid_shard", true, "data_parallel_replicate_degree > 1 with sharding: HSDP");
    }
    let local = pos("training", "local_batch_size")?.or(pos("training", "batch_size")?);
    let global = match int("training", "global_batch_size")? {
        Some(g) if g >= 1 => Some(g as u32),
        _ => None,
    };
    if pp > 1 {
        let mb = pos("parallelism", "pipeline_parallel_microbatch_size")?.unwrap_or(1);
        d.micro_batch = src(mb, "[parallelism] pipeline_parallel_microbatch_size (default 1)");
        d.schedule = match get("parallelism", "pipeline_parallel_schedule").and_then(|x| x.as_str()).unwrap_or("1F1B") {
            "1F1B" | "GPipe" => src(Schedule::OneFOneB, "[parallelism] pipeline_parallel_schedule (default 1F1B)"),
            "Interleaved1F1B" => src(Schedule::Interleaved, "[parallelism] pipeline_parallel_schedule"),
            other => {
                d.unmapped("[parallelism] pipeline_parallel_schedule", other, "wanka maps 1F1B and Interleaved1F1B (GPipe as 1F1B)");
                None
            }
        };
    } else if let Some(l) = local {
        d.micro_batch = src(l, "[training] local_batch_size (no gradient accumulation at PP 1)");
    }
    match (global, local) {
        (Some(g), _) => d.global_batch = src(g, "[training] global_batch_size"),
        (None, Some(l)) => match shard {
            Some(s) => d.global_batch = src(l * rep * s, "[training] local_batch_size × data-parallel degree"),
            None => d.notes.push(format!("global batch = local_batch_size {l} × the data-parallel degree, which --gpus decides")),
        },
        (None, None) => {}
    }
    d.seq_len = pos("training", "seq_len")?.and_then(|s| src(s, "[training] seq_len"));
    // A derived global batch needs the device count: filled in `finish_dp` once --gpus is known.
    if let (Some(steps), Some(seq)) = (pos("training", "steps")?, d.seq_len.as_ref().map(|s| s.value)) {
        if let Some(gb) = &d.global_batch {
            d.tokens = src(
                f64::from(steps) * f64::from(gb.value) * f64::from(seq),
                format!("[training] steps {steps} × {} × seq_len {seq}", gb.from),
            );
        } else {
            d.notes.push(format!("tokens = steps {steps} × global batch × seq_len {seq} once the data-parallel degree is known"));
            d.pending_steps = Some(steps);
        }
    }
    d.pending_local = if d.global_batch.is_none() { local.map(|l| (l, rep, tp * pp * cp)) } else { None };
    d.recompute = match get("activation_checkpoint", "mode").and_then(|x| x.as_str()) {
        None | Some("selective") => src(Recompute::Selective, "[activation_checkpoint] mode (default selective)"),
        Some("full") => src(Recompute::Full, "[activation_checkpoint] mode = \"full\""),
        Some("none") => src(Recompute::None, "[activation_checkpoint] mode = \"none\""),
        Some(other) => return Err(invalid(file, "[activation_checkpoint] mode", format!("`{other}`: none, selective or full"))),
    };
    d.sequence_parallel = src(tp > 1, "torchtitan's TP plan shards norms and dropout over the sequence");
    d.stack = src("torchtitan".to_string(), "a torchtitan job");
    let convs: Vec<String> = get("model", "converters")
        .and_then(|x| x.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if convs.iter().any(|c| c == "float8" || c == "quantize.linear.float8") {
        d.precision = src(Precision::Fp8, "[model] converters = [\"float8\"]");
    } else {
        match get("training", "mixed_precision_param").and_then(|x| x.as_str()).unwrap_or("bfloat16") {
            "bfloat16" => d.precision = src(Precision::Bf16, "[training] mixed_precision_param (default bfloat16)"),
            other => d.unmapped("[training] mixed_precision_param", other, "only bfloat16 is mapped"),
        }
    }
    for c in convs.iter().filter(|c| *c != "float8" && *c != "quantize.linear.float8") {
        d.unmapped("[model] converters", c.clone(), "no wanka equivalent");
    }
    if let Some(a) = get("parallelism", "enable_async_tensor_parallel").and_then(|x| x.as_bool()) {
        d.flag("tp_comm_overlap", a, "[parallelism] enable_async_tensor_parallel");
    }
    // Everything else.
    for (t, v) in &root {
        let Some(tab) = v.as_table() else {
            d.unmapped(t.clone(), v.to_string(), "no wanka equivalent");
            continue;
        };
        for (k, x) in flatten(t, tab) {
            let (top, key) = k.split_once('.').map_or((t.as_str(), k.as_str()), |(a, b)| (a, b));
            if READ.iter().any(|(rt, rk)| *rt == top && *rk == key) {
                continue;
            }
            let why = if NOT_COST.contains(&top) {
                "does not change a training step's time"
            } else if top == "checkpoint" {
                "checkpointing: the scenario's `run.checkpoint` models it"
            } else if top == "compile" {
                "torch.compile: the torchtitan stack's kernel efficiency stands for it"
            } else if top.starts_with("quantize") || top.starts_with("float8") {
                "Float8 recipe detail: only whether FP8 is on is mapped"
            } else {
                "no wanka equivalent"
            };
            d.unmapped(format!("[{top}] {key}"), x, why);
        }
    }
    Ok(d)
}

fn flatten(prefix: &str, t: &toml::Table) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in t {
        match v {
            Value::Table(sub) => {
                for (kk, vv) in flatten(&format!("{prefix}.{k}"), sub) {
                    out.push((kk, vv));
                }
            }
            _ => out.push((format!("{prefix}.{k}"), v.to_string())),
        }
    }
    out.into_iter()
        .map(|(k, v)| (k.split_once('.').map_or(k.clone(), |(a, b)| if a == prefix { format!("{a}.{b}") } else { k.clone() }), v))
        .collect()
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffn_widths_are_the_published_llama3_ones() {
        // Llama 3 (Meta 2024, Table 3): 14,336, 28,672 and 53,248.
        assert_eq!(llama3_ffn(4096, 1.3, 1024), 14336);
        assert_eq!(llama3_ffn(8192, 1.3, 4096), 28672);
        assert_eq!(llama3_ffn(16384, 1.2, 4096), 53248);
    }
}
