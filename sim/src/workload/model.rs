//! Transformer models: shape, parameter count and FLOPs.
//!
//! Modelled: decoder-only transformers with multi-head or grouped-query attention (GQA), plain or gated
//! (SwiGLU) feed-forward, optional biases, learned or rotary positions, tied or untied embeddings, and
//! mixture-of-experts (MoE) feed-forward with top-k routing, shared experts and leading dense layers.
//! FLOPs count matrix multiplications (2 per multiply-add) including attention scores over the full
//! `s×s` square, the convention of Megatron-LM eq. (3) and Llama 3's `6N + 12·l·h·s`. Not modelled:
//! multi-latent attention (MLA) projections, multi-token prediction heads, encoder-decoder models.

use serde::{Deserialize, Serialize};

use crate::error::{WankaError, closest_ids};

/// Mixture-of-experts feed-forward.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MoeSpec {
    /// Routed experts per MoE layer.
    pub experts: u32,
    /// Routed experts each token is sent to.
    pub top_k: u32,
    /// Experts every token passes through (DeepSeek-style shared experts).
    pub shared_experts: u32,
    /// Hidden size of one expert's FFN.
    pub expert_ffn_hidden: u32,
    /// The first `dense_layers` layers use the dense FFN (`ffn_hidden`) instead of experts.
    pub dense_layers: u32,
    /// Node-limited routing: each token's experts lie on at most this many nodes (DeepSeek-V2 3,
    /// DeepSeek-V3 4). Matters with the de-duplicating dispatcher
    /// ([`crate::step::cost::MoeDispatcher::NodeDedup`]); `None`: unrestricted routing.
    #[serde(default)]
    pub max_nodes_per_token: Option<u32>,
}

/// Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values pass through low-rank
/// latents; each head's query-key width is `qk_nope_head_dim + qk_rope_head_dim`, its value width
/// `v_head_dim`. The down-projections are replicated across TP ranks (as in Megatron-core's MLA), the
/// up-projections and the output projection are sharded by heads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MlaSpec {
    /// Query latent width (0: queries projected directly from the hidden state).
    pub q_lora_rank: u32,
    pub kv_lora_rank: u32,
    pub qk_nope_head_dim: u32,
    pub qk_rope_head_dim: u32,
    pub v_head_dim: u32,
}

/// One projection GEMM of an attention block, per token: `input × output` weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    pub input: f64,
    pub output: f64,
    /// How the weight is split over TP ranks.
    pub split: TpSplit,
}

/// How a projection's weight is split over TP ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpSplit {
    /// Output columns split (QKV, up-projections): its backward input-gradient all-reduce can hide
    /// behind the weight-gradient GEMM.
    Column,
    /// Input rows split (output projection).
    Row,
    /// Not split: every TP rank computes it.
    Replicated,
}

/// Shape of a decoder-only transformer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub layers: u32,
    pub hidden: u32,
    pub heads: u32,
    /// Key/value heads (= `heads` for multi-head attention, fewer for GQA).
    pub kv_heads: u32,
    /// Dense FFN hidden size.
    pub ffn_hidden: u32,
    /// Gated FFN (SwiGLU: three matrices) instead of two.
    pub gated_ffn: bool,
    pub vocab: u32,
    /// Linear layers carry biases (GPT-2/3, Megatron GPT) or not (Llama).
    pub bias: bool,
    /// Learned absolute position embeddings of `max_seq_len` rows (GPT) instead of rotary (Llama).
    pub learned_positions: bool,
    /// Input embedding and output layer share weights.
    pub tied_embeddings: bool,
    /// Dropout layers present (they store masks and cost memory traffic).
    pub dropout: bool,
    /// Mixture of experts, if any.
    pub moe: Option<MoeSpec>,
    /// Multi-head latent attention instead of multi-head/grouped-query attention (`kv_heads` is then
    /// ignored).
    #[serde(default)]
    pub mla: Option<MlaSpec>,
    /// Width of one attention head when it is not `hidden / heads` (Qwen3, Gemma: 128-wide heads
    /// with a narrower or wider hidden state); `None` = `hidden / heads`.
    #[serde(default)]
    pub head_dim: Option<u32>,
    /// Multi-token-prediction modules (DeepSeek-V3 report §2.2, "MTP depth D"): each is two RMSNorms,
    /// a `2h → h` projection, one transformer block of the last layer's kind and a second pass through
    /// the shared output head and loss, all on the last pipeline stage. 0: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mtp_layers: u32,
}

fn is_zero(x: &u32) -> bool {
    *x == 0
}

/// Parameter counts, split the way parallelism shards them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamCounts {
    /// Attention parameters of one layer (QKV, output projection, norms, biases).
    pub attention_per_layer: f64,
    /// Dense FFN parameters of one dense layer.
    pub dense_ffn_per_layer: f64,
    /// Expert parameters of one MoE layer (all routed experts), 0 for dense models.
    pub experts_per_moe_layer: f64,
    /// Shared-expert and router parameters of one MoE layer.
    pub moe_shared_per_layer: f64,
    /// Input embedding (+ learned positions).
    pub embedding: f64,
    /// Output layer (0 when tied).
    pub output: f64,
    /// Total.
    pub total: f64,
    /// Parameters a token touches (dense part + top-k experts + shared); equals `total` for dense.
    pub active: f64,
    /// Parameters of the multi-token-prediction modules, not counted in `total` (the DeepSeek-V3 report's
    /// 671B is the main model; its MTP module adds 11.5B of its own, sharing embedding and output head).
    pub mtp: f64,
}

impl ParamCounts {
    /// Output-layer parameters held by the last pipeline stage: the untied output layer, or the copy
    /// of tied embeddings Megatron keeps there when the last stage is not also the first.
    pub fn last_stage_output(&self, model: &ModelSpec, pp: u32) -> f64 {
        if !model.tied_embeddings {
            self.output
        } else if pp > 1 {
            f64::from(model.vocab) * f64::from(model.hidden)
        } else {
            0.0
        }
    }
}

impl ModelSpec {
    pub fn head_dim(&self) -> f64 {
        self.head_dim.map_or(f64::from(self.hidden) / f64::from(self.heads), f64::from)
    }
    /// Width of all query heads (`hidden` unless `head_dim` is set).
    pub fn q_dim(&self) -> f64 {
        self.head_dim() * f64::from(self.heads)
    }
    /// Width of the K (or V) projection.
    pub fn kv_dim(&self) -> f64 {
        self.head_dim() * f64::from(self.kv_heads)
    }
    /// The attention block's projection GEMMs per token (weights only; biases and norms separate).
    pub fn attention_projections(&self) -> Vec<Projection> {
        let h = f64::from(self.hidden);
        let p = |input: f64, output: f64, split: TpSplit| Projection { input, output, split };
        match &self.mla {
            None => vec![p(h, self.q_dim() + 2.0 * self.kv_dim(), TpSplit::Column), p(self.q_dim(), h, TpSplit::Row)],
            Some(a) => {
                let heads = f64::from(self.heads);
                let qk = f64::from(a.qk_nope_head_dim + a.qk_rope_head_dim);
                let (q_lora, kv_lora) = (f64::from(a.q_lora_rank), f64::from(a.kv_lora_rank));
                let mut v = Vec::with_capacity(5);
                if a.q_lora_rank > 0 {
                    v.push(p(h, q_lora, TpSplit::Replicated));
                    v.push(p(q_lora, heads * qk, TpSplit::Column));
                } else {
                    v.push(p(h, heads * qk, TpSplit::Column));
                }
                v.push(p(h, kv_lora + f64::from(a.qk_rope_head_dim), TpSplit::Replicated));
                v.push(p(kv_lora, heads * f64::from(a.qk_nope_head_dim + a.v_head_dim), TpSplit::Column));
                v.push(p(heads * f64::from(a.v_head_dim), h, TpSplit::Row));
                v
            }
        }
    }
    /// Per-head widths of the attention core: (query-key, value).
    pub fn attention_head_dims(&self) -> (f64, f64) {
        match &self.mla {
            None => (self.head_dim(), self.head_dim()),
            Some(a) => (f64::from(a.qk_nope_head_dim + a.qk_rope_head_dim), f64::from(a.v_head_dim)),
        }
    }
    /// Widths of the Q, K and V activations the attention core reads (all heads).
    pub fn qkv_widths(&self) -> (f64, f64, f64) {
        match &self.mla {
            None => (self.q_dim(), self.kv_dim(), self.kv_dim()),
            Some(_) => {
                let (d_qk, d_v) = self.attention_head_dims();
                let heads = f64::from(self.heads);
                (heads * d_qk, heads * d_qk, heads * d_v)
            }
        }
    }
    /// Number of layers whose FFN is a MoE block.
    pub fn moe_layers(&self) -> u32 {
        self.moe.as_ref().map_or(0, |m| self.layers.saturating_sub(m.dense_layers))
    }
    fn ffn_mats(&self) -> f64 {
        if self.gated_ffn { 3.0 } else { 2.0 }
    }

    /// Check the shape is self-consistent.
    pub fn check(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: &str, msg: String| Err(WankaError::Invalid { file: file.to_string(), field: format!("model.{field}"), msg });
        for (name, v) in [
            ("layers", self.layers),
            ("hidden", self.hidden),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("ffn_hidden", self.ffn_hidden),
            ("vocab", self.vocab),
        ] {
            if v == 0 {
                return bad(name, "must be at least 1".into());
            }
        }
        if self.layers > crate::limits::MAX_LAYERS {
            return bad("layers", format!("must be between 1 and {}, got {}", crate::limits::MAX_LAYERS, self.layers));
        }
        if self.head_dim == Some(0) {
            return bad("head_dim", "must be at least 1 (or None for hidden / heads)".into());
        }
        if self.head_dim.is_none() && !self.hidden.is_multiple_of(self.heads) {
            return bad("heads", format!("hidden ({}) must be divisible by heads ({})", self.hidden, self.heads));
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return bad("kv_heads", format!("heads ({}) must be divisible by kv_heads ({})", self.heads, self.kv_heads));
        }
        if let Some(m) = &self.moe {
            if m.experts == 0 || m.top_k == 0 || m.top_k > m.experts {
                return bad("moe.top_k", format!("need 1 <= top_k <= experts, got top_k {} of {} experts", m.top_k, m.experts));
            }
            if m.expert_ffn_hidden == 0 {
                return bad("moe.expert_ffn_hidden", "must be at least 1".into());
            }
            if m.max_nodes_per_token == Some(0) {
                return bad("moe.max_nodes_per_token", "must be at least 1 (or None for unrestricted routing)".into());
            }
        }
        if let Some(a) = &self.mla
            && (a.kv_lora_rank == 0 || a.v_head_dim == 0 || a.qk_nope_head_dim + a.qk_rope_head_dim == 0)
        {
            return bad("mla", "kv_lora_rank, v_head_dim and qk_nope_head_dim + qk_rope_head_dim must be at least 1".into());
        }
        if let Some(m) = &self.moe {
            if m.max_nodes_per_token == Some(0) {
                return bad("moe.max_nodes_per_token", "must be at least 1 (or None for unrestricted routing)".into());
            }
            if m.dense_layers > self.layers {
                return bad("moe.dense_layers", format!("{} exceeds layers ({})", m.dense_layers, self.layers));
            }
        }
        Ok(())
    }

    /// Parameter counts for sequence length `seq_len` (only learned positions depend on it).
    pub fn params(&self, seq_len: u32) -> ParamCounts {
        let h = f64::from(self.hidden);
        let kv = self.kv_dim();
        let b = if self.bias { 1.0 } else { 0.0 };
        // QKV + output projection, two norms (weight + bias for LayerNorm, weight for RMSNorm).
        let norms = if self.bias { 4.0 * h } else { 2.0 * h };
        let proj: f64 = self.attention_projections().iter().map(|p| p.input * p.output).sum();
        let latent_norms = self.mla.as_ref().map_or(0.0, |a| f64::from(a.q_lora_rank + a.kv_lora_rank));
        let attention = proj + b * (self.q_dim() + 2.0 * kv + h) + norms + latent_norms;
        let ffn = |f: f64| self.ffn_mats() * h * f + b * (f + h);
        let dense_ffn = ffn(f64::from(self.ffn_hidden));
        let (experts, shared, active_ffn_moe) = match &self.moe {
            Some(m) => {
                let e = ffn(f64::from(m.expert_ffn_hidden));
                let shared = f64::from(m.shared_experts) * e + h * f64::from(m.experts); // + router
                (f64::from(m.experts) * e, shared, f64::from(m.top_k) * e + shared)
            }
            None => (0.0, 0.0, 0.0),
        };
        let v = f64::from(self.vocab);
        let embedding = v * h + if self.learned_positions { f64::from(seq_len) * h } else { 0.0 };
        let output = if self.tied_embeddings { 0.0 } else { v * h };
        let final_norm = if self.bias { 2.0 * h } else { h };
        let moe_layers = f64::from(self.moe_layers());
        let dense_layers = f64::from(self.layers) - moe_layers;
        let l = f64::from(self.layers);
        let total = l * attention + dense_layers * dense_ffn + moe_layers * (experts + shared) + embedding + output + final_norm;
        let active = l * attention + dense_layers * dense_ffn + moe_layers * active_ffn_moe + embedding + output + final_norm;
        // One MTP module: a block of the last layer's kind, the 2h → h projection and its two norms.
        let mtp_block = attention + if self.mtp_block_is_moe() { experts + shared } else { dense_ffn };
        let mtp = f64::from(self.mtp_layers) * (mtp_block + 2.0 * h * h + 2.0 * h);
        ParamCounts {
            attention_per_layer: attention,
            dense_ffn_per_layer: dense_ffn,
            experts_per_moe_layer: experts,
            moe_shared_per_layer: shared,
            embedding,
            output,
            total,
            active,
            mtp,
        }
    }

    /// Whether an MTP module's transformer block is an MoE block: it repeats the model's last layer.
    pub fn mtp_block_is_moe(&self) -> bool {
        self.moe.as_ref().is_some_and(|m| m.dense_layers < self.layers)
    }

    /// Forward FLOPs per token of the MTP modules: block, projection and the second output head.
    pub fn mtp_forward_flops_per_token(&self, seq_len: u32) -> f64 {
        let h = f64::from(self.hidden);
        f64::from(self.mtp_layers)
            * (self.layer_forward_flops_per_token(seq_len, self.mtp_block_is_moe()) + 2.0 * 2.0 * h * h + self.logits_flops_per_token())
    }

    /// Forward FLOPs per token of one layer: matmuls with the active FFN, plus attention scores over a
    /// context of `seq_len` (full square, see module docs).
    pub fn layer_forward_flops_per_token(&self, seq_len: u32, moe_layer: bool) -> f64 {
        let h = f64::from(self.hidden);
        let s = f64::from(seq_len);
        let attn_proj: f64 = self.attention_projections().iter().map(|p| 2.0 * p.input * p.output).sum();
        // QK^T and AV over the full square: 2·s·heads·(d_qk + d_v) (= 4·s·h for multi-head attention).
        let (d_qk, d_v) = self.attention_head_dims();
        let scores = 2.0 * s * f64::from(self.heads) * (d_qk + d_v);
        let ffn = match (&self.moe, moe_layer) {
            (Some(m), true) => {
                let per_expert = 2.0 * self.ffn_mats() * h * f64::from(m.expert_ffn_hidden);
                f64::from(m.top_k + m.shared_experts) * per_expert + 2.0 * h * f64::from(m.experts)
            }
            _ => 2.0 * self.ffn_mats() * h * f64::from(self.ffn_hidden),
        };
        attn_proj + scores + ffn
    }

    /// Forward FLOPs per token of the whole model including the output layer (logits).
    pub fn forward_flops_per_token(&self, seq_len: u32) -> f64 {
        let moe = f64::from(self.moe_layers());
        let dense = f64::from(self.layers) - moe;
        dense * self.layer_forward_flops_per_token(seq_len, false)
            + moe * self.layer_forward_flops_per_token(seq_len, true)
            + self.logits_flops_per_token()
            + self.mtp_forward_flops_per_token(seq_len)
    }

    /// Output-layer forward FLOPs per token.
    pub fn logits_flops_per_token(&self) -> f64 {
        2.0 * f64::from(self.hidden) * f64::from(self.vocab)
    }

    /// Model FLOPs per trained token (forward + backward = 3× forward, no recompute): the MFU numerator.
    pub fn model_flops_per_token(&self, seq_len: u32) -> f64 {
        3.0 * self.forward_flops_per_token(seq_len)
    }
}

/// A model by preset name or spelled out in full.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ModelRef {
    /// One of [`presets`], by id.
    Preset(String),
    /// A full shape.
    Custom(ModelSpec),
}

impl ModelRef {
    pub fn resolve(&self) -> Result<ModelSpec, WankaError> {
        match self {
            ModelRef::Custom(m) => Ok(m.clone()),
            ModelRef::Preset(id) => preset(id),
        }
    }
}

/// A dense preset from its shape `[layers, hidden, heads, kv_heads, ffn, vocab]`; `llama_style`: gated
/// FFN without biases, rotary positions, untied embeddings, no dropout (else GPT-style).
/// A Qwen3 MoE shape `[layers, hidden, heads, kv_heads, vocab]`: 128 experts of `expert_ffn`, top-8,
/// 128-wide heads, every layer MoE (the dense `ffn_hidden` is unused and set to the expert width).
fn qwen3_moe(name: &str, shape: [u32; 5], expert_ffn: u32) -> ModelSpec {
    let [layers, hidden, heads, kv_heads, vocab] = shape;
    ModelSpec {
        moe: Some(MoeSpec {
            experts: 128,
            top_k: 8,
            shared_experts: 0,
            expert_ffn_hidden: expert_ffn,
            dense_layers: 0,
            max_nodes_per_token: None,
        }),
        head_dim: Some(128),
        tied_embeddings: false,
        ..dense(name, [layers, hidden, heads, kv_heads, expert_ffn, vocab], true)
    }
}

fn dense(name: &str, shape: [u32; 6], llama_style: bool) -> ModelSpec {
    let [layers, hidden, heads, kv_heads, ffn, vocab] = shape;
    ModelSpec {
        name: name.to_string(),
        layers,
        hidden,
        heads,
        kv_heads,
        ffn_hidden: ffn,
        gated_ffn: llama_style,
        vocab,
        bias: !llama_style,
        learned_positions: !llama_style,
        tied_embeddings: !llama_style,
        dropout: !llama_style,
        moe: None,
        mla: None,
        head_dim: None,
        mtp_layers: 0,
    }
}

/// Ids of the bundled model presets.
pub const PRESET_IDS: &[&str] = &[
    "gpt3-175b",
    "llama3-8b",
    "llama3-70b",
    "llama3-405b",
    "dense-200b",
    "mixtral-8x7b",
    "deepseek-v3-like",
    "mt-nlg-530b",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
];

/// A bundled model by id. Sources:
/// GPT-3 175B: Brown et al. 2020 Table 2.1 (96 layers, d 12288, 96 heads, vocab 50257 padded to 51200 as in
/// Megatron). Llama 3: Meta 2024 Table 3 (8B: 32 l, 4096, 32 h, 8 kv, ffn 14336; 70B: 80 l, 8192, 64 h,
/// 8 kv, 28672; 405B: 126 l, 16384, 128 h, 8 kv, 53248; vocab 128,000). Mixtral 8x7B: Jiang et al. 2024
/// (32 l, 4096, 32 h, 8 kv, 8 experts of 14336, top-2, vocab 32000). DeepSeek-V3-shaped: DeepSeek-V3
/// report (61 layers, 7168, 128 heads, 256 routed experts of 2048 + 1 shared, top-8, first 3 layers
/// dense with FFN 18432, vocab 129,280, routing limited to 4 nodes, MLA: query latent 1536, key-value
/// latent 512, 128 + 64 query-key and 128 value dimensions per head).
/// Qwen3 MoE (Qwen team, "Qwen3 Technical Report", arXiv 2505.09388, Table 2, and the Hugging Face
/// `config.json` of Qwen/Qwen3-30B-A3B and Qwen/Qwen3-235B-A22B): 30B-A3B 48 layers, hidden 2048, 32
/// query / 4 KV heads of 128, 128 experts of 768, top-8; 235B-A22B 94 layers, hidden 4096, 64 / 4 heads
/// of 128, 128 experts of 1536, top-8; vocab 151,936, untied, no shared experts, every layer MoE.
/// dense-200b: an illustrative 200B Llama-style shape (96 l, 12288 hidden, 96 heads, 8 kv, FFN 49152).
/// MT-NLG 530B: Smith et al. 2022 (105 l, 20480, 128 heads).
pub fn preset(id: &str) -> Result<ModelSpec, WankaError> {
    let m = match id {
        "gpt3-175b" => dense("GPT-3 175B", [96, 12288, 96, 96, 49152, 51200], false),
        "mt-nlg-530b" => dense("MT-NLG 530B", [105, 20480, 128, 128, 81920, 51200], false),
        "llama3-8b" => dense("Llama 3 8B", [32, 4096, 32, 8, 14336, 128_000], true),
        "llama3-70b" => dense("Llama 3 70B", [80, 8192, 64, 8, 28672, 128_000], true),
        "llama3-405b" => dense("Llama 3 405B", [126, 16384, 128, 8, 53248, 128_000], true),
        "dense-200b" => dense("Dense 200B (Llama-style)", [96, 12288, 96, 8, 49152, 128_000], true),
        "mixtral-8x7b" => ModelSpec {
            moe: Some(MoeSpec {
                experts: 8,
                top_k: 2,
                shared_experts: 0,
                expert_ffn_hidden: 14336,
                dense_layers: 0,
                max_nodes_per_token: None,
            }),
            ..dense("Mixtral 8x7B", [32, 4096, 32, 8, 14336, 32000], true)
        },
        "deepseek-v3-like" => ModelSpec {
            moe: Some(MoeSpec {
                experts: 256,
                top_k: 8,
                shared_experts: 1,
                expert_ffn_hidden: 2048,
                dense_layers: 3,
                max_nodes_per_token: Some(4),
            }),
            mla: Some(MlaSpec { q_lora_rank: 1536, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128 }),
            // V: DeepSeek-V3 report §4.2 "we set the MTP depth D to 1" (HF config num_nextn_predict_layers: 1);
            // Megatron-Bridge's DeepSeek-V3 recipe trains with mtp_num_layers = 1 too.
            mtp_layers: 1,
            ..dense("DeepSeek-V3-shaped MoE", [61, 7168, 128, 128, 18432, 129_280], true)
        },
        "qwen3-30b-a3b" => qwen3_moe("Qwen3-30B-A3B", [48, 2048, 32, 4, 151_936], 768),
        "qwen3-235b-a22b" => qwen3_moe("Qwen3-235B-A22B", [94, 4096, 64, 4, 151_936], 1536),
        _ => {
            let ids: Vec<String> = PRESET_IDS.iter().map(|s| s.to_string()).collect();
            return Err(WankaError::Unknown { kind: "model preset", id: id.to_string(), closest: closest_ids(id, ids.iter()) });
        }
    };
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Megatron-LM eq. (2): P = 12 l h^2 (1 + 13/(12h) + (V+s)/(12 l h)).
    fn megatron_params(l: f64, h: f64, v: f64, s: f64) -> f64 {
        12.0 * l * h * h * (1.0 + 13.0 / (12.0 * h) + (v + s) / (12.0 * l * h))
    }

    #[test]
    fn gpt_params_match_megatron_eq2() {
        for (l, h, heads, billions) in [(24u32, 2304u32, 24u32, 1.7), (96, 12288, 96, 174.6), (128, 25600, 160, 1008.0)] {
            let m = dense("t", [l, h, heads, heads, 4 * h, 51200], false);
            let p = m.params(2048).total;
            let want = megatron_params(l.into(), h.into(), 51200.0, 2048.0);
            assert!((p - want).abs() / want < 2e-3, "{p} vs {want}");
            // The table's sizes are rounded to 2-4 significant digits.
            assert!((p / 1e9 - billions).abs() / billions < 0.03, "{p}");
        }
    }

    #[test]
    fn presets_have_published_sizes() {
        for (id, billions, tol) in [
            ("llama3-8b", 8.0, 0.05),
            ("llama3-70b", 70.6, 0.02),
            ("llama3-405b", 405.0, 0.01),
            ("gpt3-175b", 175.0, 0.01),
            ("mixtral-8x7b", 46.7, 0.02),
            ("qwen3-30b-a3b", 30.5, 0.02),
            ("qwen3-235b-a22b", 235.0, 0.01),
        ] {
            let p = preset(id).unwrap().params(8192).total / 1e9;
            assert!((p - billions).abs() / billions < tol, "{id}: {p}B");
        }
        let ds = preset("deepseek-v3-like").unwrap().params(4096);
        // DeepSeek-V3: 671B total, 37B active; MLA approximated, so only roughly.
        assert!((ds.total / 1e9 - 671.0).abs() < 60.0, "{}", ds.total / 1e9);
        assert!((ds.active / 1e9 - 37.0).abs() < 10.0, "{}", ds.active / 1e9);
    }

    #[test]
    fn megatron_eq3_flops() {
        // F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h)) counts fwd+bwd+recompute-fwd (4x) for layers and
        // 3x for logits; our forward count times those factors must agree.
        let (l, h, s, v) = (96u32, 12288u32, 2048u32, 51200u32);
        let m = dense("t", [l, h, 96, 96, 4 * h, v], false);
        let layers = f64::from(l) * m.layer_forward_flops_per_token(s, false);
        let ours = 4.0 * layers + 3.0 * m.logits_flops_per_token();
        let (lf, hf, sf, vf) = (f64::from(l), f64::from(h), f64::from(s), f64::from(v));
        let eq3_per_token = 96.0 * lf * hf * hf * (1.0 + sf / (6.0 * hf) + vf / (16.0 * lf * hf));
        assert!((ours - eq3_per_token).abs() / eq3_per_token < 1e-9);
    }

    #[test]
    fn unknown_preset_suggests() {
        let e = preset("llama3-450b").unwrap_err().to_string();
        assert!(e.contains("llama3-405b"), "{e}");
    }

    /// DeepSeek-V3 report: 671B total parameters, 37B activated per token (main model, without the
    /// multi-token-prediction module).
    #[test]
    fn deepseek_v3_parameter_counts() {
        let p = preset("deepseek-v3-like").unwrap().params(4096);
        assert!((p.total / 671e9 - 1.0).abs() < 0.01, "total {:.1}B", p.total / 1e9);
        assert!((p.active / 37e9 - 1.0).abs() < 0.03, "active {:.1}B", p.active / 1e9);
        // deepseek-ai/DeepSeek-V3 README_WEIGHTS.md: the MTP module has 11.5B unique parameters
        // (excluding the shared 0.9B embedding and 0.9B output head).
        assert!((p.mtp / 11.5e9 - 1.0).abs() < 0.03, "mtp {:.2}B", p.mtp / 1e9);
    }
}
