//! NeMo 1.x Megatron recipes (`megatron_gpt_config.yaml` and its kind: `trainer:` and `model:` keys),
//! and the override file `wanka export nemo` writes. OmegaConf interpolations of another key
//! (`${.encoder_seq_length}`, `${model.num_layers}`) are resolved; resolver calls (`${multiply:…}`) and
//! required values (`???`) are not, and such keys are listed as not mapped.
//!
//! Keys and defaults: NeMo `examples/nlp/language_modeling/conf/megatron_gpt_config.yaml`: the
//! vocabulary is padded like Megatron's (`make_vocab_size_divisible_by` × TP); `activation` `*swiglu`
//! or `*geglu` is a gated FFN; `num_query_groups: null` is multi-head attention; `optim.name:
//! distributed_fused_adam` is the distributed optimizer (ZeRO-1).

use serde_yaml::Value;

use super::{Draft, invalid, megatron_default_ffn, padded_vocab, src, tokenizer_vocab};
use crate::error::WankaError;
use crate::scenario::Scenario;
use crate::step::stack::Precision;
use crate::workload::model::{ModelSpec, MoeSpec};
use crate::workload::parallelism::{RankOrder, Recompute, Schedule};

/// `model.` keys that do not change a step's time (optimizer, data, numerics, checkpoint formats, logging).
const NOT_COST_PREFIX: &[&str] = &[
    "model.optim.",
    "model.data.",
    "model.nsys_profile",
    "model.tokenizer.",
    "model.init_method_std",
    "model.seed",
    "model.dist_ckpt",
    "model.restore_from",
    "model.resume_from",
    "model.native_amp",
    "model.hysteresis",
    "model.layernorm_epsilon",
    "model.rotary_",
    "model.megatron_timer",
    "model.enable_megatron_timers",
    "model.apex_transformer_log_level",
    "model.fp8_",
    "trainer.log",
    "trainer.val_",
    "trainer.limit_",
    "trainer.enable_",
    "trainer.logger",
    "trainer.benchmark",
    "trainer.gradient_clip_val",
    "trainer.max_epochs",
    "trainer.accelerator",
    "trainer.use_distributed_sampler",
    "trainer.accumulate_grad_batches",
];

struct Yaml<'a> {
    root: &'a Value,
    file: &'a str,
    used: Vec<String>,
}

impl<'a> Yaml<'a> {
    fn raw(&self, path: &str) -> Option<&'a Value> {
        let mut v = self.root;
        for k in path.split('.') {
            v = v.get(k)?;
        }
        Some(v)
    }
    /// The value at `path` with simple interpolations resolved; `None` for absent or null.
    fn get(&mut self, path: &str) -> Result<Option<Value>, WankaError> {
        self.used.push(path.to_string());
        let mut v = match self.raw(path) {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => v.clone(),
        };
        for _ in 0..8 {
            let Value::String(s) = &v else { break };
            let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else { break };
            if inner.contains(':') {
                return Err(invalid(
                    self.file,
                    path,
                    format!("`{s}` is an OmegaConf resolver call wanka does not evaluate: write the value"),
                ));
            }
            let target = match inner.strip_prefix('.') {
                Some(rel) => format!("{}.{rel}", path.rsplit_once('.').map_or("", |p| p.0)),
                None => inner.to_string(),
            };
            v = match self.raw(&target) {
                None | Some(Value::Null) => return Ok(None),
                Some(x) => x.clone(),
            };
        }
        if v.as_str() == Some("???") {
            return Ok(None);
        }
        Ok(Some(v))
    }
    fn uint(&mut self, path: &str) -> Result<Option<Src32>, WankaError> {
        match self.get(path)? {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(|n| Some((n, format!("{path}: {n}"))))
                .ok_or_else(|| invalid(self.file, path, format!("`{}` is not a whole number", show(&v)))),
        }
    }
    fn boolean(&mut self, path: &str) -> Result<Option<bool>, WankaError> {
        match self.get(path)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(v) => Err(invalid(self.file, path, format!("`{}` is not true or false", show(&v)))),
        }
    }
    fn float(&mut self, path: &str) -> Result<Option<f64>, WankaError> {
        match self.get(path)? {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| invalid(self.file, path, format!("`{}` is not a number", show(&v)))),
        }
    }
    fn string(&mut self, path: &str) -> Result<Option<String>, WankaError> {
        Ok(self.get(path)?.map(|v| show(&v)))
    }
}

type Src32 = (u32, String);

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".into(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().replace('\n', " "),
    }
}

/// A draft scenario from a NeMo 1.x recipe.
pub fn draft(text: &str, file: &str) -> Result<Draft, WankaError> {
    let root: Value = serde_yaml::from_str(text).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        WankaError::Parse { file: file.to_string(), line, col, msg: e.to_string() }
    })?;
    if root.get("model").is_none() {
        return Err(invalid(file, "model", "a NeMo Megatron recipe has a `model:` section".into()));
    }
    let mut y = Yaml { root: &root, file, used: Vec::new() };
    let mut d = Draft::default();
    let need = |k: &str, v: Option<Src32>| v.ok_or_else(|| invalid(file, k, "required to map the model".into()));
    let layers = need("model.num_layers", y.uint("model.num_layers")?)?;
    let hidden = need("model.hidden_size", y.uint("model.hidden_size")?)?;
    let heads = need("model.num_attention_heads", y.uint("model.num_attention_heads")?)?;
    let kv = y.uint("model.num_query_groups")?.map_or(heads.0, |g| g.0);
    let act = y.string("model.activation")?.unwrap_or_else(|| "gelu".into());
    let gated = act.ends_with("swiglu") || act.ends_with("geglu") || act.ends_with("reglu");
    let ffn = match y.uint("model.ffn_hidden_size")? {
        Some(f) => f.0,
        None => megatron_default_ffn(hidden.0, gated),
    };
    let bias = y.boolean("model.bias")?.unwrap_or(true);
    let pos = y.string("model.position_embedding_type")?.unwrap_or_else(|| "learned_absolute".into());
    let learned = match pos.as_str() {
        "learned_absolute" => true,
        "rope" | "none" => false,
        other => {
            return Err(invalid(file, "model.position_embedding_type", format!("`{other}`: wanka maps learned_absolute, rope and none")));
        }
    };
    let tied = y.boolean("model.share_embeddings_and_output_weights")?.unwrap_or(true);
    let dropout = ["model.hidden_dropout", "model.attention_dropout", "model.ffn_dropout"]
        .iter()
        .map(|k| y.float(k))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .any(|p| p.is_some_and(|p| p > 0.0));
    let head_dim = y.uint("model.kv_channels")?.map(|k| k.0).filter(|k| *k != hidden.0 / heads.0.max(1));
    let tp = y.uint("model.tensor_model_parallel_size")?;
    let tp_n = tp.as_ref().map_or(1, |t| t.0);
    let div = y.uint("model.make_vocab_size_divisible_by")?.map_or(128, |x| x.0);
    let tok = y.string("model.tokenizer.type")?;
    let tok_vocab = y.uint("model.tokenizer.vocab_size")?;
    let vocab = match (tok.as_deref().and_then(tokenizer_vocab), tok_vocab) {
        (_, Some((v, from))) => {
            d.notes.push(format!("vocab from {from}"));
            v
        }
        (Some((v, what)), None) => {
            let p = padded_vocab(v, div, tp_n);
            d.notes.push(format!(
                "vocab = {p}: model.tokenizer.type {} ({what}) padded to a multiple of {div} × TP {tp_n}",
                tok.clone().unwrap_or_default()
            ));
            p
        }
        (None, None) => 0,
    };
    let experts = y.uint("model.num_moe_experts")?;
    let moe = match experts {
        None => None,
        Some((e, _)) if e <= 1 => None,
        Some((e, _)) => Some(MoeSpec {
            experts: e,
            top_k: y.uint("model.moe_router_topk")?.map_or(2, |x| x.0),
            shared_experts: 0,
            expert_ffn_hidden: y.uint("model.moe_ffn_hidden_size")?.map_or(ffn, |x| x.0),
            dense_layers: 0,
            max_nodes_per_token: None,
        }),
    };
    let name = y.string("name")?.unwrap_or_else(|| "nemo".into());
    d.model = src(
        ModelSpec {
            name: format!("{name} {}L {}h", layers.0, hidden.0),
            layers: layers.0,
            hidden: hidden.0,
            heads: heads.0,
            kv_heads: kv,
            ffn_hidden: ffn,
            gated_ffn: gated,
            vocab,
            bias,
            learned_positions: learned,
            tied_embeddings: tied,
            dropout,
            moe,
            mla: None,
            head_dim,
            mtp_layers: 0,
        },
        format!("model.num_layers/hidden_size/num_attention_heads/ffn_hidden_size (activation {act:?}, position_embedding_type {pos:?})"),
    );
    // Devices.
    let devices = y.uint("trainer.devices")?;
    let nodes = y.uint("trainer.num_nodes")?.map_or(1, |n| n.0);
    if let Some((dv, from)) = &devices {
        d.gpus_per_node = src(*dv, from.clone());
        d.gpus = src(dv * nodes, format!("{from} × trainer.num_nodes: {nodes}"));
    }
    // Parallelism.
    let put = |x: Option<Src32>| x.map(|(v, from)| super::Src { value: v, from });
    d.tp = put(tp);
    d.pp = put(y.uint("model.pipeline_model_parallel_size")?);
    d.cp = put(y.uint("model.context_parallel_size")?);
    d.ep = put(y.uint("model.expert_model_parallel_size")?);
    d.etp = put(y.uint("model.expert_tensor_parallel_size")?);
    let pp_n = d.pp.as_ref().map_or(1, |p| p.value);
    match y.uint("model.virtual_pipeline_model_parallel_size")? {
        Some((v, from)) => {
            d.vpp = src(v, from.clone());
            d.schedule = src(if v > 1 { Schedule::Interleaved } else { Schedule::OneFOneB }, from);
        }
        None if pp_n > 1 => d.schedule = src(Schedule::OneFOneB, "model.virtual_pipeline_model_parallel_size: null (non-interleaved)"),
        None => {}
    }
    d.micro_batch = put(y.uint("model.micro_batch_size")?);
    d.global_batch = put(y.uint("model.global_batch_size")?);
    if let Some(r) = y.get("model.rampup_batch_size")? {
        d.unmapped("model.rampup_batch_size", show(&r), "batch-size ramp-up: wanka simulates the final global batch");
    }
    d.recompute = match y.string("model.activations_checkpoint_granularity")?.as_deref() {
        None => src(Recompute::None, "model.activations_checkpoint_granularity: null"),
        Some("selective") => src(Recompute::Selective, "model.activations_checkpoint_granularity: selective"),
        Some("full") => src(Recompute::Full, "model.activations_checkpoint_granularity: full"),
        Some(o) => return Err(invalid(file, "model.activations_checkpoint_granularity", format!("`{o}`: selective, full or null"))),
    };
    // `full` with `uniform` over 1 layer is wanka's full recompute; `block` over N layers recomputes the
    // first N of every chunk (`recompute_layers`); `uniform` over groups of N is not modelled.
    let method = y.get("model.activations_checkpoint_method")?.map(|v| show(&v));
    let count = y.get("model.activations_checkpoint_num_layers")?.map(|v| show(&v));
    let block_layers = (method.as_deref() == Some("block")).then(|| count.as_deref().and_then(|c| c.parse::<u32>().ok())).flatten();
    if let Some(n) = block_layers {
        d.recompute_layers = src(n, format!("model.activations_checkpoint_method: block, model.activations_checkpoint_num_layers: {n}"));
    } else if !(method.as_deref().is_none_or(|m| m == "uniform") && count.as_deref().is_none_or(|c| c == "1")) {
        for (k, v) in [("model.activations_checkpoint_method", method), ("model.activations_checkpoint_num_layers", count)] {
            if let Some(v) = v {
                d.unmapped(k, v, "uniform recomputation over groups of layers: wanka's full recompute keeps every layer's input");
            }
        }
    }
    let sp = y.boolean("model.sequence_parallel")?.unwrap_or(false);
    d.sequence_parallel = src(sp, format!("model.sequence_parallel: {sp}"));
    let optim = y.string("model.optim.name")?;
    let fsdp = y.boolean("model.fsdp")?.unwrap_or(false);
    d.zero_stage = if fsdp {
        match y.string("model.fsdp_sharding_strategy")?.as_deref().unwrap_or("full") {
            "full" => src(3, "model.fsdp: true, fsdp_sharding_strategy: full"),
            "grad" => src(2, "model.fsdp: true, fsdp_sharding_strategy: grad"),
            "hybrid" => {
                d.flag("hybrid_shard", true, "model.fsdp_sharding_strategy: hybrid");
                src(3, "model.fsdp: true, fsdp_sharding_strategy: hybrid")
            }
            o => return Err(invalid(file, "model.fsdp_sharding_strategy", format!("`{o}`: full, hybrid or grad"))),
        }
    } else {
        match optim.as_deref() {
            Some(o) if o.starts_with("distributed_fused_adam") || o.starts_with("mcore_distributed_optim") => {
                src(1, format!("model.optim.name: {o} (distributed optimizer)"))
            }
            Some(o) => src(0, format!("model.optim.name: {o} (optimizer states replicated)")),
            None => None,
        }
    };
    if y.boolean("model.use_tp_pp_dp_mapping")? == Some(true) {
        d.rank_order = src(RankOrder::TpCpPpDp, "model.use_tp_pp_dp_mapping: true");
    }
    // Training length and precision.
    d.seq_len = put(y.uint("model.encoder_seq_length")?);
    if let (Some(steps), Some(gb), Some(seq)) = (y.uint("trainer.max_steps")?, &d.global_batch, &d.seq_len) {
        d.tokens =
            src(f64::from(steps.0) * f64::from(gb.value) * f64::from(seq.value), format!("{} × {} × {}", steps.1, gb.from, seq.from));
    }
    d.stack = src("nemo".to_string(), "a NeMo recipe");
    let fp8 = y.boolean("model.fp8")?.unwrap_or(false);
    let prec = y.string("trainer.precision")?;
    d.precision = if fp8 {
        src(Precision::Fp8, "model.fp8: true")
    } else {
        match prec.as_deref() {
            Some("bf16" | "bf16-mixed" | "bf16-true") => {
                src(Precision::Bf16, format!("trainer.precision: {}", prec.clone().unwrap_or_default()))
            }
            Some("16" | "16-mixed" | "fp16") => src(Precision::Fp16, format!("trainer.precision: {}", prec.clone().unwrap_or_default())),
            Some(p) => {
                d.unmapped("trainer.precision", p, "FP32 training is not modelled: the stack's BF16 is used");
                None
            }
            None => None,
        }
    };
    if let Some(u) = y.boolean("model.ub_tp_comm_overlap")? {
        d.flag("tp_comm_overlap", u, format!("model.ub_tp_comm_overlap: {u}"));
    }
    let te = y.boolean("model.transformer_engine")?;
    let fa = y.boolean("model.use_flash_attention")?;
    if te.is_some() || fa.is_some() {
        let (te, fa) = (te.unwrap_or(false), fa.unwrap_or(false));
        d.flag("flash_attention", te || fa, format!("model.transformer_engine: {te}, model.use_flash_attention: {fa}"));
    }
    for (k, f) in [("model.overlap_grad_reduce", "overlap_grad_reduce"), ("model.overlap_param_gather", "overlap_param_gather")] {
        if let Some(b) = y.boolean(k)? {
            d.flag(f, b, format!("{k}: {b}"));
        }
    }
    for k in ["model.max_position_embeddings", "model.fsdp", "model.fsdp_sharding_strategy", "model.mcore_gpt", "name"] {
        y.used.push(k.into());
    }
    // Everything else under trainer: and model:.
    let mut rest = Vec::new();
    for top in ["trainer", "model"] {
        if let Some(Value::Mapping(m)) = root.get(top) {
            flatten(top, m, &mut rest);
        }
    }
    for (k, v) in rest {
        if y.used.iter().any(|u| *u == k) {
            continue;
        }
        let why = if NOT_COST_PREFIX.iter().any(|p| k.starts_with(p)) {
            "does not change a training step's time"
        } else if v.contains("${") {
            "an OmegaConf interpolation wanka does not evaluate"
        } else {
            "no wanka equivalent"
        };
        d.unmapped(k, v, why);
    }
    Ok(d)
}

fn flatten(prefix: &str, m: &serde_yaml::Mapping, out: &mut Vec<(String, String)>) {
    for (k, v) in m {
        let key = format!("{prefix}.{}", show(k));
        match v {
            Value::Mapping(sub) if !sub.is_empty() => flatten(&key, sub, out),
            Value::Null => {}
            other => out.push((key, show(other))),
        }
    }
}

/// A scenario as a NeMo 1.x recipe override (YAML with the `trainer:` and `model:` keys of
/// `megatron_gpt_config.yaml`), resolved against `catalog` so every number is the one wanka simulates.
pub fn export(s: &Scenario, catalog: &crate::Catalog, file: &str) -> Result<String, WankaError> {
    let r = s.resolve(catalog, file)?;
    let (m, p) = (&r.model, &r.plan);
    let mut lost: Vec<String> = Vec::new();
    let mut o = String::new();
    o.push_str(&format!("# NeMo (1.x Megatron GPT recipe) override exported by `wanka export nemo` from {file} ({}).\n", s.name));
    o.push_str(&format!(
        "# Cluster in wanka: {} x {} ({} per scale-up domain); software stack {}.\n",
        s.cluster.gpus, s.cluster.chip, s.cluster.gpus_per_node, s.framework.stack
    ));
    o.push_str(
        "# Merge over examples/nlp/language_modeling/conf/megatron_gpt_config.yaml (data paths and the tokenizer files are yours).\n",
    );
    let (per_node, nodes) = super::launch_shape(s.cluster.gpus, s.cluster.gpus_per_node);
    let steps = (s.training.tokens / (f64::from(p.global_batch) * f64::from(s.training.seq_len))).ceil() as u64;
    let prec = match s.framework.precision {
        Precision::Fp16 => "16-mixed",
        _ => "bf16-mixed",
    };
    let mut t = String::new();
    t.push_str("trainer:\n");
    t.push_str(&format!("  devices: {per_node}\n  num_nodes: {nodes}\n  precision: {prec}\n  max_steps: {steps}\n"));
    t.push_str("model:\n");
    let mut kv = |k: &str, v: String| t.push_str(&format!("  {k}: {v}\n"));
    kv("micro_batch_size", p.micro_batch.to_string());
    kv("global_batch_size", p.global_batch.to_string());
    kv("tensor_model_parallel_size", p.tp.to_string());
    kv("pipeline_model_parallel_size", p.pp.to_string());
    kv(
        "virtual_pipeline_model_parallel_size",
        match p.schedule {
            Schedule::Interleaved => p.vpp.to_string(),
            Schedule::OneFOneB => "null".into(),
            Schedule::DualPipe => {
                lost.push("schedule DualPipe: NeMo has no DualPipe; exported as 1F1B".into());
                "null".into()
            }
        },
    );
    // A NeMo 1.x recipe splits the layers evenly: an uneven split (a layout, or wanka's balance with
    // the embedding and output layer) is said, not silently flattened.
    let per_chunk = &p.layers_per_chunk;
    if per_chunk.len() > 1 && per_chunk.iter().any(|n| *n != per_chunk[0]) {
        let (lo, hi) = (per_chunk.iter().min().copied().unwrap_or(0), per_chunk.iter().max().copied().unwrap_or(0));
        lost.push(format!(
            "uneven pipeline split ({lo} to {hi} layers per chunk over {} chunks): a NeMo 1.x recipe splits layers evenly (`wanka export megatron` writes it as --pipeline-model-parallel-layout)",
            per_chunk.len()
        ));
    }
    kv("context_parallel_size", p.cp.to_string());
    kv("expert_model_parallel_size", p.ep.to_string());
    if m.moe.is_some() {
        kv("expert_tensor_parallel_size", p.etp.to_string());
    }
    kv("encoder_seq_length", s.training.seq_len.to_string());
    kv("max_position_embeddings", s.training.seq_len.to_string());
    kv("num_layers", m.layers.to_string());
    kv("hidden_size", m.hidden.to_string());
    kv("ffn_hidden_size", m.ffn_hidden.to_string());
    kv("num_attention_heads", m.heads.to_string());
    kv("num_query_groups", if m.kv_heads == m.heads { "null".into() } else { m.kv_heads.to_string() });
    kv("kv_channels", m.head_dim.map_or("null".into(), |h| h.to_string()));
    kv("activation", if m.gated_ffn { "fast-swiglu".into() } else { "gelu".into() });
    kv("bias", if m.bias { "True".into() } else { "False".into() });
    kv("position_embedding_type", if m.learned_positions { "learned_absolute".into() } else { "rope".into() });
    kv("share_embeddings_and_output_weights", if m.tied_embeddings { "True".into() } else { "False".into() });
    let dr = if m.dropout { "0.1" } else { "0.0" };
    kv("hidden_dropout", dr.into());
    kv("attention_dropout", dr.into());
    kv("ffn_dropout", "0.0".into());
    kv("make_vocab_size_divisible_by", "1".into());
    if let Some(e) = &m.moe {
        kv("num_moe_experts", e.experts.to_string());
        kv("moe_router_topk", e.top_k.to_string());
        kv("moe_ffn_hidden_size", e.expert_ffn_hidden.to_string());
        if e.shared_experts > 0 {
            lost.push("shared experts: NeMo 1.x recipes have no key for them".into());
        }
        if e.dense_layers > 0 {
            lost.push("moe.dense_layers: NeMo 1.x recipes have no key for leading dense layers".into());
        }
    }
    if m.mla.is_some() {
        lost.push("multi-head latent attention: not a NeMo 1.x GPT recipe key".into());
    }
    kv(
        "activations_checkpoint_granularity",
        match p.recompute {
            Recompute::None => "null".into(),
            Recompute::Selective => "selective".into(),
            Recompute::Full => "full".into(),
        },
    );
    if p.recompute == Recompute::Full {
        let (method, layers) = p.recompute_layers.map_or(("uniform", 1), |n| ("block", n));
        kv("activations_checkpoint_method", method.into());
        kv("activations_checkpoint_num_layers", layers.to_string());
    }
    if p.rank_order == RankOrder::TpCpPpDp {
        kv("use_tp_pp_dp_mapping", "True".into());
    }
    kv("sequence_parallel", if p.sequence_parallel { "True".into() } else { "False".into() });
    kv("fp8", if s.framework.precision == Precision::Fp8 { "True".into() } else { "False".into() });
    kv("ub_tp_comm_overlap", if s.framework.tp_comm_overlap { "True".into() } else { "False".into() });
    match p.zero_stage {
        0 => {
            kv("fsdp", "False".into());
            t.push_str("  optim:\n    name: fused_adam\n");
        }
        1 => {
            kv("fsdp", "False".into());
            t.push_str("  optim:\n    name: distributed_fused_adam\n");
        }
        z => {
            kv("fsdp", "True".into());
            kv(
                "fsdp_sharding_strategy",
                if z == 2 {
                    "grad".into()
                } else if s.framework.hybrid_shard {
                    "hybrid".into()
                } else {
                    "full".into()
                },
            );
        }
    }
    // The vocabulary as a count: NeMo sizes it from the tokenizer files, so the override says it here.
    t.push_str(&format!(
        "  tokenizer:\n    vocab_size: {}  # the model's padded vocabulary (wanka); NeMo sizes it from the tokenizer\n",
        m.vocab
    ));
    for l in &lost {
        o.push_str(&format!("# not expressible in the recipe: {l}\n"));
    }
    o.push_str(&t);
    Ok(o)
}
