//! Parallelism plans: tensor (TP), pipeline (PP, 1F1B or interleaved), data (DP with ZeRO 0–3),
//! sequence (SP), context (CP) and expert (EP) parallelism, micro-batching and recomputation.
//!
//! A plan as written by the user ([`ParallelismSpec`]) may leave the micro-batch size, schedule and
//! virtual-stage count open; [`resolve`] fills them with the documented defaults below and checks every
//! constraint. An infeasible plan is reported with each violated constraint, never adjusted.
//!
//! Rank order ([`RankOrder`]) decides which groups share a node. TP is always innermost, so TP groups are
//! contiguous ranks and land inside one scale-up domain when `tp` divides the domain size. The default
//! is Megatron-core's `tp-cp-ep-dp-pp` (expert- and data-parallel peers next, pipeline stages farthest
//! apart); Llama 3 used `[TP, CP, PP, DP]` (pipeline neighbours close, DP outermost).
//!
//! Expert layers are laid out by Megatron-core's MoE parallel folding (Liu et al. 2025, "MoE Parallel
//! Folding", arXiv 2504.14960): attention runs on TP×CP×DP×PP, the experts on ETP×EP×EDP×PP over the
//! same ranks, with `etp·ep·edp = tp·cp·dp` and the expert dimensions ordered `etp-ep-edp` innermost
//! first inside each pipeline stage's block of ranks. `etp` (expert tensor parallelism) defaults to
//! `tp`, Megatron-core's default, which with `cp = 1` is the older "EP inside DP" layout. Under the
//! Llama 3 order the stage block is not contiguous, so there `etp` must equal `tp` and EP stays inside
//! DP×CP.

use serde::{Deserialize, Serialize};

use crate::error::Violation;
use crate::workload::model::ModelSpec;

/// Pipeline schedule.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Schedule {
    /// Non-interleaved one-forward-one-backward (PipeDream-Flush / Megatron default).
    OneFOneB,
    /// Interleaved 1F1B with `vpp` virtual chunks per stage (Megatron-LM SC21).
    Interleaved,
    /// DualPipe (DeepSeek-V3 report §3.2.1; github deepseek-ai/DualPipe): micro-batches enter from both
    /// ends of the pipeline, each stage holds two copies of parameters (its own chunk of the forward
    /// direction and the mirrored chunk of the reverse one), forward and backward chunks of the two
    /// directions run as overlapped pairs, and backward splits into input and weight gradients (zero
    /// bubble) at the edges. Needs an even `pp` and at least `2·pp` micro-batches, an even number.
    DualPipe,
}

impl Schedule {
    /// The word reports and case files use (`1f1b`, `interleaved`, `dualpipe`).
    pub fn label(self) -> &'static str {
        match self {
            Schedule::OneFOneB => "1f1b",
            Schedule::Interleaved => "interleaved",
            Schedule::DualPipe => "dualpipe",
        }
    }
}

/// Activation recomputation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Recompute {
    None,
    /// Recompute only the attention core (Korthikanti et al. 2022).
    Selective,
    /// Recompute every layer's forward in backward; store only layer inputs.
    Full,
}

impl Recompute {
    /// The word reports print (`none`, `selective`, `full`), never Rust debug text.
    pub fn label(self) -> &'static str {
        match self {
            Recompute::None => "none",
            Recompute::Selective => "selective",
            Recompute::Full => "full",
        }
    }
}

/// A module recomputed in the backward under [`Recompute::Selective`] (Megatron-core
/// `--recompute-granularity selective --recompute-modules …`): its forward runs again before its
/// backward, and the activations only it needed are not kept.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum RecomputeModule {
    /// The attention core (Korthikanti et al. 2022; Megatron's default `core_attn`): free of cost
    /// and of memory under fused attention, which recomputes its scores anyway.
    CoreAttn,
    /// The layer's RMSNorm/LayerNorm outputs (`layernorm`).
    LayerNorm,
    /// MLA's query and key/value up-projections (`mla_up_proj`; DeepSeek-V3 report §3.2.3).
    MlaUpProj,
    /// The routed experts' activation function (`moe_act`).
    MoeAct,
    /// The dense layers' whole FFN (`mlp`).
    Mlp,
    /// The MoE layers' whole routed-expert block, dispatch and combine included (`moe`).
    Moe,
}

impl RecomputeModule {
    pub const ALL: [RecomputeModule; 6] = [
        RecomputeModule::CoreAttn,
        RecomputeModule::LayerNorm,
        RecomputeModule::MlaUpProj,
        RecomputeModule::MoeAct,
        RecomputeModule::Mlp,
        RecomputeModule::Moe,
    ];
    /// Megatron-core's name for the module.
    pub fn label(self) -> &'static str {
        match self {
            RecomputeModule::CoreAttn => "core_attn",
            RecomputeModule::LayerNorm => "layernorm",
            RecomputeModule::MlaUpProj => "mla_up_proj",
            RecomputeModule::MoeAct => "moe_act",
            RecomputeModule::Mlp => "mlp",
            RecomputeModule::Moe => "moe",
        }
    }
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The set of modules a selective recomputation covers (default: the attention core alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecomputeSet(u8);

impl Default for RecomputeSet {
    fn default() -> Self {
        RecomputeSet(RecomputeModule::CoreAttn.bit())
    }
}

impl RecomputeSet {
    pub fn of(modules: &[RecomputeModule]) -> Self {
        RecomputeSet(modules.iter().fold(0, |acc, m| acc | m.bit()))
    }
    pub fn has(self, m: RecomputeModule) -> bool {
        self.0 & m.bit() != 0
    }
    pub fn is_default(&self) -> bool {
        *self == RecomputeSet::default()
    }
    pub fn modules(self) -> Vec<RecomputeModule> {
        RecomputeModule::ALL.into_iter().filter(|m| self.has(*m)).collect()
    }
    /// `layernorm+mla_up_proj`, Megatron's names joined by `+`.
    pub fn label(self) -> String {
        self.modules().iter().map(|m| m.label()).collect::<Vec<_>>().join("+")
    }
}

impl Serialize for RecomputeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.modules().serialize(s)
    }
}

/// Order of the parallel dimensions over consecutive ranks, innermost first.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum RankOrder {
    /// `tp-cp-ep-dp-pp`: Megatron-core's default order (NVIDIA Megatron-LM `parallel_state`). With
    /// `tp` below the node size the node is filled with expert/data-parallel peers; pipeline sends
    /// cross nodes.
    #[default]
    TpCpDpPp,
    /// `[TP, CP, PP, DP]`: Llama 3 (Meta 2024, §3.3.2), "optimized for network communication": pipeline
    /// neighbours as close as possible, data parallelism outermost.
    TpCpPpDp,
}

/// How the layers are split over the pipeline's chunks (`pp × vpp`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
pub enum PipelineSplit {
    /// wanka's balance: contiguous chunks of at least one layer each, the last chunk's output layer
    /// counted at its cost so uneven splits take layers from the ends (Llama 3's removed first and
    /// last layers; Megatron's `--decoder-first/last-pipeline-num-layers`).
    #[default]
    Balanced,
    /// Megatron-core's `--account-for-embedding-in-pipeline-split`: the input embedding counts as one
    /// layer of the first chunk; `layers + 1` must divide evenly over the chunks.
    Embedding,
    /// `--account-for-loss-in-pipeline-split`: the output layer and loss count as one layer of the
    /// last chunk; `layers + 1` must divide evenly.
    Loss,
    /// Both flags (Megatron-MoE model zoo Qwen3-235B config; DeepSpeed's
    /// `--pp-partition-method type:transformer|embedding` with tied embeddings at both ends, BLOOM):
    /// `layers + 2` units over the chunks, so the first and last chunks hold one layer fewer and may
    /// hold none (an embedding-only or loss-only chunk).
    EmbeddingAndLoss,
}

impl PipelineSplit {
    pub fn is_balanced(&self) -> bool {
        *self == PipelineSplit::Balanced
    }
    /// Layer-equivalents the split adds at the first and last chunk.
    fn ends(self) -> (u32, u32) {
        match self {
            PipelineSplit::Balanced => (0, 0),
            PipelineSplit::Embedding => (1, 0),
            PipelineSplit::Loss => (0, 1),
            PipelineSplit::EmbeddingAndLoss => (1, 1),
        }
    }
}

/// Megatron-core's split with the embedding and/or loss counted as layers (`get_num_layers_to_build`):
/// `layers + first + last` units in equal chunks, the first chunk giving `first` of its units to the
/// embedding and the last `last` to the loss. `None` when the units do not divide evenly or an end
/// chunk would need fewer than zero layers.
pub fn counted_split(layers: u32, chunks: u32, split: PipelineSplit) -> Option<Vec<u32>> {
    let (first, last) = split.ends();
    let units = layers + first + last;
    if chunks == 0 || !units.is_multiple_of(chunks) {
        return None;
    }
    let per = units / chunks;
    if chunks == 1 {
        return Some(vec![layers]);
    }
    if per < first.max(last) {
        return None;
    }
    let mut out = vec![per; chunks as usize];
    out[0] -= first;
    out[chunks as usize - 1] -= last;
    Some(out)
}

/// Layers per chunk of a Megatron-core `--pipeline-model-parallel-layout` string
/// (`megatron/core/transformer/pipeline_parallel_layer_layout.py`): `E` the embedding, `t` a
/// transformer layer, `m` an MTP module, `L` the loss, `|` between consecutive chunks (`pp × vpp` of
/// them, in model order), `x*n` and `(…)*n` repetition, commas ignored. Checked as Megatron checks it:
/// one `E` opening the first chunk, one `L` closing the last, `layers` transformer layers, no layer
/// after an MTP module. wanka runs MTP modules with the loss, so they must sit in the last chunk
/// (Megatron also allows them on the last virtual chunk of another stage; not modelled).
pub fn parse_pipeline_layout(layout: &str, layers: u32, mtp_layers: u32, chunks: u64) -> Result<Vec<u32>, String> {
    let expanded = expand_layout(layout)?;
    let stages: Vec<&str> = expanded.split('|').collect();
    if stages.len() as u64 != chunks {
        return Err(format!("{} chunks written, the plan has pp·vpp = {chunks}", stages.len()));
    }
    let mut out = Vec::with_capacity(stages.len());
    let (mut embeddings, mut losses, mut mtp, mut decoder) = (0u32, 0u32, 0u32, 0u32);
    for (i, stage) in stages.iter().enumerate() {
        let mut n = 0u32;
        for (j, c) in stage.chars().enumerate() {
            match c {
                'E' => {
                    if i != 0 || j != 0 {
                        return Err("the embedding `E` must open the first chunk".into());
                    }
                    embeddings += 1;
                }
                'L' => {
                    if i + 1 != stages.len() || j + 1 != stage.chars().count() {
                        return Err("the loss `L` must close the last chunk".into());
                    }
                    losses += 1;
                }
                'm' => {
                    if i + 1 != stages.len() {
                        return Err("MTP modules `m` must be in the last chunk (wanka runs them with the loss)".into());
                    }
                    mtp += 1;
                }
                't' => {
                    if mtp > 0 {
                        return Err("transformer layers must come before the MTP modules".into());
                    }
                    n += 1;
                    decoder += 1;
                }
                other => return Err(format!("`{other}` is not a layer character")),
            }
        }
        out.push(n);
    }
    if embeddings != 1 || losses != 1 {
        return Err("it needs exactly one `E` and one `L`".into());
    }
    if decoder != layers {
        return Err(format!("{decoder} transformer layers written, the model has {layers}"));
    }
    if mtp != mtp_layers {
        return Err(format!("{mtp} MTP modules written, the model has {mtp_layers}"));
    }
    Ok(out)
}

/// Virtual stages per pipeline rank a layout writes (its chunks over `pp`), when they divide evenly:
/// Megatron-core takes the virtual pipeline size from the layout when it is not given.
pub fn layout_vpp(layout: &str, pp: u32) -> Option<u32> {
    let chunks = expand_layout(layout).ok()?.split('|').count() as u32;
    (pp > 0 && chunks.is_multiple_of(pp)).then(|| chunks / pp)
}

/// A layout with commas and whitespace dropped and its repeats unrolled.
fn expand_layout(layout: &str) -> Result<String, String> {
    let text: String = layout.chars().filter(|c| *c != ',' && !c.is_whitespace()).collect();
    expand_layout_repeats(&text)
}

/// Unrolls `(…)*n` (innermost first) and then `x*n`, as Megatron's `parse_str_to_list` does.
fn expand_layout_repeats(text: &str) -> Result<String, String> {
    let mut s = text.to_string();
    let count = |s: &str, at: usize| -> Result<(u32, usize), String> {
        let digits: String = s[at..].chars().take_while(char::is_ascii_digit).collect();
        let n = digits.parse::<u32>().map_err(|_| "`*` must be followed by a count".to_string())?;
        if n > 10_000 {
            return Err(format!("repeat count {n} is too large"));
        }
        Ok((n, at + digits.len()))
    };
    // Parenthesised groups: the first `)` closes the innermost group.
    while let Some(close) = s.find(')') {
        let open = s[..close].rfind('(').ok_or("unbalanced `)`")?;
        let group = s[open + 1..close].to_string();
        let (n, end) = if s[close + 1..].starts_with('*') { count(&s, close + 2)? } else { (1, close + 1) };
        s = format!("{}{}{}", &s[..open], group.repeat(n as usize), &s[end..]);
        if s.len() > 1_000_000 {
            return Err("the layout expands to more than a million characters".into());
        }
    }
    if s.contains('(') {
        return Err("unbalanced `(`".into());
    }
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '*' {
            let prev = out.pop().ok_or("`*` must follow a layer character")?;
            let rest: String = chars[i + 1..].iter().collect();
            let (n, used) = count(&rest, 0)?;
            out.extend(std::iter::repeat_n(prev, n as usize));
            i += 1 + used;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    Ok(out)
}

impl RankOrder {
    pub fn label(self) -> &'static str {
        match self {
            RankOrder::TpCpDpPp => "tp-cp-dp-pp",
            RankOrder::TpCpPpDp => "tp-cp-pp-dp",
        }
    }
}

/// Rank distance between consecutive members of each kind of group (see [`Plan::strides`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strides {
    pub tp: u64,
    pub cp: u64,
    /// Expert tensor parallelism (the TP group of the expert GEMMs).
    pub etp: u64,
    pub ep: u64,
    /// Data-parallel replicas (the gradient all-reduce group of dense parameters).
    pub dp: u64,
    /// Expert-data-parallel replicas (the gradient group of expert parameters).
    pub edp: u64,
    /// Consecutive pipeline stages.
    pub pp: u64,
}

/// A parallelism plan as written in a scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParallelismSpec {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    #[serde(default = "one")]
    pub cp: u32,
    #[serde(default = "one")]
    pub ep: u32,
    /// Expert tensor parallelism; `None`: `tp` (Megatron-core's default). See the module docs.
    #[serde(default)]
    pub etp: Option<u32>,
    /// `None`: interleaved when `pp > 1` (the Megatron-LM recommendation), else 1F1B.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// Virtual chunks per stage for interleaved; `None`: see [`default_vpp`].
    #[serde(default)]
    pub vpp: Option<u32>,
    /// Sequences per micro-batch; `None`: 1.
    #[serde(default)]
    pub micro_batch: Option<u32>,
    /// Sequences per optimizer step across all DP replicas.
    pub global_batch: u32,
    pub recompute: Recompute,
    pub sequence_parallel: bool,
    /// 0 none, 1 optimizer states, 2 + gradients, 3 + parameters sharded over DP.
    pub zero_stage: u8,
    /// Placement of the dimensions over ranks (default Megatron-core's `TpCpDpPp`).
    #[serde(default)]
    pub rank_order: RankOrder,
    /// How layers split over the pipeline chunks (default wanka's balance; see [`PipelineSplit`]).
    #[serde(default, skip_serializing_if = "PipelineSplit::is_balanced")]
    pub pipeline_split: PipelineSplit,
    /// Modules a selective recomputation covers (`None`: the attention core alone, Megatron's
    /// default); only with `recompute: Selective`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recompute_modules: Option<Vec<RecomputeModule>>,
    /// With `recompute: Full`, recompute only the first this-many layers of every model chunk and keep
    /// the other layers' activations (Megatron-core `--recompute-method block --recompute-num-layers N`,
    /// per virtual pipeline chunk); `None`: every layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recompute_layers: Option<u32>,
    /// An explicit split in Megatron-core's `--pipeline-model-parallel-layout` syntax (e.g. DeepSeek-V3's
    /// `"Et*4|(t*4|)*14tmL"`): layers per chunk as written, instead of `pipeline_split`. See
    /// [`parse_pipeline_layout`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_layout: Option<String>,
}

fn one() -> u32 {
    1
}

/// A plan with every default filled in and every constraint checked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    /// Expert tensor parallelism (`etp · ep` divides `tp · cp · dp`).
    pub etp: u32,
    pub schedule: Schedule,
    /// Virtual chunks per stage (1 for 1F1B).
    pub vpp: u32,
    pub micro_batch: u32,
    /// Micro-batches per pipeline per step.
    pub micro_batches: u32,
    pub global_batch: u32,
    pub recompute: Recompute,
    /// What a selective recomputation covers (see [`RecomputeModule`]).
    #[serde(skip_serializing_if = "RecomputeSet::is_default")]
    pub recompute_modules: RecomputeSet,
    /// Under full recompute, the layers of every chunk recomputed (the first ones); `None`: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recompute_layers: Option<u32>,
    pub sequence_parallel: bool,
    pub zero_stage: u8,
    pub rank_order: RankOrder,
    /// Layers in each model chunk, in pipeline order: chunk `c` runs on stage `c % pp` as its virtual
    /// chunk `c / pp`. First chunk also holds the embedding, last chunk the output layer.
    pub layers_per_chunk: Vec<u32>,
}

/// A recomputation as reports print it: `none`, `selective`, `full`, or `full×N` (the first N layers
/// of every chunk).
pub fn recompute_label(recompute: Recompute, layers: Option<u32>) -> String {
    match layers {
        Some(n) if recompute == Recompute::Full => format!("full×{n}"),
        _ => recompute.label().to_string(),
    }
}

impl Plan {
    /// Whether the layer at position `index` of its model chunk is recomputed in the backward: every
    /// layer under selective or full recompute, the first `recompute_layers` under a partial one.
    pub fn recomputes(&self, index: u32) -> bool {
        self.recompute != Recompute::None && self.recompute_layers.is_none_or(|n| index < n)
    }
    /// The recomputation as reports print it (see [`recompute_label`]).
    pub fn recompute_label(&self) -> String {
        recompute_label(self.recompute, self.recompute_layers)
    }
    pub fn gpus(&self) -> u64 {
        u64::from(self.tp) * u64::from(self.pp) * u64::from(self.dp) * u64::from(self.cp)
    }
    pub fn chunks(&self) -> u32 {
        self.pp * self.vpp
    }
    /// Stage that runs chunk `c` (under DualPipe, of the forward direction; see [`Plan::holds_chunk`]).
    pub fn stage_of_chunk(&self, c: u32) -> u32 {
        c % self.pp
    }
    /// Whether stage `s` holds chunk `c`: its own, and under DualPipe also the mirrored chunk of the
    /// reverse direction.
    pub fn holds_chunk(&self, s: u32, c: u32) -> bool {
        self.stage_of_chunk(c) == s || (self.schedule == Schedule::DualPipe && self.pp - 1 - c == s)
    }
    /// Rank distances of each group kind under the plan's rank order.
    pub fn strides(&self) -> Strides {
        let (tp, cp, pp, dp, ep) = (u64::from(self.tp), u64::from(self.cp), u64::from(self.pp), u64::from(self.dp), u64::from(self.ep));
        let etp = u64::from(self.etp);
        match self.rank_order {
            // Folded: the expert dimensions `etp-ep-edp` over the stage's contiguous block of tp·cp·dp ranks.
            RankOrder::TpCpDpPp => Strides { tp: 1, cp: tp, etp: 1, ep: etp, dp: tp * cp, edp: etp * ep, pp: tp * cp * dp },
            RankOrder::TpCpPpDp => {
                Strides { tp: 1, cp: tp, etp: 1, ep: tp * cp * pp, dp: tp * cp * pp, edp: tp * cp * pp * ep, pp: tp * cp }
            }
        }
    }
    /// The groups whose collectives run on the scale-up links when they fit in one domain — TP, expert
    /// TP and EP — as `(name, members, span)`: the span is the block of consecutive ranks that the
    /// groups of that kind tile (`stride · members`). Placement keeps whole blocks inside a domain;
    /// CP, PP and DP groups may cross domains.
    pub fn domain_groups(&self) -> Vec<(&'static str, u64, u64)> {
        let st = self.strides();
        let (tp, etp, ep) = (u64::from(self.tp), u64::from(self.etp), u64::from(self.ep));
        let mut groups = vec![("TP", tp, st.tp * tp)];
        if ep > 1 || etp != tp {
            groups.push(("ETP", etp, st.etp * etp));
            groups.push(("EP", ep, st.ep * ep));
        }
        groups.retain(|g| g.1 > 1);
        groups
    }
    /// Expert-data-parallel replicas: ranks holding the same experts (`tp·cp·dp / (etp·ep)`).
    pub fn edp(&self) -> u64 {
        (u64::from(self.tp) * u64::from(self.cp) * u64::from(self.dp) / (u64::from(self.etp) * u64::from(self.ep))).max(1)
    }
    /// Layers held by stage `s` (all its virtual chunks; both directions' under DualPipe).
    pub fn layers_on_stage(&self, s: u32) -> u32 {
        (0..self.chunks()).filter(|c| self.holds_chunk(s, *c)).map(|c| self.layers_per_chunk[c as usize]).sum()
    }
}

/// Default virtual chunks for interleaved schedules: the largest `v ≤ 4` with `layers / (pp·v)` a whole
/// number; when `pp` does not divide the layers, `min(4, layers / pp)` with uneven chunks. The same
/// rule for every scenario and validation case.
pub fn default_vpp(layers: u32, pp: u32) -> u32 {
    if pp <= 1 {
        return 1;
    }
    let per_stage = layers / pp;
    if layers.is_multiple_of(pp) { (1..=4).rev().find(|v| per_stage.is_multiple_of(*v)).unwrap_or(1) } else { per_stage.clamp(1, 4) }
}

/// Fill defaults and check constraints. `gpus` is the cluster size; `logits_layer_equiv` is the output
/// layer's cost in units of one transformer layer (used to balance uneven stages).
pub fn resolve(
    spec: &ParallelismSpec,
    model: &ModelSpec,
    seq_len: u32,
    gpus: u64,
    logits_layer_equiv: f64,
) -> Result<Plan, Vec<Violation>> {
    let mut why = Vec::new();
    for (name, v) in
        [("tp", spec.tp), ("pp", spec.pp), ("dp", spec.dp), ("cp", spec.cp), ("ep", spec.ep), ("global_batch", spec.global_batch)]
    {
        if v == 0 {
            why.push(Violation::ZeroSize { name });
        }
    }
    if !why.is_empty() {
        return Err(why);
    }
    let product = u64::from(spec.tp) * u64::from(spec.pp) * u64::from(spec.dp) * u64::from(spec.cp);
    if product != gpus {
        why.push(Violation::DeviceCount { tp: spec.tp, pp: spec.pp, dp: spec.dp, cp: spec.cp, product, gpus });
    }
    if !model.heads.is_multiple_of(spec.tp) {
        why.push(Violation::HeadsTp { heads: model.heads, tp: spec.tp });
    }
    if !model.kv_heads.is_multiple_of(spec.tp) && !spec.tp.is_multiple_of(model.kv_heads) {
        why.push(Violation::KvHeadsTp { kv_heads: model.kv_heads, tp: spec.tp });
    }
    if !model.ffn_hidden.is_multiple_of(spec.tp) {
        why.push(Violation::FfnTp { ffn_hidden: model.ffn_hidden, tp: spec.tp });
    }
    if !seq_len.is_multiple_of(spec.cp) {
        why.push(Violation::SeqLenCp { seq_len, cp: spec.cp });
    }
    if spec.zero_stage > 3 {
        why.push(Violation::ZeroStage { zero_stage: spec.zero_stage });
    }
    match &model.moe {
        Some(moe) => {
            if moe.experts % spec.ep != 0 {
                why.push(Violation::ExpertsEp { experts: moe.experts, ep: spec.ep });
            }
            let etp = spec.etp.unwrap_or(spec.tp);
            if etp == 0 {
                why.push(Violation::ZeroSize { name: "etp" });
            } else {
                let dp_cp = u64::from(spec.dp) * u64::from(spec.cp);
                let folded = u64::from(spec.tp) * dp_cp;
                match spec.rank_order {
                    RankOrder::TpCpDpPp if folded % (u64::from(etp) * u64::from(spec.ep)) != 0 => {
                        why.push(Violation::EpFold { ep: spec.ep, etp, tp_cp_dp: folded })
                    }
                    RankOrder::TpCpPpDp if etp != spec.tp => why.push(Violation::EtpRankOrder { etp, tp: spec.tp }),
                    RankOrder::TpCpPpDp if dp_cp % u64::from(spec.ep) != 0 => why.push(Violation::EpDpCp { ep: spec.ep, dp_cp }),
                    _ => {}
                }
                if moe.expert_ffn_hidden % etp != 0 {
                    why.push(Violation::ExpertFfnEtp { expert_ffn_hidden: moe.expert_ffn_hidden, etp });
                }
            }
        }
        None if spec.ep != 1 => why.push(Violation::EpWithoutMoe { ep: spec.ep }),
        None if spec.etp.is_some_and(|e| e != spec.tp) => why.push(Violation::EpWithoutMoe { ep: spec.ep }),
        None => {}
    }
    let micro_batch = spec.micro_batch.unwrap_or(1);
    if micro_batch == 0 {
        why.push(Violation::MicroBatchZero);
    }
    // u64: dp·micro_batch can exceed u32 on hostile input.
    let per_replica = u64::from(spec.dp) * u64::from(micro_batch.max(1));
    if u64::from(spec.global_batch) % per_replica != 0 {
        why.push(Violation::GlobalBatchDp { global_batch: spec.global_batch, dp: spec.dp, micro_batch, per_replica });
    }
    let micro_batches = (u64::from(spec.global_batch) / per_replica.max(1)) as u32;
    let schedule = spec.schedule.unwrap_or(if spec.pp > 1 { Schedule::Interleaved } else { Schedule::OneFOneB });
    let vpp = match schedule {
        Schedule::OneFOneB => {
            if spec.vpp.is_some_and(|v| v != 1) {
                why.push(Violation::VppNeedsInterleaved);
            }
            1
        }
        // A layout fixes the chunks (Megatron derives the virtual size from it); else the default.
        Schedule::Interleaved => spec
            .vpp
            .or_else(|| spec.pipeline_layout.as_deref().and_then(|l| layout_vpp(l, spec.pp)))
            .unwrap_or_else(|| default_vpp(model.layers, spec.pp)),
        Schedule::DualPipe => {
            if spec.vpp.is_some_and(|v| v != 1) {
                why.push(Violation::VppNeedsInterleaved);
            }
            if !spec.pp.is_multiple_of(2) || micro_batches < 2 * spec.pp || !micro_batches.is_multiple_of(2) {
                why.push(Violation::DualPipeShape { pp: spec.pp, micro_batches });
            }
            1
        }
    };
    if vpp == 0 {
        why.push(Violation::VppZero);
    }
    if schedule == Schedule::Interleaved && spec.pp > 1 && vpp > 1 && !micro_batches.is_multiple_of(spec.pp) {
        why.push(Violation::InterleavedMicroBatches { micro_batches, pp: spec.pp });
    }
    if spec.recompute_modules.is_some() && spec.recompute != Recompute::Selective {
        why.push(Violation::RecomputeModulesNeedSelective);
    }
    if let Some(n) = spec.recompute_layers.filter(|&n| n == 0 || spec.recompute != Recompute::Full) {
        why.push(Violation::RecomputeLayers { layers: n });
    }
    let chunks = u64::from(spec.pp) * u64::from(vpp.max(1));
    let counted = match (&spec.pipeline_layout, spec.pipeline_split) {
        (Some(layout), split) => {
            let parsed = if split.is_balanced() {
                parse_pipeline_layout(layout, model.layers, model.mtp_layers, chunks)
            } else {
                Err("give either pipeline_layout or pipeline_split, not both".into())
            };
            match parsed {
                Ok(c) => Some(c),
                Err(reason) => {
                    why.push(Violation::PipelineLayout { layout: layout.clone(), why: reason });
                    None
                }
            }
        }
        (None, PipelineSplit::Balanced) => None,
        (None, split) => {
            let c = u32::try_from(chunks).ok().and_then(|c| counted_split(model.layers, c, split));
            if c.is_none() {
                let (first, last) = split.ends();
                why.push(Violation::PipelineSplitUneven { layers: model.layers, counted: first + last, chunks });
            }
            c
        }
    };
    if counted.is_none() && u64::from(model.layers) < chunks {
        why.push(Violation::TooFewLayers { layers: model.layers, chunks });
    }
    if !why.is_empty() {
        return Err(why);
    }
    Ok(Plan {
        tp: spec.tp,
        pp: spec.pp,
        dp: spec.dp,
        cp: spec.cp,
        ep: spec.ep,
        etp: spec.etp.unwrap_or(spec.tp),
        schedule,
        vpp,
        micro_batch,
        micro_batches,
        global_batch: spec.global_batch,
        recompute: spec.recompute,
        recompute_modules: spec.recompute_modules.as_deref().map(RecomputeSet::of).unwrap_or_default(),
        recompute_layers: spec.recompute_layers,
        sequence_parallel: spec.sequence_parallel,
        zero_stage: spec.zero_stage,
        rank_order: spec.rank_order,
        layers_per_chunk: counted.unwrap_or_else(|| balance_layers_memo(model.layers, chunks as u32, logits_layer_equiv)),
    })
}

/// [`balance_layers`] remembered per thread: a search resolves tens of thousands of plans over a
/// handful of `(layers, chunks, logits cost)` triples, and the split is a pure function of them.
fn balance_layers_memo(layers: u32, chunks: u32, logits_cost: f64) -> Vec<u32> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static SPLITS: RefCell<HashMap<(u32, u32, u64), Vec<u32>>> = RefCell::new(HashMap::new());
    }
    let key = (layers, chunks, logits_cost.to_bits());
    SPLITS.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(v) = m.get(&key) {
            return v.clone();
        }
        let v = balance_layers(layers, chunks, logits_cost);
        // A bound on what a long-lived process (the GUI) keeps: a few hundred triples per model.
        if m.len() >= 4096 {
            m.clear();
        }
        m.insert(key, v.clone());
        v
    })
}

/// Split `layers` over `chunks` contiguous chunks, minimising the largest chunk cost when the last chunk
/// also carries the output layer (`logits_cost` layer-equivalents). Every chunk keeps at least one layer.
/// With Llama 3 405B (126 layers, 16×4 chunks) this removes a layer from the first and last chunks, as
/// Meta did.
pub fn balance_layers(layers: u32, chunks: u32, logits_cost: f64) -> Vec<u32> {
    let n = chunks as usize;
    let extra = |c: usize| if c + 1 == n { logits_cost } else { 0.0 };
    // Smallest cap T such that Σ max(1, ⌊T − extra_c⌋) ≥ layers.
    let count = |t: f64| -> u64 { (0..n).map(|c| ((t - extra(c) + 1e-9).floor().max(1.0)) as u64).sum() };
    let (mut lo, mut hi) = (0.0_f64, f64::from(layers) + logits_cost + 1.0);
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if count(mid) >= u64::from(layers) { hi = mid } else { lo = mid }
    }
    let mut out: Vec<u32> = (0..n).map(|c| ((hi - extra(c) + 1e-9).floor().max(1.0)) as u32).collect();
    // Remove any surplus from the costliest chunks, first occurrence from the front: deterministic.
    let mut total: u32 = out.iter().sum();
    while total > layers {
        let (idx, _) = out.iter().enumerate().filter(|(_, l)| **l > 1).map(|(c, l)| (c, f64::from(*l) + extra(c))).fold(
            (usize::MAX, f64::MIN),
            |best, cur| {
                if cur.1 > best.1 { cur } else { best }
            },
        );
        if idx == usize::MAX {
            break;
        }
        out[idx] -= 1;
        total -= 1;
    }
    // Ties go to the front, so chunk 0 (embedding, data loading) gives up a layer before a middle chunk.
    out
}

/// TP1 PP2 DP8 EP8 on 16 devices, 1F1B, micro-batch 1, global batch 64, full recomputation, ZeRO-1:
/// the expert-parallel plan of the rank-order and MoE tests.
#[cfg(test)]
pub(crate) fn moe_test_spec(rank_order: RankOrder) -> ParallelismSpec {
    ParallelismSpec {
        tp: 1,
        pp: 2,
        dp: 8,
        cp: 1,
        ep: 8,
        etp: None,
        schedule: Some(Schedule::OneFOneB),
        vpp: None,
        micro_batch: Some(1),
        global_batch: 64,
        recompute: Recompute::Full,
        sequence_parallel: false,
        zero_stage: 1,
        rank_order,
        pipeline_split: Default::default(),
        recompute_modules: None,
        recompute_layers: None,
        pipeline_layout: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::model::preset;

    fn spec(tp: u32, pp: u32, dp: u32) -> ParallelismSpec {
        ParallelismSpec {
            tp,
            pp,
            dp,
            cp: 1,
            ep: 1,
            etp: None,
            schedule: None,
            vpp: None,
            micro_batch: None,
            global_batch: 2048,
            recompute: Recompute::None,
            sequence_parallel: true,
            zero_stage: 1,
            rank_order: Default::default(),
            pipeline_split: Default::default(),
            recompute_modules: None,
            recompute_layers: None,
            pipeline_layout: None,
        }
    }

    #[test]
    fn even_split_when_divisible() {
        assert_eq!(balance_layers(96, 8, 0.0), vec![12; 8]);
        let l = balance_layers(128, 128, 0.6);
        assert!(l.iter().all(|x| *x == 1));
    }

    #[test]
    fn llama_405b_drops_layers_at_the_ends() {
        let l = balance_layers(126, 64, 0.64);
        assert_eq!(l.iter().sum::<u32>(), 126);
        assert_eq!(*l.last().unwrap(), 1, "{l:?}");
        assert_eq!(l.iter().filter(|x| **x == 1).count(), 2, "{l:?}");
    }

    #[test]
    fn megatron_counted_split_puts_embedding_and_loss_in_the_end_chunks() {
        // Qwen3-235B (94 layers) as in the Megatron-MoE model zoo config (both account-for flags).
        let both = PipelineSplit::EmbeddingAndLoss;
        let pp8v4 = counted_split(94, 32, both).unwrap();
        assert_eq!((pp8v4[0], pp8v4[1], pp8v4[31]), (2, 3, 2), "{pp8v4:?}");
        assert_eq!(pp8v4.iter().sum::<u32>(), 94);
        // PP32 VPP3: 96 units in 96 chunks, an embedding-only first and a loss-only last chunk.
        let pp32v3 = counted_split(94, 96, both).unwrap();
        assert_eq!((pp32v3[0], pp32v3[95]), (0, 0));
        assert!(pp32v3[1..95].iter().all(|l| *l == 1));
        assert_eq!(counted_split(94, 32, PipelineSplit::Loss), None, "95 units over 32 chunks");
        assert_eq!(counted_split(63, 16, PipelineSplit::Embedding).unwrap()[0], 3);
        assert_eq!(counted_split(94, 1, both), Some(vec![94]), "no pipeline: the flags change nothing");

        // Through resolve: the split that wanka's balance refuses (94 layers < 96 chunks) now resolves,
        // and an uneven count is refused with what to choose.
        let mut m = preset("llama3-70b").unwrap();
        m.layers = 94;
        let mut s = ParallelismSpec { schedule: Some(Schedule::Interleaved), vpp: Some(3), ..spec(8, 32, 4) };
        let refused = resolve(&s, &m, 8192, 1024, 0.6).unwrap_err();
        assert!(refused.iter().any(|e| matches!(e, Violation::TooFewLayers { .. })), "{refused:?}");
        s.pipeline_split = both;
        let plan = resolve(&s, &m, 8192, 1024, 0.6).unwrap();
        assert_eq!(plan.layers_per_chunk, pp32v3);
        s.vpp = Some(2);
        let uneven = resolve(&s, &m, 8192, 1024, 0.6).unwrap_err();
        assert!(uneven.iter().any(|e| e.to_string().contains("96 units do not divide evenly over pp·vpp = 64")), "{uneven:?}");
    }

    #[test]
    fn megatron_pipeline_layouts_parse_as_megatron_reads_them() {
        // The virtual size follows from the layout (Llama 3: one layer per chunk, 128 over PP16).
        let llama3 = format!("E|{}L", "t|".repeat(126));
        assert_eq!(layout_vpp(&llama3, 16), Some(8));
        assert_eq!(layout_vpp("Et*4|(t*4|)*14tmL", 16), Some(1));
        assert_eq!(layout_vpp("Et|tL", 4), None, "2 chunks over 4 stages do not divide");
        // DeepSeek-V3 in Megatron-Bridge (recipes/deepseek/deepseek_v3.py layout_map, pp 8 · vpp 2):
        // embedding + 4 layers, 14 chunks of 4, then the last layer with MTP and loss.
        let dsv3 = parse_pipeline_layout("Et*4|(t*4|)*14tmL", 61, 1, 16).unwrap();
        assert_eq!(dsv3.len(), 16);
        assert_eq!((dsv3[0], dsv3[1], dsv3[14], dsv3[15]), (4, 4, 4, 1), "{dsv3:?}");
        // The H100 layout of later releases: a chunk holding only MTP and loss.
        let h100 = parse_pipeline_layout("Et|(tt|)*30mL", 61, 1, 32).unwrap();
        assert_eq!((h100[0], h100[1], h100[30], h100[31]), (1, 2, 2, 0), "{h100:?}");
        // Megatron's own docstring example, commas and all.
        let doc = parse_pipeline_layout("Ettt|(tt|)*29,m|L", 61, 1, 32);
        assert!(doc.unwrap_err().contains("last chunk"), "wanka keeps MTP with the loss");
        assert_eq!(parse_pipeline_layout("Ettt|(tt|)*29,|mL", 61, 1, 32).unwrap()[31], 0);
        // What Megatron refuses, wanka refuses with the reason.
        for (bad, why) in [
            ("Et*4|(t*4|)*14tmL", "pp·vpp = 8"),
            ("t*4E|(t*4|)*14tmL", "must open the first chunk"),
            ("Et*4|(t*4|)*14tLm", "must close the last chunk"),
            ("Et*3|(t*4|)*14tmL", "60 transformer layers"),
            ("Et*4|(t*4|)*14tL", "0 MTP modules"),
            ("Et*4|(t*4|)*14tmtL", "before the MTP"),
            ("Et*4|(t*4|*14tmL", "unbalanced"),
            ("Ex*4|(t*4|)*14tmL", "not a layer character"),
            ("Et*|(t*4|)*14tmL", "followed by a count"),
        ] {
            let chunks = if why == "pp·vpp = 8" { 8 } else { 16 };
            let e = parse_pipeline_layout(bad, 61, 1, chunks).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        // Through resolve: the layout is the plan's split, and both knobs at once are refused.
        let m = preset("deepseek-v3-like").unwrap();
        let mut s = ParallelismSpec { schedule: Some(Schedule::Interleaved), vpp: Some(2), ep: 32, ..spec(1, 8, 32) };
        s.pipeline_layout = Some("Et*4|(t*4|)*14tmL".into());
        assert_eq!(resolve(&s, &m, 4096, 256, 0.6).unwrap().layers_per_chunk, dsv3);
        s.pipeline_split = PipelineSplit::Loss;
        let both = resolve(&s, &m, 4096, 256, 0.6).unwrap_err();
        assert!(both.iter().any(|e| e.to_string().contains("not both")), "{both:?}");
    }

    #[test]
    fn recompute_modules_need_selective_recompute() {
        let m = preset("llama3-70b").unwrap();
        let mut s = ParallelismSpec { recompute_modules: Some(vec![RecomputeModule::LayerNorm]), ..spec(8, 1, 64) };
        let err = resolve(&s, &m, 8192, 512, 0.6).unwrap_err();
        assert!(err.iter().any(|e| matches!(e, Violation::RecomputeModulesNeedSelective)), "{err:?}");
        s.recompute = Recompute::Selective;
        let plan = resolve(&s, &m, 8192, 512, 0.6).unwrap();
        assert!(plan.recompute_modules.has(RecomputeModule::LayerNorm) && !plan.recompute_modules.has(RecomputeModule::CoreAttn));
        assert_eq!(plan.recompute_modules.label(), "layernorm");
        assert_eq!(resolve(&spec(8, 1, 64), &m, 8192, 512, 0.6).unwrap().recompute_modules, RecomputeSet::default());
    }

    #[test]
    fn constraint_violations_are_named() {
        let m = preset("llama3-405b").unwrap();
        let err = resolve(&spec(3, 16, 64), &m, 8192, 8192, 0.6).unwrap_err();
        assert!(err.iter().any(|e| e.to_string().contains("heads (128) not divisible by tp (3)")), "{err:?}");
        assert!(err.iter().any(|e| e.to_string().contains("must equal the cluster")), "{err:?}");
        let ok = resolve(&spec(8, 16, 64), &m, 8192, 8192, 0.6).unwrap();
        assert_eq!(ok.schedule, Schedule::Interleaved);
        assert_eq!(ok.micro_batches, 32);
        assert_eq!(ok.vpp, 4);
    }

    #[test]
    fn default_vpp_rule() {
        assert_eq!(default_vpp(105, 35), 3);
        assert_eq!(default_vpp(128, 64), 2);
        assert_eq!(default_vpp(96, 16), 3);
        assert_eq!(default_vpp(80, 8), 2);
        assert_eq!(default_vpp(126, 16), 4);
    }

    #[test]
    fn rank_order_strides() {
        let m = crate::workload::model::preset("mixtral-8x7b").unwrap();
        // Megatron: expert and data-parallel peers next to each other, pipeline stages 8 ranks apart.
        let megatron = resolve(&moe_test_spec(RankOrder::TpCpDpPp), &m, 2048, 16, 0.0).unwrap();
        assert_eq!(megatron.strides(), Strides { tp: 1, cp: 1, etp: 1, ep: 1, dp: 1, edp: 8, pp: 8 });
        // Llama 3: pipeline neighbours adjacent, data parallelism outermost.
        let meta = resolve(&moe_test_spec(RankOrder::TpCpPpDp), &m, 2048, 16, 0.0).unwrap();
        assert_eq!(meta.strides(), Strides { tp: 1, cp: 1, etp: 1, ep: 2, dp: 2, edp: 16, pp: 1 });
    }

    /// MoE parallel folding (arXiv 2504.14960): Qwen3-235B's published H100 layout TP2 × PP8 × DP16
    /// with EP32 folds the experts over all 32 ranks of a stage (ETP1), which the older EP-inside-DP
    /// layout cannot express; ETP = TP keeps EP inside DP.
    #[test]
    fn moe_parallel_folding() {
        let m = preset("qwen3-235b-a22b").unwrap();
        let mut s = spec(2, 8, 16);
        s.ep = 32;
        s.etp = Some(1);
        s.sequence_parallel = true;
        let p = resolve(&s, &m, 4096, 256, 0.0).unwrap();
        assert_eq!((p.etp, p.edp()), (1, 1));
        assert_eq!(p.strides(), Strides { tp: 1, cp: 2, etp: 1, ep: 1, dp: 2, edp: 32, pp: 32 });
        s.etp = None; // ETP = TP = 2: 2 × 32 does not divide 32 ranks.
        let err = resolve(&s, &m, 4096, 256, 0.0).unwrap_err();
        assert!(err.iter().any(|e| e.to_string().contains("etp·ep (2·32) must divide tp·cp·dp (32)")), "{err:?}");
        s.ep = 8; // ETP2 × EP8 × EDP2.
        let p = resolve(&s, &m, 4096, 256, 0.0).unwrap();
        assert_eq!((p.etp, p.edp(), p.strides().ep, p.strides().edp), (2, 2, 2, 16));
    }
}
