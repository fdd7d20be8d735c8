//! Interoperability with the training frameworks' own configuration files: `wanka import` reads a
//! Megatron-LM launch script, a NeMo recipe (YAML), a Hugging Face `config.json` or a torchtitan TOML
//! into a wanka scenario; `wanka export` writes a scenario as Megatron-LM launch arguments or a NeMo
//! recipe override. One file per tool; this module holds what they share: the [`Draft`] every
//! importer fills (each value with the option it came from), the [`ImportOptions`] for what a file
//! cannot say (chip, device count, tokens), and the rendering of a draft as scenario RON with every
//! option that could not be mapped listed as a comment.
//!
//! A draft is checked by parsing the rendered text as a scenario ([`crate::Scenario::parse`]): an
//! import either yields a scenario wanka reads or an error naming the file and the option. Nothing
//! here prints or writes files: the binary does that.

pub mod hf;
pub mod megatron;
pub mod nemo;
pub mod torchtitan;

use crate::error::WankaError;
use crate::scenario::Scenario;
use crate::step::stack::Precision;
use crate::workload::model::ModelSpec;
use crate::workload::parallelism::{PipelineSplit, RankOrder, Recompute, RecomputeModule, Schedule};

/// The tools `wanka import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Megatron,
    Nemo,
    Hf,
    Torchtitan,
}

impl Tool {
    pub fn label(self) -> &'static str {
        match self {
            Tool::Megatron => "megatron",
            Tool::Nemo => "nemo",
            Tool::Hf => "hf",
            Tool::Torchtitan => "torchtitan",
        }
    }
}

/// What the file cannot say, given on the command line (`--chip`, `--gpus`, …). A value given here
/// wins over one derived from the file (a launch script's example node count); the draft notes it.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub chip: Option<String>,
    pub gpus: Option<u32>,
    pub gpus_per_node: Option<u32>,
    pub tokens: Option<f64>,
    pub seq_len: Option<u32>,
    /// The model's (padded) vocabulary when the file names a tokenizer wanka cannot size.
    pub vocab: Option<u32>,
    pub name: Option<String>,
}

/// A value of the draft and the option (or flag) it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Src<T> {
    pub value: T,
    pub from: String,
}

fn src<T>(value: T, from: impl Into<String>) -> Option<Src<T>> {
    Some(Src { value, from: from.into() })
}

/// An option of the input that the scenario does not carry, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmapped {
    /// The option as the input spells it (`--lr`, `model.optim.name`, `[training] dataset`).
    pub option: String,
    pub value: String,
    pub why: String,
}

/// A scenario being built from a tool's file; `None` fields are left to the scenario's documented
/// defaults (which the loader fills and notes).
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub model: Option<Src<ModelSpec>>,
    pub chip: Option<Src<String>>,
    pub gpus: Option<Src<u32>>,
    pub gpus_per_node: Option<Src<u32>>,
    pub tp: Option<Src<u32>>,
    pub pp: Option<Src<u32>>,
    pub dp: Option<Src<u32>>,
    pub cp: Option<Src<u32>>,
    pub ep: Option<Src<u32>>,
    pub etp: Option<Src<u32>>,
    pub schedule: Option<Src<Schedule>>,
    pub vpp: Option<Src<u32>>,
    pub micro_batch: Option<Src<u32>>,
    pub global_batch: Option<Src<u32>>,
    pub recompute: Option<Src<Recompute>>,
    pub sequence_parallel: Option<Src<bool>>,
    pub zero_stage: Option<Src<u8>>,
    pub rank_order: Option<Src<RankOrder>>,
    pub pipeline_split: Option<Src<PipelineSplit>>,
    /// Megatron `--recompute-modules`.
    pub recompute_modules: Option<Src<Vec<RecomputeModule>>>,
    /// Megatron `--recompute-method block --recompute-num-layers N`: the first N layers of every chunk.
    pub recompute_layers: Option<Src<u32>>,
    /// Megatron `--pipeline-model-parallel-layout`, as written.
    pub pipeline_layout: Option<Src<String>>,
    pub seq_len: Option<Src<u32>>,
    pub tokens: Option<Src<f64>>,
    pub stack: Option<Src<String>>,
    pub precision: Option<Src<Precision>>,
    /// Boolean framework settings (`overlap_grad_reduce`, `tp_comm_overlap`, …).
    pub framework_flags: Vec<(&'static str, Src<bool>)>,
    pub unmapped: Vec<Unmapped>,
    /// Notes on how a value was derived (shown as comments and on stderr).
    pub notes: Vec<String>,
    /// torchtitan with `data_parallel_shard_degree = -1`: training steps whose tokens need the global
    /// batch, and `(local_batch_size, replicate degree, tp·pp·cp)` to derive it once the device count
    /// is known.
    pub pending_steps: Option<u32>,
    pub pending_local: Option<(u32, u32, u32)>,
}

/// The result of an import: the scenario text (RON, comments included) and the parsed scenario.
#[derive(Debug, Clone)]
pub struct Imported {
    pub text: String,
    pub scenario: Scenario,
    pub unmapped: Vec<Unmapped>,
    pub notes: Vec<String>,
}

/// Read `text` (the content of `file`) as a configuration of `tool` and build a scenario.
pub fn import(tool: Tool, text: &str, file: &str, opts: &ImportOptions) -> Result<Imported, WankaError> {
    let mut d = match tool {
        Tool::Megatron => megatron::draft(text, file)?,
        Tool::Nemo => nemo::draft(text, file)?,
        Tool::Hf => hf::draft(text, file)?,
        Tool::Torchtitan => torchtitan::draft(text, file)?,
    };
    d.apply_options(opts, file)?;
    d.finish(tool, file, opts)
}

impl Draft {
    fn unmapped(&mut self, option: impl Into<String>, value: impl Into<String>, why: impl Into<String>) {
        self.unmapped.push(Unmapped { option: option.into(), value: value.into(), why: why.into() });
    }

    fn flag(&mut self, field: &'static str, value: bool, from: impl Into<String>) {
        self.framework_flags.retain(|(f, _)| *f != field);
        self.framework_flags.push((field, Src { value, from: from.into() }));
    }

    /// Command-line values: they fill what the file does not say and win over what it derives.
    fn apply_options(&mut self, o: &ImportOptions, file: &str) -> Result<(), WankaError> {
        fn over<T: std::fmt::Display>(slot: &mut Option<Src<T>>, v: &Option<T>, flag: &str, notes: &mut Vec<String>)
        where
            T: Clone,
        {
            if let Some(v) = v {
                if let Some(old) = slot.as_ref().filter(|old| old.value.to_string() != v.to_string()) {
                    notes.push(format!("{flag} {v} replaces {} from {}", old.value, old.from));
                }
                *slot = src(v.clone(), flag);
            }
        }
        over(&mut self.chip, &o.chip, "--chip", &mut self.notes);
        over(&mut self.gpus, &o.gpus, "--gpus", &mut self.notes);
        over(&mut self.gpus_per_node, &o.gpus_per_node, "--gpus-per-node", &mut self.notes);
        over(&mut self.tokens, &o.tokens, "--tokens", &mut self.notes);
        over(&mut self.seq_len, &o.seq_len, "--seq-len", &mut self.notes);
        if let (Some(v), Some(m)) = (o.vocab, self.model.as_mut()) {
            if m.value.vocab != 0 && m.value.vocab != v {
                self.notes.push(format!("--vocab {v} replaces the vocabulary {} derived from the file", m.value.vocab));
            }
            m.value.vocab = v;
        }
        if let Some(m) = &self.model
            && m.value.vocab == 0
        {
            return Err(invalid(
                file,
                "model.vocab",
                "the file names no tokenizer whose vocabulary wanka knows (GPT2BPETokenizer, Llama2Tokenizer, NullTokenizer with a \
                 vocab size): pass --vocab N, the model's padded vocabulary"
                    .into(),
            ));
        }
        if let Some(g) = &self.gpus
            && g.value == 0
        {
            return Err(invalid(file, &g.from, "the device count must be at least 1".into()));
        }
        if let (Some((local, _rep, per)), Some(g)) = (self.pending_local, &self.gpus)
            && per > 0
            && g.value % per == 0
            && self.global_batch.is_none()
        {
            let dp = g.value / per;
            self.notes.retain(|n| !n.starts_with("global batch = local_batch_size") && !n.starts_with("tokens = steps"));
            self.global_batch =
                src(local * dp, format!("[training] local_batch_size {local} × data-parallel degree {dp} ({} / tp·pp·cp {per})", g.from));
            if let (Some(steps), Some(seq)) = (self.pending_steps, self.seq_len.as_ref().map(|s| s.value))
                && self.tokens.is_none()
            {
                self.tokens = src(
                    f64::from(steps) * f64::from(local * dp) * f64::from(seq),
                    format!("[training] steps {steps} × global batch {} × seq_len {seq}", local * dp),
                );
            }
        }
        Ok(())
    }

    /// Check what a scenario requires and render it.
    fn finish(self, tool: Tool, file: &str, opts: &ImportOptions) -> Result<Imported, WankaError> {
        let Some(model) = &self.model else {
            return Err(invalid(file, "model", "the file gives no model shape wanka can map".into()));
        };
        let need = |what: &str, flag: &str| {
            invalid(file, what, format!("a {} configuration does not say it: pass {flag} (see `wanka import --help`)", tool.label()))
        };
        let Some(chip) = &self.chip else { return Err(need("cluster.chip", "--chip ID (an id of `wanka catalog`)")) };
        let Some(gpus) = &self.gpus else { return Err(need("cluster.gpus", "--gpus N")) };
        let Some(_tokens) = &self.tokens else { return Err(need("training.tokens", "--tokens N (e.g. 1e12)")) };
        // A layout that cannot fill the devices: say which values clash before the loader's generic message.
        if self.dp.is_none() {
            let per = [&self.tp, &self.pp, &self.cp].iter().map(|s| s.as_ref().map_or(1, |s| u64::from(s.value))).product::<u64>();
            let g = u64::from(gpus.value);
            if per == 0 || g % per != 0 {
                let parts: Vec<String> = [("TP", &self.tp), ("PP", &self.pp), ("CP", &self.cp)]
                    .iter()
                    .filter_map(|(n, s)| s.as_ref().map(|s| format!("{n} {} ({})", s.value, s.from)))
                    .collect();
                return Err(invalid(
                    file,
                    "cluster.gpus",
                    format!(
                        "{} GPUs ({}) cannot be split into data-parallel replicas of {} = {per} devices: pass --gpus N with N a multiple of {per}",
                        g,
                        gpus.from,
                        parts.join(" × ")
                    ),
                ));
            }
        }
        let name = opts.name.clone().unwrap_or_else(|| format!("{} on {} {}", model.value.name, gpus.value, chip.value));
        let text = self.render(tool, file, &name);
        let scenario = Scenario::parse(&text, &format!("{file} (imported)"))?;
        Ok(Imported { text, scenario, unmapped: self.unmapped, notes: self.notes })
    }

    fn render(&self, tool: Tool, file: &str, name: &str) -> String {
        let mut o = String::new();
        o.push_str(&format!("// Imported by `wanka import {}` from {file}.\n", tool.label()));
        o.push_str("// Each value names the option it came from; fields left out take the scenario defaults\n");
        o.push_str("// (`wanka step` lists them as notes).\n");
        for n in &self.notes {
            o.push_str(&format!("// note: {n}\n"));
        }
        if self.unmapped.is_empty() {
            o.push_str("// Every option of the file was mapped.\n");
        } else {
            o.push_str(&format!("// Not mapped ({} options of the file that this scenario does not carry):\n", self.unmapped.len()));
            for u in &self.unmapped {
                o.push_str(&format!("//   {} {}: {}\n", u.option, one_line(&u.value), u.why));
            }
        }
        o.push_str("(\n");
        o.push_str(&format!("    name: {},\n", ron_str(name)));
        if let Some(m) = &self.model {
            let s = &m.value;
            o.push_str(&format!("    // model from {}\n", m.from));
            o.push_str("    model: Custom((\n");
            o.push_str(&format!("        name: {},\n", ron_str(&s.name)));
            for (k, v) in
                [("layers", s.layers), ("hidden", s.hidden), ("heads", s.heads), ("kv_heads", s.kv_heads), ("ffn_hidden", s.ffn_hidden)]
            {
                o.push_str(&format!("        {k}: {v},\n"));
            }
            o.push_str(&format!("        gated_ffn: {},\n", s.gated_ffn));
            o.push_str(&format!("        vocab: {},\n", s.vocab));
            o.push_str(&format!("        bias: {},\n", s.bias));
            o.push_str(&format!("        learned_positions: {},\n", s.learned_positions));
            o.push_str(&format!("        tied_embeddings: {},\n", s.tied_embeddings));
            o.push_str(&format!("        dropout: {},\n", s.dropout));
            match &s.moe {
                None => o.push_str("        moe: None,\n"),
                Some(e) => o.push_str(&format!(
                    "        moe: Some((experts: {}, top_k: {}, shared_experts: {}, expert_ffn_hidden: {}, dense_layers: {}, max_nodes_per_token: {})),\n",
                    e.experts,
                    e.top_k,
                    e.shared_experts,
                    e.expert_ffn_hidden,
                    e.dense_layers,
                    e.max_nodes_per_token.map_or("None".to_string(), |n| format!("Some({n})"))
                )),
            }
            match &s.mla {
                None => o.push_str("        mla: None,\n"),
                Some(a) => o.push_str(&format!(
                    "        mla: Some((q_lora_rank: {}, kv_lora_rank: {}, qk_nope_head_dim: {}, qk_rope_head_dim: {}, v_head_dim: {})),\n",
                    a.q_lora_rank, a.kv_lora_rank, a.qk_nope_head_dim, a.qk_rope_head_dim, a.v_head_dim
                )),
            }
            o.push_str(&format!("        head_dim: {},\n", s.head_dim.map_or("None".to_string(), |n| format!("Some({n})"))));
            if s.mtp_layers > 0 {
                o.push_str(&format!("        mtp_layers: {},\n", s.mtp_layers));
            }
            o.push_str("    )),\n");
        }
        o.push_str("    cluster: (\n");
        field(&mut o, "chip", self.chip.as_ref().map(|s| (ron_str(&s.value), &s.from)));
        field(&mut o, "gpus", num(&self.gpus));
        field(&mut o, "gpus_per_node", num(&self.gpus_per_node));
        o.push_str("    ),\n");
        o.push_str("    parallelism: (\n");
        for (k, v) in [
            ("tp", &self.tp),
            ("pp", &self.pp),
            ("dp", &self.dp),
            ("cp", &self.cp),
            ("ep", &self.ep),
            ("etp", &self.etp),
            ("vpp", &self.vpp),
            ("micro_batch", &self.micro_batch),
            ("global_batch", &self.global_batch),
        ] {
            field(&mut o, k, num(v));
        }
        field(&mut o, "schedule", self.schedule.as_ref().map(|s| (format!("{:?}", s.value), &s.from)));
        field(&mut o, "recompute", self.recompute.as_ref().map(|s| (format!("{:?}", s.value), &s.from)));
        field(&mut o, "sequence_parallel", self.sequence_parallel.as_ref().map(|s| (s.value.to_string(), &s.from)));
        field(&mut o, "zero_stage", num(&self.zero_stage));
        field(&mut o, "rank_order", self.rank_order.as_ref().map(|s| (format!("{:?}", s.value), &s.from)));
        field(&mut o, "pipeline_split", self.pipeline_split.as_ref().map(|s| (format!("{:?}", s.value), &s.from)));
        field(&mut o, "recompute_modules", self.recompute_modules.as_ref().map(|s| (format!("Some({:?})", s.value), &s.from)));
        field(&mut o, "recompute_layers", self.recompute_layers.as_ref().map(|s| (format!("Some({})", s.value), &s.from)));
        field(&mut o, "pipeline_layout", self.pipeline_layout.as_ref().map(|s| (format!("Some({})", ron_str(&s.value)), &s.from)));
        o.push_str("    ),\n");
        o.push_str("    training: (\n");
        field(&mut o, "seq_len", num(&self.seq_len));
        field(&mut o, "tokens", self.tokens.as_ref().map(|s| (format!("{:e}", s.value), &s.from)));
        o.push_str("    ),\n");
        if self.stack.is_some() || self.precision.is_some() || !self.framework_flags.is_empty() {
            o.push_str("    framework: (\n");
            field(&mut o, "stack", self.stack.as_ref().map(|s| (ron_str(&s.value), &s.from)));
            field(&mut o, "precision", self.precision.as_ref().map(|s| (format!("{:?}", s.value), &s.from)));
            for (k, v) in &self.framework_flags {
                field(&mut o, k, Some((v.value.to_string(), &v.from)));
            }
            o.push_str("    ),\n");
        }
        o.push_str(")\n");
        o
    }
}

fn num<T: std::fmt::Display>(s: &Option<Src<T>>) -> Option<(String, &String)> {
    s.as_ref().map(|s| (s.value.to_string(), &s.from))
}

fn field(o: &mut String, k: &str, v: Option<(String, &String)>) {
    if let Some((v, from)) = v {
        o.push_str(&format!("        {k}: {v}, // {}\n", one_line(from)));
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A RON string literal.
fn ron_str(s: &str) -> String {
    format!("{s:?}")
}

fn invalid(file: &str, field: &str, msg: String) -> WankaError {
    WankaError::Invalid { file: file.to_string(), field: field.to_string(), msg }
}

/// Launcher processes per node and node count for `gpus` devices in domains of `per_domain`: the
/// domain when it divides the devices, else the largest common divisor (torchrun needs equal nodes).
pub fn launch_shape(gpus: u32, per_domain: u32) -> (u32, u32) {
    let (mut a, mut b) = (gpus.max(1), per_domain.max(1));
    while b != 0 {
        (a, b) = (b, a % b);
    }
    (a, gpus.max(1) / a)
}

/// Megatron's vocabulary padding (megatron/core/tokenizers/utils/build_tokenizer.py
/// `vocab_size_with_padding`; NeMo does the same): up to a multiple of `divisible_by · tp`.
pub fn padded_vocab(vocab: u32, divisible_by: u32, tp: u32) -> u32 {
    let m = u64::from(divisible_by.max(1)) * u64::from(tp.max(1));
    (u64::from(vocab).div_ceil(m) * m).min(u64::from(u32::MAX)) as u32
}

/// Vocabulary sizes of the tokenizers wanka knows by name (Megatron `--tokenizer-type`, NeMo
/// `tokenizer.type`), before padding.
pub fn tokenizer_vocab(kind: &str) -> Option<(u32, &'static str)> {
    match kind {
        "GPT2BPETokenizer" => Some((50257, "GPT-2 BPE: 50,257 tokens")),
        "Llama2Tokenizer" => Some((32000, "Llama 2 SentencePiece: 32,000 tokens")),
        _ => None,
    }
}

/// Megatron's default FFN width (megatron/training/arguments.py): `4h`, or with SwiGLU
/// `int(4h·2/3 / 64)·64`.
pub fn megatron_default_ffn(hidden: u32, swiglu: bool) -> u32 {
    if swiglu { ((4.0 * f64::from(hidden) * 2.0 / 3.0) / 64.0) as u32 * 64 } else { 4 * hidden }
}

/// The Megatron-style padding divisor that leaves `vocab` unchanged at this `tp` (for export), or
/// `None` when no divisor does (`vocab` not a multiple of `tp`).
pub fn identity_divisor(vocab: u32, tp: u32) -> Option<u32> {
    [128u32, 64, 32, 16, 8, 4, 2, 1].into_iter().find(|d| padded_vocab(vocab, *d, tp) == vocab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_and_default_ffn_follow_megatron() {
        // GPT-2's 50,257 tokens at TP 8 pad to 51,200 (the vocab of Megatron's GPT-3 175B runs).
        assert_eq!(padded_vocab(50257, 128, 8), 51200);
        assert_eq!(padded_vocab(50257, 128, 1), 50304);
        assert_eq!(megatron_default_ffn(12288, false), 49152);
        assert_eq!(megatron_default_ffn(4096, true), 10880);
        assert_eq!(identity_divisor(128_000, 8), Some(128));
        assert_eq!(identity_divisor(50257, 8), None);
        assert_eq!(launch_shape(16384, 8), (8, 2048));
        assert_eq!(launch_shape(128, 72), (8, 16));
    }
}
