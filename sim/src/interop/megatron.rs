//! Megatron-LM launch arguments: a launch script (bash: `NAME=value` and `NAME=( … )` assignments,
//! `${NAME}`, `${NAME:-default}` and `${NAME[@]}` expansion, line continuations, comments; the
//! `torchrun … pretrain_gpt.py …` line) or plain argument text (`--num-layers 96 --hidden-size …`).
//! Conditional blocks (`if … fi`) are not evaluated: their lines are skipped and noted.
//!
//! Argument meanings and defaults: megatron/training/arguments.py (NVIDIA/Megatron-LM): `--ffn-hidden-size`
//! defaults to `4h` (SwiGLU: `int(4h·2/3/64)·64`), dropout to 0.1, positions to learned absolute,
//! embeddings tied, biases on; the vocabulary is padded to a multiple of `--make-vocab-size-divisible-by`
//! (128) × TP; `NullTokenizer` has `--vocab-size` + 1 tokens (its end-of-document token).

use std::collections::HashMap;

use super::{Draft, Src, Unmapped, invalid, megatron_default_ffn, padded_vocab, src, tokenizer_vocab};
use crate::error::WankaError;
use crate::scenario::Scenario;
use crate::step::stack::Precision;
use crate::workload::model::{MlaSpec, ModelSpec, MoeSpec};
use crate::workload::parallelism::{PipelineSplit, RankOrder, Recompute, RecomputeModule, Schedule};

/// One `--name value…` of the launch line, with the 1-based line of the file it was written on.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    pub values: Vec<String>,
    pub line: usize,
}

/// The arguments of a launch script or argument text; `notes` says what of the script was skipped.
pub fn parse_args(text: &str) -> (Vec<Arg>, Vec<String>) {
    let mut notes = Vec::new();
    // Logical lines: continuations joined, comments removed, with their first physical line and each
    // physical piece (so a word of a continued launch line keeps its own line number).
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut pieces: Vec<Vec<(usize, String)>> = Vec::new();
    let mut cur = String::new();
    let mut cur_pieces: Vec<(usize, String)> = Vec::new();
    let mut start = 0usize;
    for (i, raw) in text.lines().enumerate() {
        if cur.is_empty() && cur_pieces.is_empty() {
            start = i + 1;
        }
        let l = strip_comment(raw);
        if let Some(body) = l.trim_end().strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            cur_pieces.push((i + 1, body.to_string()));
            continue;
        }
        cur.push_str(&l);
        cur_pieces.push((i + 1, l));
        lines.push((start, std::mem::take(&mut cur)));
        pieces.push(std::mem::take(&mut cur_pieces));
    }
    if !cur.is_empty() {
        lines.push((start, cur));
        pieces.push(cur_pieces);
    }
    let mut scalars: HashMap<String, String> = HashMap::new();
    let mut arrays: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    let mut launch: Vec<(usize, String)> = Vec::new();
    let mut loose: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut skipped_from = 0usize;
    let mut i = 0;
    while i < lines.len() {
        let (n, l) = (&lines[i].0, lines[i].1.trim().to_string());
        i += 1;
        let first = l.split_whitespace().next().unwrap_or("");
        if first == "if" {
            if depth == 0 {
                skipped_from = *n;
            }
            depth += 1;
            continue;
        }
        if first == "fi" && depth > 0 {
            depth -= 1;
            if depth == 0 {
                notes.push(format!("lines {skipped_from}-{n}: conditional block (`if … fi`) not evaluated"));
            }
            continue;
        }
        if depth > 0 || l.is_empty() {
            continue;
        }
        let body = l.strip_prefix("export ").unwrap_or(&l).trim();
        if let Some((name, rest)) = assignment(body) {
            let append = name.ends_with('+');
            let name = name.trim_end_matches('+').to_string();
            if let Some(rest) = rest.strip_prefix('(') {
                // Array, possibly over several lines, closed by `)`.
                let mut items: Vec<(usize, String)> = Vec::new();
                let mut chunk = rest.to_string();
                let mut line_no = *n;
                loop {
                    let done = chunk.trim_end().ends_with(')');
                    let piece = if done { chunk.trim_end().trim_end_matches(')').to_string() } else { chunk.clone() };
                    for w in words(&piece) {
                        for x in expand(&w, &scalars, &arrays) {
                            items.push((line_no, x));
                        }
                    }
                    if done || i >= lines.len() {
                        break;
                    }
                    line_no = lines[i].0;
                    chunk = lines[i].1.clone();
                    i += 1;
                }
                // An element written as one quoted string ("--fp8-format hybrid") is split into words.
                let items: Vec<(usize, String)> = items
                    .into_iter()
                    .flat_map(|(ln, s)| {
                        if s.starts_with("--") {
                            s.split_whitespace().map(|w| (ln, w.to_string())).collect::<Vec<_>>()
                        } else {
                            vec![(ln, s)]
                        }
                    })
                    .collect();
                let e = arrays.entry(name).or_default();
                if !append {
                    e.clear();
                }
                e.extend(items);
            } else {
                let v = words(rest).into_iter().next().unwrap_or_default();
                let v = expand(&v, &scalars, &arrays).join(" ");
                scalars.insert(name, v);
            }
            continue;
        }
        let ws = words(body);
        let is_launch = ws.iter().any(|w| w.ends_with(".py")) || ws.first().is_some_and(|w| w == "torchrun" || w.ends_with("/torchrun"));
        let mut toks: Vec<(usize, String)> = Vec::new();
        let mut first_piece = true;
        for (ln, piece) in &pieces[i - 1] {
            let mut piece = piece.as_str();
            if first_piece {
                piece = piece.trim_start().strip_prefix("export ").unwrap_or(piece);
                first_piece = false;
            }
            for w in words(piece) {
                let unq = w.trim_matches('"');
                if let Some(name) = unq.strip_prefix("${").and_then(|r| r.strip_suffix("[@]}")) {
                    // A whole array: its elements keep the lines they were written on.
                    toks.extend(arrays.get(name).into_iter().flatten().cloned());
                } else {
                    toks.extend(expand(&w, &scalars, &arrays).into_iter().map(|x| (*ln, x)));
                }
            }
        }
        if is_launch {
            launch.extend(toks);
        } else if ws.first().is_some_and(|w| w.starts_with("--")) {
            loose.extend(toks);
        }
    }
    let toks = if launch.is_empty() { loose } else { launch };
    let mut args: Vec<Arg> = Vec::new();
    for (ln, t) in toks {
        if let Some(name) = t.strip_prefix("--") {
            let (name, inline) = match name.split_once('=') {
                Some((a, b)) => (a.to_string(), Some(b.to_string())),
                None => (name.to_string(), None),
            };
            args.push(Arg { name, values: inline.into_iter().collect(), line: ln });
        } else if t.ends_with(".py") {
            // The training script between the launcher's and its own arguments.
        } else if let Some(a) = args.last_mut() {
            a.values.push(t);
        }
    }
    (args, notes)
}

fn strip_comment(l: &str) -> String {
    let mut out = String::new();
    let (mut sq, mut dq) = (false, false);
    let mut prev = ' ';
    for c in l.chars() {
        match c {
            '\'' if !dq => sq = !sq,
            '"' if !sq => dq = !dq,
            '#' if !sq && !dq && (prev.is_whitespace() || out.is_empty()) => break,
            _ => {}
        }
        out.push(c);
        prev = c;
    }
    out
}

/// `NAME=rest` or `NAME+=rest` at the start of a line.
fn assignment(l: &str) -> Option<(&str, &str)> {
    let eq = l.find('=')?;
    let name = &l[..eq];
    let bare = name.trim_end_matches('+');
    if bare.is_empty() || !bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || bare.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((name, &l[eq + 1..]))
}

/// Shell words: whitespace-separated, quotes kept together (and removed by `expand`).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut sq, mut dq) = (false, false);
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '\'' if !dq => sq = !sq,
            '"' if !sq => dq = !dq,
            '(' if !sq && !dq && cur.ends_with('$') => depth += 1,
            '(' if depth > 0 => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && !sq && !dq && depth == 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Expand `$X`, `${X}`, `${X:-default}` and `${X[@]}` in one word; quotes removed. An unknown
/// variable stays as written (`$1`), so the value is reported as it reads.
fn expand(w: &str, scalars: &HashMap<String, String>, arrays: &HashMap<String, Vec<(usize, String)>>) -> Vec<String> {
    let unq = w.trim_matches('"').trim_matches('\'');
    if let Some(name) = unq.strip_prefix("${").and_then(|r| r.strip_suffix("[@]}")) {
        return arrays.get(name).map(|v| v.iter().map(|(_, s)| s.clone()).collect()).unwrap_or_default();
    }
    if w.starts_with('\'') {
        return vec![unq.to_string()];
    }
    let mut out = String::new();
    let cs: Vec<char> = unq.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        if cs[i] == '$' && i + 1 < cs.len() && cs[i + 1] == '{' {
            if let Some(end) = cs[i..].iter().position(|c| *c == '}') {
                let inner: String = cs[i + 2..i + end].iter().collect();
                let (name, default) = match inner.split_once(":-") {
                    Some((a, b)) => (a.to_string(), Some(b.trim_matches('"').to_string())),
                    None => (inner.clone(), None),
                };
                match scalars.get(&name) {
                    Some(v) => out.push_str(v),
                    None => match default {
                        Some(d) => out.push_str(&d),
                        None => out.push_str(&format!("${{{inner}}}")),
                    },
                }
                i += end + 1;
                continue;
            }
        }
        if cs[i] == '$' && i + 1 < cs.len() && (cs[i + 1].is_ascii_alphabetic() || cs[i + 1] == '_') {
            let mut j = i + 1;
            while j < cs.len() && (cs[j].is_ascii_alphanumeric() || cs[j] == '_') {
                j += 1;
            }
            let name: String = cs[i + 1..j].iter().collect();
            match scalars.get(&name) {
                Some(v) => out.push_str(v),
                None => out.push_str(&format!("${name}")),
            }
            i = j;
            continue;
        }
        out.push(cs[i]);
        i += 1;
    }
    vec![out]
}

/// Options that do not change a step's time or memory, by prefix, with the reason.
const IRRELEVANT: &[(&str, &str)] = &[
    ("lr", "learning-rate schedule: does not change the step time"),
    ("min-lr", "learning-rate schedule: does not change the step time"),
    ("decoupled-", "learning-rate schedule: does not change the step time"),
    ("weight-decay", "optimizer hyper-parameter: does not change the step time"),
    ("adam-", "optimizer hyper-parameter: does not change the step time"),
    ("clip-grad", "optimizer hyper-parameter: does not change the step time"),
    ("init-method-std", "initialisation: does not change the step time"),
    ("data-", "data pipeline: not modelled"),
    ("split", "data pipeline: not modelled"),
    ("vocab-file", "tokenizer file: only its type sizes the vocabulary"),
    ("merge-file", "tokenizer file: only its type sizes the vocabulary"),
    ("tokenizer-model", "tokenizer file: only its type sizes the vocabulary"),
    ("save", "checkpoint path: the run's checkpoint policy is the scenario's `run.checkpoint`"),
    ("load", "checkpoint path: not modelled"),
    ("no-load-", "checkpoint loading: not modelled"),
    ("log-", "logging: not modelled"),
    ("tensorboard-", "logging: not modelled"),
    ("wandb-", "logging: not modelled"),
    ("eval-", "evaluation: not modelled (the step is a training step)"),
    ("save-interval", "checkpoint interval: the scenario's `run.checkpoint` sets it"),
    ("master_addr", "launcher address: not modelled"),
    ("master_port", "launcher port: not modelled"),
    ("node_rank", "launcher rank: not modelled"),
    ("rotary-", "rotary-embedding parameter: does not change the step's cost model"),
    ("norm-epsilon", "numerical parameter: does not change the step time"),
    ("moe-aux-loss-coeff", "router loss weight: does not change the step time"),
    ("moe-router-load-balancing-type", "router balancing loss: the scenario's `framework.moe_routing_imbalance` models imbalance"),
    ("seed", "random seed of training: not the simulator's seed"),
    (
        "enable-cuda-graph",
        "CUDA graphs: set `framework.cuda_graphs` by hand (`Full` only when the experts are captured, e.g. with token-drop padding)",
    ),
    (
        "cuda-graph-",
        "CUDA graphs: set `framework.cuda_graphs` by hand (`Partial` for scopes attn/moe_router/moe_preprocess, `Full` for full_iteration)",
    ),
];

struct Args {
    args: Vec<Arg>,
    used: Vec<bool>,
    file: String,
}

impl Args {
    fn find(&mut self, name: &str) -> Option<(usize, Arg)> {
        let i = self.args.iter().rposition(|a| a.name == name)?;
        for (j, a) in self.args.iter().enumerate() {
            if a.name == name {
                self.used[j] = true;
            }
        }
        Some((i, self.args[i].clone()))
    }
    /// `--name (line N)` of the last occurrence (for the not-mapped list).
    fn label(&self, name: &str) -> String {
        self.args.iter().rfind(|a| a.name == name).map_or(format!("--{name}"), |a| format!("--{name} (line {})", a.line))
    }
    fn has(&mut self, name: &str) -> Option<String> {
        self.find(name).map(|(_, a)| format!("--{name} (line {})", a.line))
    }
    fn str(&mut self, name: &str) -> Result<Option<(String, String)>, WankaError> {
        match self.find(name) {
            None => Ok(None),
            Some((_, a)) => match a.values.first() {
                Some(v) => Ok(Some((v.clone(), format!("--{name} {v} (line {})", a.line)))),
                None => Err(invalid(&self.file, &format!("--{name} (line {})", a.line), "needs a value".into())),
            },
        }
    }
    fn num<T: std::str::FromStr>(&mut self, name: &str, what: &str) -> Result<Option<Src<T>>, WankaError> {
        let Some((v, from)) = self.str(name)? else { return Ok(None) };
        match v.parse::<T>() {
            Ok(x) => Ok(Some(Src { value: x, from })),
            Err(_) => Err(invalid(
                &self.file,
                &from,
                if v.contains('$') {
                    format!("`{v}` is a shell variable this script does not set; {what} expected (set it in the script or edit the value)")
                } else {
                    format!("`{v}` is not {what}")
                },
            )),
        }
    }
}

const WHOLE: &str = "a whole number";

/// A draft scenario from Megatron-LM launch arguments.
pub fn draft(text: &str, file: &str) -> Result<Draft, WankaError> {
    let (args, notes) = parse_args(text);
    if args.is_empty() {
        return Err(invalid(file, "arguments", "no `--name value` arguments found (a Megatron-LM launch script or argument text)".into()));
    }
    let n = args.len();
    let mut a = Args { args, used: vec![false; n], file: file.to_string() };
    let mut d = Draft { notes, ..Draft::default() };
    // Launcher.
    let nproc = a.num::<u32>("nproc_per_node", WHOLE)?.or(a.num::<u32>("nproc-per-node", WHOLE)?);
    let nnodes = a.num::<u32>("nnodes", WHOLE)?;
    if let Some(p) = &nproc {
        d.gpus_per_node = src(p.value, p.from.clone());
        d.notes.push(format!(
            "cluster.gpus_per_node from {}: a torchrun node is one host; pass --gpus-per-node when the scale-up domain is larger (72 on NVL72)",
            p.from
        ));
        let nodes = nnodes.as_ref().map_or(1, |x| x.value);
        d.gpus = src(p.value * nodes, format!("{} × {}", p.from, nnodes.as_ref().map_or("1 node".to_string(), |x| x.from.clone())));
    }
    // Model shape.
    let layers = a.num::<u32>("num-layers", WHOLE)?;
    let hidden = a.num::<u32>("hidden-size", WHOLE)?;
    let heads = a.num::<u32>("num-attention-heads", WHOLE)?;
    let (Some(layers), Some(hidden), Some(heads)) = (layers, hidden, heads) else {
        return Err(invalid(file, "--num-layers, --hidden-size, --num-attention-heads", "all three are required to map the model".into()));
    };
    let gqa = a.has("group-query-attention");
    let groups = a.num::<u32>("num-query-groups", WHOLE)?;
    let kv_heads = match (&gqa, &groups) {
        (Some(_), Some(g)) => g.value,
        (None, Some(g)) => {
            d.unmapped("--num-query-groups", g.value.to_string(), "ignored by Megatron without --group-query-attention");
            heads.value
        }
        _ => heads.value,
    };
    let swiglu = a.has("swiglu").is_some();
    let ffn = match a.num::<u32>("ffn-hidden-size", WHOLE)? {
        Some(f) => f.value,
        None => {
            let f = megatron_default_ffn(hidden.value, swiglu);
            d.notes.push(format!(
                "ffn_hidden = {f}: Megatron's default for --hidden-size {} ({})",
                hidden.value,
                if swiglu { "SwiGLU: int(4h·2/3/64)·64" } else { "4h" }
            ));
            f
        }
    };
    let bias = a.has("disable-bias-linear").is_none();
    let _ = a.has("add-bias-linear");
    let learned = match a.str("position-embedding-type")? {
        Some((v, from)) => match v.as_str() {
            "learned_absolute" => true,
            "rope" | "yarn" | "mrope" => false,
            "none" => false,
            other => {
                return Err(invalid(file, &from, format!("`{other}`: wanka maps learned_absolute, rope, yarn, mrope and none")));
            }
        },
        None => a.has("no-position-embedding").is_none(),
    };
    let _ = a.has("no-position-embedding");
    let tied = a.has("untie-embeddings-and-output-weights").is_none();
    let hd = a.num::<f64>("hidden-dropout", "a number")?.map_or(0.1, |x| x.value);
    let ad = a.num::<f64>("attention-dropout", "a number")?.map_or(0.1, |x| x.value);
    let dropout = hd > 0.0 || ad > 0.0;
    let kv_channels = a.num::<u32>("kv-channels", WHOLE)?;
    let head_dim = kv_channels.map(|k| k.value).filter(|k| *k != hidden.value / heads.value.max(1));
    let tp = a.num::<u32>("tensor-model-parallel-size", WHOLE)?;
    let tp_n = tp.as_ref().map_or(1, |t| t.value);
    // Vocabulary.
    let divisible = a.num::<u32>("make-vocab-size-divisible-by", WHOLE)?.map_or(128, |x| x.value);
    let vocab_size = a.num::<u32>("vocab-size", WHOLE)?;
    let tok = a.str("tokenizer-type")?;
    let merge = a.args.iter().any(|x| x.name == "merge-file");
    let base: Option<(u32, String)> = match (&tok, &vocab_size) {
        (Some((t, from)), vs) if t == "NullTokenizer" => match vs {
            Some(v) => Some((v.value + 1, format!("{from} with {} (+1 end-of-document token)", v.from))),
            None => return Err(invalid(file, from, "NullTokenizer needs --vocab-size".into())),
        },
        (Some((t, from)), _) => match tokenizer_vocab(t) {
            Some((v, what)) => Some((v, format!("{from} ({what})"))),
            None => None,
        },
        (None, Some(v)) => Some((v.value, v.from.clone())),
        (None, None) if merge => Some((50257, "--vocab-file/--merge-file without --tokenizer-type: GPT-2 BPE, 50,257 tokens".into())),
        (None, None) => None,
    };
    let vocab = match base {
        Some((v, from)) => {
            let p = padded_vocab(v, divisible, tp_n);
            if p != v {
                d.notes.push(format!("vocab = {p}: {v} tokens ({from}) padded to a multiple of {divisible} × TP {tp_n} as Megatron does"));
            }
            p
        }
        None => 0,
    };
    // MoE.
    let experts = a.num::<u32>("num-experts", WHOLE)?;
    let moe = match &experts {
        None => None,
        Some(e) => {
            let top_k = a.num::<u32>("moe-router-topk", WHOLE)?.map_or(2, |x| x.value);
            let eff = a.num::<u32>("moe-ffn-hidden-size", WHOLE)?.map_or(ffn, |x| x.value);
            let shared = a.num::<u32>("moe-shared-expert-intermediate-size", WHOLE)?;
            let shared_experts = match &shared {
                None => 0,
                Some(s) if eff > 0 && s.value % eff == 0 => s.value / eff,
                Some(s) => {
                    return Err(invalid(
                        file,
                        &s.from,
                        format!("{} is not a whole number of experts of {eff}: wanka counts shared experts", s.value),
                    ));
                }
            };
            let max_nodes = a.num::<u32>("moe-router-group-topk", WHOLE)?;
            if let Some(g) = a.num::<u32>("moe-router-num-groups", WHOLE)? {
                d.notes.push(format!("{}: wanka takes the routing groups to be the nodes of the expert-parallel group", g.from));
            }
            let dense_layers = match a.str("moe-layer-freq")? {
                None => 0,
                Some((v, _)) => match layer_freq(&v, layers.value) {
                    Some(k) => k,
                    None => {
                        d.unmapped(
                            a.label("moe-layer-freq"),
                            v.clone(),
                            "only `1` or `([0]*K+[1]*M)` (K leading dense layers) map to wanka's `moe.dense_layers`",
                        );
                        0
                    }
                },
            };
            Some(MoeSpec {
                experts: e.value,
                top_k,
                shared_experts,
                expert_ffn_hidden: eff,
                dense_layers,
                max_nodes_per_token: max_nodes.map(|m| m.value),
            })
        }
    };
    let mla = if a.has("multi-latent-attention").is_some() {
        let q = a.num::<u32>("q-lora-rank", WHOLE)?.map_or(0, |x| x.value);
        let kv = a.num::<u32>("kv-lora-rank", WHOLE)?.map_or(32, |x| x.value);
        let qk = a.num::<u32>("qk-head-dim", WHOLE)?.map_or(128, |x| x.value);
        let rope = a.num::<u32>("qk-pos-emb-head-dim", WHOLE)?.map_or(64, |x| x.value);
        let v = a.num::<u32>("v-head-dim", WHOLE)?.map_or(128, |x| x.value);
        Some(MlaSpec { q_lora_rank: q, kv_lora_rank: kv, qk_nope_head_dim: qk, qk_rope_head_dim: rope, v_head_dim: v })
    } else {
        None
    };
    let model = ModelSpec {
        name: format!("Megatron {}L {}h", layers.value, hidden.value),
        layers: layers.value,
        hidden: hidden.value,
        heads: heads.value,
        kv_heads,
        ffn_hidden: ffn,
        gated_ffn: swiglu,
        vocab,
        bias,
        learned_positions: learned,
        tied_embeddings: tied,
        dropout,
        moe,
        mla,
        head_dim,
        mtp_layers: a.num::<u32>("mtp-num-layers", WHOLE)?.map_or(0, |n| n.value),
    };
    d.model = src(
        model,
        format!("--num-layers/--hidden-size/--num-attention-heads (lines {}, {}, {})", layers.line(), hidden.line(), heads.line()),
    );
    // Parallelism.
    d.tp = tp;
    d.pp = a.num("pipeline-model-parallel-size", WHOLE)?;
    d.cp = a.num("context-parallel-size", WHOLE)?;
    d.ep = a.num("expert-model-parallel-size", WHOLE)?;
    d.etp = a.num("expert-tensor-parallel-size", WHOLE)?;
    let pp_n = d.pp.as_ref().map_or(1, |p| p.value);
    if let Some(v) =
        a.num::<u32>("num-virtual-stages-per-pipeline-rank", WHOLE)?.or(a.num::<u32>("virtual-pipeline-model-parallel-size", WHOLE)?)
    {
        d.vpp = Some(v.clone());
        d.schedule = src(if v.value > 1 { Schedule::Interleaved } else { Schedule::OneFOneB }, v.from);
    } else if let Some(per) = a.num::<u32>("num-layers-per-virtual-pipeline-stage", WHOLE)? {
        let per_stage = layers.value / pp_n.max(1);
        if per.value == 0 || per_stage % per.value != 0 {
            return Err(invalid(file, &per.from, format!("must divide the {per_stage} layers per pipeline stage")));
        }
        d.vpp = src(per_stage / per.value, per.from.clone());
        d.schedule = src(Schedule::Interleaved, per.from);
    } else if pp_n > 1 {
        d.schedule = src(Schedule::OneFOneB, "no virtual-pipeline option: Megatron runs non-interleaved 1F1B");
    }
    d.micro_batch = a.num("micro-batch-size", WHOLE)?;
    d.global_batch = a.num("global-batch-size", WHOLE)?;
    for opt in ["rampup-batch-size", "step-batch-size-schedule"] {
        if let Some((_, a)) = a.find(opt) {
            d.unmapped(a_label(&a), a.values.join(" "), "batch-size ramp-up: wanka simulates the final global batch");
        }
    }
    let gran = a.str("recompute-granularity")?;
    let act = a.has("recompute-activations");
    d.recompute = match (gran, act) {
        (Some((g, from)), _) => match g.as_str() {
            "full" => src(Recompute::Full, from),
            "selective" => src(Recompute::Selective, from),
            other => return Err(invalid(file, &from, format!("`{other}`: Megatron takes full or selective"))),
        },
        (None, Some(from)) => src(Recompute::Selective, from),
        (None, None) => src(Recompute::None, "no --recompute-granularity: Megatron recomputes nothing"),
    };
    if let Some((_, arg)) = a.find("recompute-modules") {
        let from = format!("--recompute-modules {} (line {})", arg.values.join(" "), arg.line);
        let mut modules = Vec::with_capacity(arg.values.len());
        for v in &arg.values {
            match RecomputeModule::ALL.into_iter().find(|m| m.label() == v.as_str()) {
                Some(m) => modules.push(m),
                None => {
                    let known: Vec<&str> = RecomputeModule::ALL.iter().map(|m| m.label()).collect();
                    return Err(invalid(file, &from, format!("`{v}`: wanka models {}", known.join(", "))));
                }
            }
        }
        d.recompute_modules = src(modules, from);
    }
    // `full` with `uniform` over 1 layer at a time is wanka's full recompute (every layer, its input
    // kept); `block` over N layers recomputes the first N of every chunk (`recompute_layers`); `uniform`
    // over groups of N layers (every layer recomputed, one input per group kept) is not modelled.
    let method = a.find("recompute-method").map(|(_, x)| x);
    let count = a.find("recompute-num-layers").map(|(_, x)| x);
    let first = |x: &Option<Arg>| x.as_ref().and_then(|x| x.values.first().cloned());
    let whole = |x: &Option<Arg>, v: &str| x.as_ref().is_none_or(|x| x.values.first().is_some_and(|s| s == v));
    let block_layers = (first(&method).as_deref() == Some("block")).then(|| first(&count).and_then(|c| c.parse::<u32>().ok())).flatten();
    if let (Some(n), Some(c)) = (block_layers, &count) {
        d.recompute_layers = src(n, format!("--recompute-method block --recompute-num-layers {n} (line {})", c.line));
    } else if !(whole(&method, "uniform") && whole(&count, "1")) {
        for x in [method, count].into_iter().flatten() {
            d.unmapped(
                a_label(&x),
                x.values.join(" "),
                "uniform recomputation over groups of layers: wanka's full recompute keeps every layer's input",
            );
        }
    }
    // Grouped expert GEMMs are how wanka costs the experts (step::moe) whether or not the flag is given.
    let _ = a.has("moe-grouped-gemm");
    d.sequence_parallel = src(a.has("sequence-parallel").is_some(), a.has("sequence-parallel").unwrap_or("no --sequence-parallel".into()));
    let fsdp = a.has("use-megatron-fsdp").or(a.has("use-torch-fsdp2"));
    d.zero_stage = match (&fsdp, a.has("use-distributed-optimizer")) {
        (Some(f), _) => {
            let (s, from) = match a.str("data-parallel-sharding-strategy")? {
                Some((s, from)) => (s, from),
                None => ("optim_grads_params".to_string(), format!("{f} (default strategy optim_grads_params)")),
            };
            let z = match s.as_str() {
                "no_shard" => 0,
                "optim" => 1,
                "optim_grads" => 2,
                "optim_grads_params" => 3,
                other => return Err(invalid(file, &from, format!("`{other}`: no_shard, optim, optim_grads or optim_grads_params"))),
            };
            src(z, from)
        }
        (None, Some(from)) => src(1, from),
        (None, None) => src(0, "no --use-distributed-optimizer: optimizer states replicated"),
    };
    if let Some(from) = a.has("use-tp-pp-dp-mapping") {
        d.rank_order = src(RankOrder::TpCpPpDp, from);
    }
    d.pipeline_split = match (a.has("account-for-embedding-in-pipeline-split"), a.has("account-for-loss-in-pipeline-split")) {
        (Some(e), Some(l)) => src(PipelineSplit::EmbeddingAndLoss, format!("{e}, {l}")),
        (Some(e), None) => src(PipelineSplit::Embedding, e),
        (None, Some(l)) => src(PipelineSplit::Loss, l),
        (None, None) => None,
    };
    if let Some((layout, from)) = a.str("pipeline-model-parallel-layout")? {
        d.pipeline_layout = src(layout.trim_matches(|c| c == '"' || c == '\'').to_string(), from);
    }
    // Training length.
    d.seq_len = a.num("seq-length", WHOLE)?;
    let _ = a.num::<u32>("max-position-embeddings", WHOLE)?;
    let seq = d.seq_len.as_ref().map(|s| s.value);
    if let (Some(s), Some(it), Some(gb)) = (seq, a.num::<u64>("train-iters", WHOLE)?, d.global_batch.clone()) {
        d.tokens = src(it.value as f64 * f64::from(gb.value) * f64::from(s), format!("{} × {} × --seq-length {s}", it.from, gb.from));
    } else if let (Some(s), Some(n)) = (seq, a.num::<u64>("train-samples", WHOLE)?) {
        d.tokens = src(n.value as f64 * f64::from(s), format!("{} × --seq-length {s}", n.from));
    }
    // Precision and stack.
    d.stack = src("megatron-core".to_string(), "a Megatron-LM launch");
    let fp8 = a.str("fp8-format")?;
    d.precision = if let Some((_, from)) = fp8 {
        src(Precision::Fp8, from)
    } else if let Some(f) = a.has("bf16") {
        src(Precision::Bf16, f)
    } else if let Some(f) = a.has("fp16") {
        src(Precision::Fp16, f)
    } else {
        d.unmapped(
            "precision",
            "fp32 (no --bf16/--fp16)",
            "Megatron then trains in FP32, which wanka does not model: the stack's BF16 is used",
        );
        None
    };
    let _ = a.has("bf16");
    let _ = a.has("fp16");
    for (opt, field) in [
        ("overlap-grad-reduce", "overlap_grad_reduce"),
        ("overlap-param-gather", "overlap_param_gather"),
        ("tp-comm-overlap", "tp_comm_overlap"),
    ] {
        match a.has(opt) {
            Some(from) => d.flag(field, true, from),
            None => d.flag(field, false, format!("no --{opt}")),
        }
    }
    if let Some((v, _)) = a.str("moe-token-dispatcher-type")? {
        let l = a.label("moe-token-dispatcher-type");
        match v.as_str() {
            "alltoall" => {}
            _ => d.unmapped(l, v, "only the all-to-all dispatcher is mapped (the stack's `moe_dispatcher`)"),
        }
    }
    if let Some(x) = a.num::<u32>("cpu-offloading-num-layers", WHOLE)? {
        let l = a.label("cpu-offloading-num-layers");
        d.unmapped(l, x.value.to_string(), "set `framework.activation_offload_layers` by hand: wanka needs it with pp 1 and no recompute");
    }
    if vocab == 0 {
        d.notes.push("the tokenizer's vocabulary is unknown to wanka (pass --vocab N)".into());
    }
    // Everything else, by reason.
    for (i, arg) in a.args.iter().enumerate() {
        if a.used[i] {
            continue;
        }
        let why = IRRELEVANT
            .iter()
            .find(|(p, _)| arg.name == *p || (p.ends_with('-') && arg.name.starts_with(p)) || arg.name.starts_with(&format!("{p}-")))
            .map_or("no wanka equivalent", |(_, w)| w);
        d.unmapped.push(Unmapped { option: format!("--{} (line {})", arg.name, arg.line), value: arg.values.join(" "), why: why.into() });
    }
    Ok(d)
}

impl<T> Src<T> {
    fn line(&self) -> String {
        self.from.rsplit_once("(line ").map_or(String::new(), |(_, l)| l.trim_end_matches(')').to_string())
    }
}

fn a_label(a: &Arg) -> String {
    format!("--{} (line {})", a.name, a.line)
}

/// `--moe-layer-freq`: `1` (every layer) → 0 dense layers; `([0]*K+[1]*M)` with K + M = layers → K.
fn layer_freq(v: &str, layers: u32) -> Option<u32> {
    let s: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    if s == "1" {
        return Some(0);
    }
    let s = s.trim_start_matches('(').trim_end_matches(')');
    let (a, b) = s.split_once('+')?;
    let k: u32 = a.strip_prefix("[0]*")?.parse().ok()?;
    let m: u32 = b.strip_prefix("[1]*")?.parse().ok()?;
    (k + m == layers).then_some(k)
}

/// A scenario as Megatron-LM launch arguments (a bash script launching `pretrain_gpt.py` with
/// torchrun), resolved against `catalog` so defaults (TP, DP, the interleaved schedule's vpp) are
/// written as the numbers wanka simulates. What Megatron cannot express is listed as comments.
pub fn export(s: &Scenario, catalog: &crate::Catalog, file: &str) -> Result<String, WankaError> {
    let r = s.resolve(catalog, file)?;
    let (m, p) = (&r.model, &r.plan);
    let mut args: Vec<String> = Vec::new();
    let mut lost: Vec<String> = Vec::new();
    let mut arg = |a: String| args.push(a);
    arg(format!("--num-layers {}", m.layers));
    arg(format!("--hidden-size {}", m.hidden));
    arg(format!("--num-attention-heads {}", m.heads));
    arg(format!("--ffn-hidden-size {}", m.ffn_hidden));
    if m.kv_heads != m.heads && m.mla.is_none() {
        arg("--group-query-attention".into());
        arg(format!("--num-query-groups {}", m.kv_heads));
    }
    if let Some(h) = m.head_dim {
        arg(format!("--kv-channels {h}"));
    }
    if m.gated_ffn {
        arg("--swiglu".into());
    }
    if !m.bias {
        arg("--disable-bias-linear".into());
    }
    arg(format!("--position-embedding-type {}", if m.learned_positions { "learned_absolute" } else { "rope" }));
    if !m.tied_embeddings {
        arg("--untie-embeddings-and-output-weights".into());
    }
    if !m.dropout {
        arg("--attention-dropout 0.0".into());
        arg("--hidden-dropout 0.0".into());
    }
    // NullTokenizer has --vocab-size + 1 tokens; the divisor keeps Megatron's padding from changing it.
    match super::identity_divisor(m.vocab, p.tp) {
        Some(div) => {
            arg("--tokenizer-type NullTokenizer".into());
            arg(format!("--vocab-size {}", m.vocab.saturating_sub(1)));
            arg(format!("--make-vocab-size-divisible-by {div}"));
        }
        None => {
            arg("--tokenizer-type NullTokenizer".into());
            arg(format!("--vocab-size {}", m.vocab.saturating_sub(1)));
            let padded = padded_vocab(m.vocab, 1, p.tp);
            lost.push(format!("vocab {} is not a multiple of TP {}: Megatron pads it to {padded}", m.vocab, p.tp));
            arg("--make-vocab-size-divisible-by 1".into());
        }
    }
    if let Some(e) = &m.moe {
        arg(format!("--num-experts {}", e.experts));
        arg(format!("--moe-router-topk {}", e.top_k));
        arg(format!("--moe-ffn-hidden-size {}", e.expert_ffn_hidden));
        if e.shared_experts > 0 {
            arg(format!("--moe-shared-expert-intermediate-size {}", e.shared_experts * e.expert_ffn_hidden));
        }
        if e.dense_layers > 0 {
            arg(format!("--moe-layer-freq \"([0]*{}+[1]*{})\"", e.dense_layers, m.layers - e.dense_layers));
        }
        arg("--moe-token-dispatcher-type alltoall".into());
        arg("--moe-grouped-gemm".into());
        if let Some(n) = e.max_nodes_per_token {
            // Node-limited routing as Megatron's group-limited routing, one group per node of the EP group.
            let groups = p.ep.div_ceil(s.cluster.gpus_per_node.max(1)).max(1);
            arg(format!("--moe-router-num-groups {groups}"));
            arg(format!("--moe-router-group-topk {n}"));
        }
    }
    if m.mtp_layers > 0 {
        arg(format!("--mtp-num-layers {}", m.mtp_layers));
    }
    if let Some(a) = &m.mla {
        arg("--multi-latent-attention".into());
        arg(format!("--q-lora-rank {}", a.q_lora_rank));
        arg(format!("--kv-lora-rank {}", a.kv_lora_rank));
        arg(format!("--qk-head-dim {}", a.qk_nope_head_dim));
        arg(format!("--qk-pos-emb-head-dim {}", a.qk_rope_head_dim));
        arg(format!("--v-head-dim {}", a.v_head_dim));
    }
    arg(format!("--seq-length {}", s.training.seq_len));
    arg(format!("--max-position-embeddings {}", s.training.seq_len));
    arg(format!("--tensor-model-parallel-size {}", p.tp));
    arg(format!("--pipeline-model-parallel-size {}", p.pp));
    if p.cp > 1 {
        arg(format!("--context-parallel-size {}", p.cp));
    }
    if p.ep > 1 {
        arg(format!("--expert-model-parallel-size {}", p.ep));
    }
    if m.moe.is_some() {
        arg(format!("--expert-tensor-parallel-size {}", p.etp));
    }
    match p.schedule {
        Schedule::Interleaved => arg(format!("--num-virtual-stages-per-pipeline-rank {}", p.vpp)),
        Schedule::OneFOneB => {}
        Schedule::DualPipe => lost.push("schedule DualPipe: Megatron-LM has no DualPipe; exported as 1F1B".into()),
    }
    if p.sequence_parallel {
        arg("--sequence-parallel".into());
    }
    match p.recompute {
        Recompute::None => {}
        Recompute::Selective => {
            arg("--recompute-granularity selective".into());
            if !p.recompute_modules.is_default() {
                let names: Vec<&str> = p.recompute_modules.modules().into_iter().map(|m| m.label()).collect();
                arg(format!("--recompute-modules {}", names.join(" ")));
            }
        }
        Recompute::Full => {
            arg("--recompute-granularity full".into());
            match p.recompute_layers {
                Some(n) => {
                    arg("--recompute-method block".into());
                    arg(format!("--recompute-num-layers {n}"));
                }
                None => {
                    arg("--recompute-method uniform".into());
                    arg("--recompute-num-layers 1".into());
                }
            }
        }
    }
    match p.zero_stage {
        0 => {}
        1 => arg("--use-distributed-optimizer".into()),
        z => {
            arg("--use-megatron-fsdp".into());
            arg(format!("--data-parallel-sharding-strategy {}", if z == 2 { "optim_grads" } else { "optim_grads_params" }));
        }
    }
    if p.rank_order == RankOrder::TpCpPpDp {
        arg("--use-tp-pp-dp-mapping".into());
    }
    // Megatron splits layers evenly unless told: any other split is written out as a layout.
    let chunks = p.layers_per_chunk.len();
    if chunks > 1 && p.layers_per_chunk.iter().any(|n| *n != p.layers_per_chunk[0]) {
        arg(format!("--pipeline-model-parallel-layout \"{}\"", megatron_layout(&p.layers_per_chunk, m.mtp_layers)));
    }
    arg(format!("--micro-batch-size {}", p.micro_batch));
    arg(format!("--global-batch-size {}", p.global_batch));
    let samples = (s.training.tokens / f64::from(s.training.seq_len)).ceil() as u64;
    arg(format!("--train-samples {samples}"));
    match s.framework.precision {
        Precision::Bf16 => arg("--bf16".into()),
        Precision::Fp16 => arg("--fp16".into()),
        Precision::Fp8 => {
            arg("--bf16".into());
            arg("--fp8-format hybrid".into());
        }
    }
    let f = &s.framework;
    if f.overlap_grad_reduce {
        arg("--overlap-grad-reduce".into());
    }
    if f.overlap_param_gather {
        arg("--overlap-param-gather".into());
    }
    if f.tp_comm_overlap {
        arg("--tp-comm-overlap".into());
    }
    if f.activation_offload_layers > 0 {
        arg(format!("--cpu-offloading-num-layers {}", f.activation_offload_layers));
    }
    let (per_node, nodes) = super::launch_shape(s.cluster.gpus, s.cluster.gpus_per_node);
    let mut o = String::new();
    o.push_str("#!/bin/bash\n");
    o.push_str(&format!("# Megatron-LM launch exported by `wanka export megatron` from {file} ({}).\n", s.name));
    o.push_str(&format!(
        "# Cluster in wanka: {} x {} ({} per scale-up domain), network {}. Megatron does not take the hardware: run this on that cluster.\n",
        s.cluster.gpus, s.cluster.chip, s.cluster.gpus_per_node, s.cluster.network.fabric
    ));
    o.push_str(&format!("# Software stack in wanka: {} (precision {}).\n", f.stack, f.precision.label()));
    for l in &lost {
        o.push_str(&format!("# not expressible in Megatron-LM: {l}\n"));
    }
    o.push_str(
        "# Data, tokenizer files and checkpoint paths are not part of a wanka scenario: add --data-path, --save, ... for a real run\n",
    );
    o.push_str("# (the NullTokenizer arguments below only fix the vocabulary size).\n\n");
    if per_node != s.cluster.gpus_per_node {
        o.push_str(&format!(
            "# {} devices in domains of {}: launched as {nodes} groups of {per_node} (import with --gpus-per-node {}).\n",
            s.cluster.gpus, s.cluster.gpus_per_node, s.cluster.gpus_per_node
        ));
    }
    o.push_str(&format!("GPUS_PER_NODE={per_node}\nNUM_NODES={nodes}\n\n"));
    o.push_str("torchrun --nproc_per_node $GPUS_PER_NODE --nnodes $NUM_NODES pretrain_gpt.py \\\n");
    for (i, a) in args.iter().enumerate() {
        o.push_str(&format!("    {a}{}\n", if i + 1 < args.len() { " \\" } else { "" }));
    }
    Ok(o)
}

/// Layers per chunk as a Megatron `--pipeline-model-parallel-layout` string: the embedding opens the
/// first chunk, MTP modules and the loss close the last; runs of layers written `t*n`.
fn megatron_layout(layers_per_chunk: &[u32], mtp_layers: u32) -> String {
    let layers = |n: u32| match n {
        0 => String::new(),
        1 => "t".to_string(),
        n => format!("t*{n}"),
    };
    let last = layers_per_chunk.len().saturating_sub(1);
    let chunks: Vec<String> = layers_per_chunk
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut c = if i == 0 { format!("E{}", layers(*n)) } else { layers(*n) };
            if i == last {
                c.push_str(&"m".repeat(mtp_layers as usize));
                c.push('L');
            }
            c
        })
        .collect();
    chunks.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_arrays_variables_and_continuations_expand() {
        let text = "N=4\nA=(\n  --num-layers $N # four\n  --hidden-size ${H:-64}\n)\nif [ x ]; then\n  A+=(--bogus 1)\nfi\ntorchrun x.py ${A[@]} \\\n  --seq-length 128\n";
        let (args, notes) = parse_args(text);
        let got: Vec<(String, Vec<String>, usize)> = args.into_iter().map(|a| (a.name, a.values, a.line)).collect();
        assert_eq!(
            got,
            vec![
                ("num-layers".into(), vec!["4".into()], 3),
                ("hidden-size".into(), vec!["64".into()], 4),
                ("seq-length".into(), vec!["128".into()], 10),
            ]
        );
        assert!(notes.iter().any(|n| n.contains("lines 6-8")), "{notes:?}");
    }

    #[test]
    fn layer_freq_patterns() {
        assert_eq!(layer_freq("([0]*3+[1]*58)", 61), Some(3));
        assert_eq!(layer_freq("1", 61), Some(0));
        assert_eq!(layer_freq("([0]*3+[1]*57)", 61), None);
        assert_eq!(layer_freq("[1,0,1]", 3), None);
    }
}
