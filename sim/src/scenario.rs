//! Scenario files (RON): a model, a cluster, a parallelism plan, the training goal and the software
//! stack; later sections (failures, checkpointing) drive the training-run simulator.
//!
//! Only the model, the chip, the device count and the tokens are required; every other field takes a
//! documented default ([`ScenarioSrc`] is the file as written, with every optional field open), and
//! the scenario keeps one note per default it filled ([`Scenario::defaults`]), which reports print:
//!
//! | field | default |
//! |---|---|
//! | `name` | `"<model> on <gpus> <chip>"` |
//! | `cluster.gpus_per_node` | 8, or the chip's scale-up domain when smaller (built-in catalog) |
//! | `cluster.network` | `fabric: "ib-ndr"` (InfiniBand NDR 400G), `topology: "generic-fat-tree"` |
//! | `cluster.network.nic_gbit_per_s_per_gpu` | the fabric's line rate (one NIC per device; built-in catalog) |
//! | `parallelism.tp` | the largest power of two ≤ `min(8, gpus_per_node)` that divides `gpus`; 1 under a stack without TP |
//! | `parallelism.pp` | 1 |
//! | `parallelism.dp` | `gpus / (tp·pp·cp)` (derived; an error when it does not divide) |
//! | `parallelism.global_batch` | ≈ 4M tokens per step: `ceil(4,194,304 / seq_len / (dp·micro_batch))·dp·micro_batch` sequences |
//! | `parallelism.recompute` | `Selective`; `Full` under a stack without selective recomputation |
//! | `parallelism.sequence_parallel` | `tp > 1`, when the stack implements it |
//! | `parallelism.zero_stage` | 1 (optimizer states sharded over DP: Megatron's distributed optimizer); under a stack without ZeRO-1, its largest stage |
//! | `parallelism.schedule` | interleaved when `pp > 1` (see `parallelism::resolve`); `OneFOneB` under a stack without interleaving |
//!
//! `parallelism: (auto: true, tp: 8, …)` searches the parallelism instead ([`AutoParallelism`]: the
//! knobs written are pins, `dp` is refused, the rest is searched by `planning::auto`).
//!
//! The stack's defaults come from its `supports` in `scenarios/catalog/stacks.ron` ([`StackSupport`]).
//! | `training.seq_len` | 4096 |
//!
//! This module is the file format only: loading checks RON syntax (file, line, column), unknown
//! fields and the field-level constraints that need no catalog. Resolving against the catalog and
//! simulating live downstream: `Scenario::resolve` and `Scenario::simulate_step` in [`crate::step`],
//! `Scenario::run_inputs`, `simulate_run` and `run_event_log` in [`crate::run::inputs`].

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::WankaError;
use crate::hardware::topology::{ClusterSpec, NetworkSpec};
use crate::ron_util::{parse_ron, read_file};
use crate::run::RunSpec;
use crate::step::cost::FrameworkSpec;
use crate::step::stack::StackSupport;
use crate::workload::model::ModelRef;
use crate::workload::parallelism::{ParallelismSpec, PipelineSplit, RankOrder, Recompute, RecomputeModule, Schedule};

/// What to train.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    /// Sequence length in tokens.
    pub seq_len: u32,
    /// Tokens to train on (the run simulator's target).
    pub tokens: f64,
}

/// A complete scenario: every default filled (it is read through [`ScenarioSrc`], so a file may omit
/// what has a default; it is written out complete).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(try_from = "ScenarioSrc")]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub model: ModelRef,
    pub cluster: ClusterSpec,
    /// The plan simulated. Under `auto` it is a stand-in (the pins over the file defaults) until
    /// `planning::auto::search_scenario` puts the searched plan here.
    pub parallelism: ParallelismSpec,
    /// `parallelism: (auto: true, …)`: the parallelism is searched, with the knobs the file wrote as
    /// pins; `None`: `parallelism` is the plan as written (with its defaults).
    pub auto: Option<AutoParallelism>,
    pub training: TrainingSpec,
    /// Software stack; omitted = [`FrameworkSpec::default`].
    #[serde(default)]
    pub framework: FrameworkSpec,
    /// Training-run section (failures, recovery, checkpoints); omitted = the documented defaults.
    #[serde(default)]
    pub run: RunSpec,
    /// Seed of every random stream of the run (default 1).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The defaults filled when the file was read, one note each (`field = value (why)`); not part
    /// of the file and ignored by `==`.
    #[serde(skip)]
    pub defaults: DefaultsFilled,
}

/// The notes of the defaults a scenario file left to wanka; equal to every other (a scenario written
/// out complete and read back is the same scenario).
#[derive(Debug, Clone, Default)]
pub struct DefaultsFilled(pub Vec<String>);

impl PartialEq for DefaultsFilled {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

fn default_seed() -> u64 {
    1
}

/// A scenario whose parallelism is searched (`parallelism: (auto: true, …)`): the knobs the file
/// wrote are pins (one value each, as a plan file's `parallelism: (tp: Some([8]))` pins), every other
/// knob is searched over the planner's default range (`planning::search::default_space`); DP is what
/// is left. `global_batch` written: exactly that many sequences; omitted: about
/// [`DEFAULT_BATCH_TOKENS`] tokens (within `planning::search::BATCH_TOLERANCE`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AutoParallelism {
    pub tp: Option<u32>,
    pub pp: Option<u32>,
    pub cp: Option<u32>,
    pub ep: Option<u32>,
    pub etp: Option<u32>,
    pub schedule: Option<Schedule>,
    pub vpp: Option<u32>,
    pub micro_batch: Option<u32>,
    pub global_batch: Option<u32>,
    pub recompute: Option<Recompute>,
    pub sequence_parallel: Option<bool>,
    pub zero_stage: Option<u8>,
    pub rank_order: Option<RankOrder>,
    /// What the search found, once searched (not part of the file; ignored by `==`).
    pub searched: Searched,
}

/// The outcome of an auto scenario's search: `None` until searched.
#[derive(Debug, Clone, Default)]
pub struct Searched(pub Option<SearchSummary>);

impl PartialEq for Searched {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// How an auto scenario's plan was chosen (the `parallelism_search` of `wanka step --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchSummary {
    /// The chosen plan in words.
    pub parallelism: String,
    pub search_enumerated: u64,
    pub search_feasible: u64,
    pub search_simulated: u64,
    /// The chosen plan's rank by the closed-form screen (1 = the screen's best).
    pub screen_rank: u64,
}

/// The file form of `parallelism`: the plan, or `auto: true` with the pins.
#[derive(Serialize)]
#[serde(untagged)]
enum ParallelismOut<'a> {
    Spec(&'a ParallelismSpec),
    Auto(&'a AutoParallelism),
}

/// Written as the file says it: `(auto: true, tp: 8, …)`, only the pins.
impl Serialize for AutoParallelism {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = ser.serialize_struct("ParallelismSpec", 14)?;
        st.serialize_field("auto", &true)?;
        macro_rules! pin {
            ($($f:ident),*) => {$(
                match &self.$f {
                    Some(v) => st.serialize_field(stringify!($f), v)?,
                    None => st.skip_field(stringify!($f))?,
                }
            )*};
        }
        pin!(tp, pp, cp, ep, etp, schedule, vpp, micro_batch, global_batch, recompute, sequence_parallel, zero_stage, rank_order);
        st.end()
    }
}

/// Written out complete, as the file reads back (`parallelism` as the plan, or as `auto: true` and
/// its pins).
impl Serialize for Scenario {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = ser.serialize_struct("Scenario", 9)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("description", &self.description)?;
        st.serialize_field("model", &self.model)?;
        st.serialize_field("cluster", &self.cluster)?;
        match &self.auto {
            None => st.serialize_field("parallelism", &ParallelismOut::Spec(&self.parallelism))?,
            Some(a) => st.serialize_field("parallelism", &ParallelismOut::Auto(a))?,
        }
        st.serialize_field("training", &self.training)?;
        st.serialize_field("framework", &self.framework)?;
        st.serialize_field("run", &self.run)?;
        st.serialize_field("seed", &self.seed)?;
        st.end()
    }
}

/// Tokens per step the default global batch aims at (4 Mi: GPT-3 and Llama 2 scale batches).
pub const DEFAULT_BATCH_TOKENS: u64 = 4 * 1024 * 1024;
/// Sequence length when `training.seq_len` is omitted.
pub const DEFAULT_SEQ_LEN: u32 = 4096;
/// Scale-out fabric when `cluster.network` is omitted.
pub const DEFAULT_FABRIC: &str = "ib-ndr";
/// Topology template when `cluster.network.topology` is omitted.
pub const DEFAULT_TOPOLOGY: &str = "generic-fat-tree";

/// A scenario file as written: [`Scenario`]'s fields, with every field that has a default open.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub struct ScenarioSrc {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    pub model: ModelRef,
    pub cluster: ClusterSrc,
    #[serde(default)]
    pub parallelism: ParallelismSrc,
    pub training: TrainingSrc,
    #[serde(default)]
    pub framework: FrameworkSpec,
    #[serde(default)]
    pub run: RunSpec,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

/// `cluster` as written ([`ClusterSpec`] with defaults open).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "ClusterSpec")]
pub struct ClusterSrc {
    pub chip: String,
    pub gpus: u32,
    #[serde(default)]
    pub gpus_per_node: Option<u32>,
    #[serde(default)]
    pub usable_per_domain: Option<u32>,
    #[serde(default)]
    pub network: NetworkSrc,
}

/// `cluster.network` as written ([`NetworkSpec`] with defaults open).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename = "NetworkSpec")]
pub struct NetworkSrc {
    #[serde(default)]
    pub fabric: Option<String>,
    #[serde(default)]
    pub nic_gbit_per_s_per_gpu: Option<f64>,
    #[serde(default)]
    pub topology: Option<String>,
}

/// `parallelism` as written ([`ParallelismSpec`] with defaults open).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename = "ParallelismSpec")]
pub struct ParallelismSrc {
    /// Search the parallelism ([`AutoParallelism`]); the other fields written are its pins.
    #[serde(default)]
    pub auto: bool,
    #[serde(default)]
    pub tp: Option<u32>,
    #[serde(default)]
    pub pp: Option<u32>,
    #[serde(default)]
    pub dp: Option<u32>,
    #[serde(default)]
    pub cp: Option<u32>,
    #[serde(default)]
    pub ep: Option<u32>,
    /// Expert tensor parallelism; omitted: `tp` (Megatron-core's default).
    #[serde(default)]
    pub etp: Option<u32>,
    #[serde(default)]
    pub schedule: Option<Schedule>,
    #[serde(default)]
    pub vpp: Option<u32>,
    #[serde(default)]
    pub micro_batch: Option<u32>,
    #[serde(default)]
    pub global_batch: Option<u32>,
    /// Not `Option`: with RON's implicit `Some`, `recompute: None` must stay [`Recompute::None`].
    #[serde(default)]
    pub recompute: Given<Recompute>,
    #[serde(default)]
    pub sequence_parallel: Option<bool>,
    #[serde(default)]
    pub zero_stage: Option<u8>,
    #[serde(default)]
    pub rank_order: Option<RankOrder>,
    /// How layers split over the pipeline chunks (default `Balanced`; see [`PipelineSplit`]).
    #[serde(default)]
    pub pipeline_split: PipelineSplit,
    /// Modules a selective recomputation covers (default: the attention core; see [`RecomputeModule`]).
    #[serde(default)]
    pub recompute_modules: Option<Vec<RecomputeModule>>,
    /// With `recompute: Full`, the first this-many layers of every model chunk are recomputed (Megatron
    /// `--recompute-method block --recompute-num-layers N`); omitted: every layer.
    #[serde(default)]
    pub recompute_layers: Option<u32>,
    /// An explicit split in Megatron-core's `--pipeline-model-parallel-layout` syntax (instead of
    /// `pipeline_split`; see [`crate::workload::parallelism::parse_pipeline_layout`]).
    #[serde(default)]
    pub pipeline_layout: Option<String>,
}

/// A field that is either written (`Some`) or omitted (`None`, via `#[serde(default)]`), read as the
/// bare value: unlike `Option<T>` it does not take RON's `None`/`Some(…)`, so an enum with a `None`
/// variant (recompute) keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Given<T>(pub Option<T>);

impl<T> Default for Given<T> {
    fn default() -> Self {
        Given(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Given<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Given(Some(v)))
    }
}

/// `training` as written ([`TrainingSpec`] with defaults open).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "TrainingSpec")]
pub struct TrainingSrc {
    #[serde(default)]
    pub seq_len: Option<u32>,
    pub tokens: f64,
}

impl TryFrom<ScenarioSrc> for Scenario {
    type Error = String;

    /// Fill every open field with its documented default (module docs), noting each one.
    fn try_from(src: ScenarioSrc) -> Result<Scenario, String> {
        let mut notes = Vec::new();
        let mut note = |field: &str, value: String| notes.push(format!("{field} = {value}"));
        let builtin = crate::hardware::catalog::Catalog::builtin();
        let c = &src.cluster;
        let gpus_per_node = match c.gpus_per_node {
            Some(n) => n,
            None => {
                let domain = builtin.chips.get(&c.chip).map_or(8, |chip| chip.scale_up_domain);
                let n = domain.clamp(1, 8);
                note("cluster.gpus_per_node", format!("{n} (default: 8, or the chip's scale-up domain when smaller)"));
                n
            }
        };
        let fabric = match &c.network.fabric {
            Some(f) => f.clone(),
            None => {
                note("cluster.network.fabric", format!("{DEFAULT_FABRIC:?} (default)"));
                DEFAULT_FABRIC.to_string()
            }
        };
        let nic = match c.network.nic_gbit_per_s_per_gpu {
            Some(x) => x,
            None => {
                let Some(f) = builtin.fabrics.get(&fabric) else {
                    return Err(format!(
                        "field `cluster.network.nic_gbit_per_s_per_gpu`: required for fabric `{fabric}`, which is not in the \
                         built-in catalog (the default is the built-in fabric's line rate)"
                    ));
                };
                let x = f.gbit_per_s_per_direction;
                note("cluster.network.nic_gbit_per_s_per_gpu", format!("{x} (default: the line rate of `{fabric}`, one NIC per device)"));
                x
            }
        };
        let topology = match &c.network.topology {
            Some(t) => t.clone(),
            None => {
                note("cluster.network.topology", format!("{DEFAULT_TOPOLOGY:?} (default)"));
                DEFAULT_TOPOLOGY.to_string()
            }
        };
        let cluster = ClusterSpec {
            chip: c.chip.clone(),
            gpus: c.gpus,
            gpus_per_node,
            usable_per_domain: c.usable_per_domain,
            network: NetworkSpec { fabric, nic_gbit_per_s_per_gpu: nic, topology },
        };
        let seq_len = match src.training.seq_len {
            Some(n) => n,
            None => {
                note("training.seq_len", format!("{DEFAULT_SEQ_LEN} (default)"));
                DEFAULT_SEQ_LEN
            }
        };
        let training = TrainingSpec { seq_len, tokens: src.training.tokens };
        let supports = crate::step::stack::profile(&src.framework.stack).map(|p| p.supports.clone()).map_err(|e| e.to_string())?;
        let (parallelism, auto) = if src.parallelism.auto {
            let a = auto_pins(&src.parallelism)?;
            note("parallelism", "searched (auto: true): the knobs not written are searched".into());
            // A stand-in until searched: the pins over the defaults (never simulated as it is).
            let mut quiet = |_: &str, _: String| {};
            let stand_in = fill_parallelism(&src.parallelism, &cluster, seq_len, &supports, &mut quiet)
                .or_else(|_| fill_parallelism(&ParallelismSrc::default(), &cluster, seq_len, &supports, &mut quiet))
                .unwrap_or(ParallelismSpec {
                    tp: 1,
                    pp: 1,
                    dp: cluster.gpus,
                    cp: 1,
                    ep: 1,
                    etp: None,
                    schedule: None,
                    vpp: None,
                    micro_batch: None,
                    global_batch: cluster.gpus,
                    recompute: Recompute::Selective,
                    sequence_parallel: false,
                    zero_stage: 1,
                    rank_order: RankOrder::default(),
                    pipeline_split: Default::default(),
                    recompute_modules: None,
                    recompute_layers: None,
                    pipeline_layout: None,
                });
            (stand_in, Some(a))
        } else {
            (fill_parallelism(&src.parallelism, &cluster, seq_len, &supports, &mut note)?, None)
        };
        let name = match src.name {
            Some(n) => n,
            None => {
                let model = match &src.model {
                    ModelRef::Preset(id) => id.clone(),
                    ModelRef::Custom(m) => m.name.clone(),
                };
                let n = format!("{model} on {} {}", cluster.gpus, cluster.chip);
                note("name", format!("{n:?} (default)"));
                n
            }
        };
        Ok(Scenario {
            name,
            description: src.description,
            model: src.model,
            cluster,
            parallelism,
            auto,
            training,
            framework: src.framework,
            run: src.run,
            seed: src.seed,
            defaults: DefaultsFilled(notes),
        })
    }
}

/// The pins of `parallelism: (auto: true, …)`: every knob written; `dp` is what the search leaves.
fn auto_pins(p: &ParallelismSrc) -> Result<AutoParallelism, String> {
    if let Some(d) = p.dp {
        return Err(format!(
            "field `parallelism.dp`: {d} is written with `auto: true`, where DP is what the search leaves \
             (devices / (tp·pp·cp)): remove dp, or remove `auto: true` to give the whole plan"
        ));
    }
    if !p.pipeline_split.is_balanced() || p.recompute_modules.is_some() || p.pipeline_layout.is_some() {
        let f = if p.recompute_modules.is_some() {
            "recompute_modules"
        } else if p.pipeline_layout.is_some() {
            "pipeline_layout"
        } else {
            "pipeline_split"
        };
        return Err(format!(
            "field `parallelism.{f}`: not a pin the search takes yet (with `auto: true` every plan uses the \
             balanced split and the attention-core selective recompute): remove it, or remove `auto: true` and give the whole plan"
        ));
    }
    Ok(AutoParallelism {
        tp: p.tp,
        pp: p.pp,
        cp: p.cp,
        ep: p.ep,
        etp: p.etp,
        schedule: p.schedule,
        vpp: p.vpp,
        micro_batch: p.micro_batch,
        global_batch: p.global_batch,
        recompute: p.recompute.0,
        sequence_parallel: p.sequence_parallel,
        zero_stage: p.zero_stage,
        rank_order: p.rank_order,
        searched: Searched(None),
    })
}

/// The parallelism section with its defaults filled (module docs); errors name the field.
fn fill_parallelism(
    p: &ParallelismSrc,
    cluster: &ClusterSpec,
    seq_len: u32,
    supports: &StackSupport,
    note: &mut impl FnMut(&str, String),
) -> Result<ParallelismSpec, String> {
    let gpus = cluster.gpus;
    let tp = match p.tp {
        Some(t) => t,
        None if !supports.tensor_parallel => {
            note("parallelism.tp", "1 (default: the stack has no tensor parallelism)".into());
            1
        }
        None => {
            let cap = cluster.gpus_per_node.clamp(1, 8);
            let mut t = 1u32;
            while t * 2 <= cap && gpus % (t * 2) == 0 {
                t *= 2;
            }
            note("parallelism.tp", format!("{t} (default: the largest power of two <= min(8, gpus_per_node) dividing gpus)"));
            t
        }
    };
    let pp = p.pp.unwrap_or_else(|| {
        note("parallelism.pp", "1 (default)".into());
        1
    });
    let cp = p.cp.unwrap_or(1);
    let ep = p.ep.unwrap_or(1);
    let dp = match p.dp {
        Some(d) => d,
        None => {
            let per_replica = u64::from(tp) * u64::from(pp) * u64::from(cp);
            if per_replica == 0 || u64::from(gpus) % per_replica != 0 || u64::from(gpus) < per_replica {
                return Err(format!(
                    "field `parallelism.dp`: omitted, so derived as cluster.gpus / (tp·pp·cp) = {gpus} / ({tp}·{pp}·{cp}), \
                     which is not a whole number of at least 1: set parallelism.dp, or choose gpus, tp, pp and cp so that it divides"
                ));
            }
            let d = (u64::from(gpus) / per_replica) as u32;
            note("parallelism.dp", format!("{d} (derived: gpus / (tp·pp·cp) = {gpus} / ({tp}·{pp}·{cp}))"));
            d
        }
    };
    let global_batch = match p.global_batch {
        Some(b) => b,
        None => {
            let unit = u64::from(dp).max(1) * u64::from(p.micro_batch.unwrap_or(1).max(1));
            let sequences = DEFAULT_BATCH_TOKENS.div_ceil(u64::from(seq_len.max(1)));
            let b = sequences.div_ceil(unit).max(1) * unit;
            let b = u32::try_from(b)
                .map_err(|_| format!("field `parallelism.global_batch`: the default ({b} sequences) is too large; set it"))?;
            note(
                "parallelism.global_batch",
                format!("{b} (default: about {DEFAULT_BATCH_TOKENS} tokens per step, a multiple of dp·micro_batch = {unit})"),
            );
            b
        }
    };
    // Defaults are what the named stack implements (its `supports` in stacks.ron): a 2021 stack
    // recomputes whole layers, DeepSpeed's pipeline engine runs 1F1B, FSDP stacks shard fully.
    let recompute = p.recompute.0.unwrap_or_else(|| {
        if supports.recompute.contains(&Recompute::Selective) {
            note("parallelism.recompute", "Selective (default)".into());
            Recompute::Selective
        } else {
            note("parallelism.recompute", "Full (default: the stack has no selective recomputation)".into());
            Recompute::Full
        }
    });
    let sequence_parallel = p.sequence_parallel.unwrap_or_else(|| {
        let sp = tp > 1 && supports.sequence_parallel;
        note("parallelism.sequence_parallel", format!("{sp} (default: tp > 1 and the stack implements it)"));
        sp
    });
    let zero_stage = p.zero_stage.unwrap_or_else(|| {
        if supports.zero_stages.contains(&1) && (pp == 1 || supports.max_zero_stage_with_pp >= 1) {
            note("parallelism.zero_stage", "1 (default: optimizer states sharded over DP)".into());
            1
        } else {
            let cap = if pp > 1 { supports.max_zero_stage_with_pp } else { 3 };
            let z = supports.zero_stages.iter().copied().filter(|z| *z <= cap).max().unwrap_or(0);
            note("parallelism.zero_stage", format!("{z} (default: the stack's largest stage, as it has no ZeRO-1)"));
            z
        }
    });
    let schedule = match p.schedule {
        None if pp > 1 && !supports.schedules.contains(&Schedule::Interleaved) => {
            note("parallelism.schedule", "OneFOneB (default: the stack has no interleaved schedule)".into());
            Some(Schedule::OneFOneB)
        }
        other => other,
    };
    Ok(ParallelismSpec {
        tp,
        pp,
        dp,
        cp,
        ep,
        etp: p.etp,
        schedule,
        vpp: p.vpp,
        micro_batch: p.micro_batch,
        global_batch,
        recompute,
        sequence_parallel,
        zero_stage,
        rank_order: p.rank_order.unwrap_or_default(),
        pipeline_split: p.pipeline_split,
        recompute_modules: p.recompute_modules.clone(),
        recompute_layers: p.recompute_layers,
        pipeline_layout: p.pipeline_layout.clone(),
    })
}

impl Scenario {
    /// Read and check a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, WankaError> {
        let text = read_file(path)?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parse and check scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, WankaError> {
        let s: Scenario = parse_ron(text, file)?;
        s.check(file)?;
        Ok(s)
    }

    /// Field-level checks that need no catalog.
    pub fn check(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: &str, msg: String| Err(WankaError::Invalid { file: file.to_string(), field: field.to_string(), msg });
        if self.training.seq_len == 0 {
            return bad("training.seq_len", "must be at least 1 token".into());
        }
        if !(self.training.tokens > 0.0 && self.training.tokens.is_finite()) {
            return bad("training.tokens", format!("must be a positive number of tokens, got {}", self.training.tokens));
        }
        crate::limits::in_range(file, "training.tokens", self.training.tokens, 1.0, crate::limits::MAX_TOKENS, "tokens")?;
        let o = self.framework.iteration_overhead_s;
        if !(o >= 0.0 && o.is_finite()) {
            return bad("framework.iteration_overhead_s", format!("must be >= 0 seconds, got {o}"));
        }
        // A step must fit in the longest run many times over: an hour of overhead per step at most.
        crate::limits::in_range(file, "framework.iteration_overhead_s", o, 0.0, 3600.0, "seconds")?;
        let f = self.framework.moe_comm_sm_fraction;
        if !(0.0..0.9).contains(&f) {
            return bad("framework.moe_comm_sm_fraction", format!("must be in [0, 0.9), got {f}"));
        }
        self.framework.check_numbers(file, "framework")?;
        if let ModelRef::Custom(m) = &self.model {
            m.check(file)?;
        }
        self.run.check(file)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"(model: Preset("llama3-8b"), cluster: (chip: "h100-sxm", gpus: 64), training: (tokens: 1e12))"#;

    /// Omitted knobs take what the named stack implements, each said in a note.
    #[test]
    fn defaults_follow_the_stack() {
        let text = MIN.replace("training:", "parallelism: (pp: 2), framework: (stack: \"megatron-deepspeed\"), training:");
        let s = Scenario::parse(&text, "t.ron").unwrap();
        assert_eq!(s.parallelism.recompute, Recompute::Full);
        assert_eq!(s.parallelism.schedule, Some(Schedule::OneFOneB));
        assert!(!s.parallelism.sequence_parallel);
        let notes = s.defaults.0.join("\n");
        assert!(notes.contains("no selective recomputation") && notes.contains("no interleaved schedule"), "{notes}");
        let s = Scenario::parse(&MIN.replace("training:", "framework: (stack: \"megatron-lm-2021\"), training:"), "t.ron").unwrap();
        assert_eq!((s.parallelism.zero_stage, s.parallelism.recompute), (0, Recompute::Full));
        let s = Scenario::parse(&MIN.replace("training:", "framework: (stack: \"fsdp\"), training:"), "t.ron").unwrap();
        assert_eq!((s.parallelism.zero_stage, s.parallelism.tp), (3, 1));
    }

    #[test]
    fn recompute_none_is_not_a_missing_field() {
        let s = Scenario::parse(&MIN.replace("training:", "parallelism: (recompute: None), training:"), "t.ron").unwrap();
        assert_eq!(s.parallelism.recompute, Recompute::None);
        assert!(!s.defaults.0.iter().any(|n| n.starts_with("parallelism.recompute")), "{:?}", s.defaults.0);
        let s = Scenario::parse(MIN, "t.ron").unwrap();
        assert_eq!(s.parallelism.recompute, Recompute::Selective);
        assert!(s.defaults.0.iter().any(|n| n.starts_with("parallelism.recompute")));
    }

    #[test]
    fn minimal_scenario_fills_and_round_trips() {
        let s = Scenario::parse(MIN, "t.ron").unwrap();
        let p = &s.parallelism;
        assert_eq!((p.tp, p.pp, p.dp, p.zero_stage, p.sequence_parallel), (8, 1, 8, 1, true));
        assert_eq!(p.global_batch, 1024); // 4 Mi tokens / 4096 = 1024 sequences, a multiple of 8
        assert_eq!(s.cluster.network.nic_gbit_per_s_per_gpu, 400.0);
        // Written out complete, read back: the same scenario, with nothing left to fill.
        let text = crate::ron_util::to_ron_pretty(&s).unwrap();
        let back = Scenario::parse(&text, "back.ron").unwrap();
        assert_eq!(back, s);
        assert!(back.defaults.0.is_empty(), "{:?}", back.defaults.0);
        // Explicit values are kept and never noted.
        let d = Scenario::parse(&MIN.replace("gpus: 64)", "gpus: 64, gpus_per_node: 4)"), "t.ron").unwrap();
        assert_eq!(d.parallelism.tp, 4);
        assert!(!d.defaults.0.iter().any(|n| n.starts_with("cluster.gpus_per_node")));
    }

    #[test]
    fn underivable_dp_names_the_field() {
        let e = Scenario::parse(&MIN.replace("training:", "parallelism: (tp: 8, pp: 3), training:"), "t.ron").unwrap_err();
        assert!(e.to_string().contains("parallelism.dp") && e.to_string().contains("t.ron"), "{e}");
    }
}
