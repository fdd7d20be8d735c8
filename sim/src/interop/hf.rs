//! Hugging Face `config.json` (transformers `PretrainedConfig`): the model shape only. Parallelism,
//! batch and precision are not in the file; they come from flags or the scenario defaults.
//!
//! Keys read: `num_hidden_layers`, `hidden_size`, `num_attention_heads`, `num_key_value_heads`
//! (default: the attention heads), `intermediate_size`, `vocab_size`, `head_dim`, `tie_word_embeddings`
//! (default `false`, noted), `attention_bias`/`mlp_bias`, `hidden_act`, dropout keys, and for MoE models
//! `num_local_experts` (Mixtral) / `num_experts` (Qwen) / `n_routed_experts` (DeepSeek),
//! `num_experts_per_tok`, `moe_intermediate_size`, `n_shared_experts` / `shared_expert_intermediate_size`,
//! `first_k_dense_replace`, `decoder_sparse_step`, `mlp_only_layers`, and DeepSeek's MLA ranks.

use serde_json::Value;

use super::{Draft, invalid, src};
use crate::error::WankaError;
use crate::workload::model::{MlaSpec, ModelSpec, MoeSpec};

/// Keys that describe inference, tokenisation or numerics and do not change a training step's cost.
const NOT_COST: &[&str] = &[
    "architectures",
    "model_type",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "initializer_range",
    "rms_norm_eps",
    "layer_norm_eps",
    "rope_theta",
    "rope_scaling",
    "torch_dtype",
    "dtype",
    "transformers_version",
    "use_cache",
    "pretraining_tp",
    "max_position_embeddings",
    "output_router_logits",
    "router_aux_loss_coef",
    "norm_topk_prob",
    "sliding_window",
    "use_sliding_window",
    "max_window_layers",
    "_name_or_path",
];

/// A draft scenario (model only) from a `config.json`.
pub fn draft(text: &str, file: &str) -> Result<Draft, WankaError> {
    let v: Value = serde_json::from_str(text).map_err(|e| WankaError::Parse {
        file: file.to_string(),
        line: e.line(),
        col: e.column(),
        msg: e.to_string(),
    })?;
    let Some(obj) = v.as_object() else {
        return Err(invalid(file, "(top level)", "a config.json is one JSON object".into()));
    };
    // Multimodal configs keep the language model under `text_config`.
    let obj = match obj.get("text_config").and_then(|t| t.as_object()) {
        Some(t) if !obj.contains_key("num_hidden_layers") => t,
        _ => obj,
    };
    let mut used: Vec<&str> = Vec::new();
    let mut d = Draft::default();
    let uint = |key: &'static str, used: &mut Vec<&str>| -> Result<Option<u32>, WankaError> {
        used.push(key);
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| invalid(file, key, format!("`{x}` is not a whole number"))),
        }
    };
    let need = |k: &str, x: Option<u32>| {
        x.ok_or_else(|| invalid(file, k, "required for the model shape (a decoder-only transformer's config.json)".into()))
    };
    let layers = need("num_hidden_layers", uint("num_hidden_layers", &mut used)?)?;
    let hidden = need("hidden_size", uint("hidden_size", &mut used)?)?;
    let heads = need("num_attention_heads", uint("num_attention_heads", &mut used)?)?;
    let kv_heads = uint("num_key_value_heads", &mut used)?.unwrap_or(heads);
    let ffn = need("intermediate_size", uint("intermediate_size", &mut used)?)?;
    let vocab = need("vocab_size", uint("vocab_size", &mut used)?)?;
    let head_dim = uint("head_dim", &mut used)?.filter(|h| *h != hidden / heads.max(1));
    let boolean = |k: &str| obj.get(k).and_then(|x| x.as_bool());
    used.extend(["tie_word_embeddings", "attention_bias", "mlp_bias", "hidden_act", "attention_dropout", "hidden_dropout", "dropout"]);
    let tied = match boolean("tie_word_embeddings") {
        Some(t) => t,
        None => {
            d.notes.push("tie_word_embeddings absent: untied (the Llama-family default)".into());
            false
        }
    };
    let bias = boolean("attention_bias").unwrap_or(false) || boolean("mlp_bias").unwrap_or(false);
    let act = obj.get("hidden_act").and_then(|x| x.as_str()).unwrap_or("silu");
    let gated = matches!(act, "silu" | "swiglu" | "swish");
    if !gated {
        d.notes.push(format!("hidden_act {act:?}: mapped as an ungated two-matrix FFN"));
    }
    let drop =
        ["attention_dropout", "hidden_dropout", "dropout"].iter().any(|k| obj.get(*k).and_then(|x| x.as_f64()).is_some_and(|p| p > 0.0));
    let model_type = obj.get("model_type").and_then(|x| x.as_str()).unwrap_or("");
    if model_type == "qwen2" {
        d.unmapped("model_type", "qwen2", "Qwen2's QKV biases are not modelled (wanka's `bias` is all linear layers or none)");
    }
    // MoE.
    let experts = uint("num_local_experts", &mut used)?.or(uint("num_experts", &mut used)?).or(uint("n_routed_experts", &mut used)?);
    let moe = match experts {
        None | Some(0) => None,
        Some(e) => {
            let top_k = need("num_experts_per_tok", uint("num_experts_per_tok", &mut used)?)?;
            let eff = uint("moe_intermediate_size", &mut used)?.unwrap_or(ffn);
            let shared = match (uint("n_shared_experts", &mut used)?, uint("shared_expert_intermediate_size", &mut used)?) {
                (Some(n), _) => n,
                (None, Some(s)) if eff > 0 && s % eff == 0 => s / eff,
                (None, Some(s)) => {
                    return Err(invalid(file, "shared_expert_intermediate_size", format!("{s} is not a whole number of experts of {eff}")));
                }
                (None, None) => 0,
            };
            let dense = uint("first_k_dense_replace", &mut used)?.unwrap_or(0);
            if let Some(step) = uint("decoder_sparse_step", &mut used)?
                && step != 1
            {
                d.unmapped("decoder_sparse_step", step.to_string(), "MoE on every k-th layer: wanka models leading dense layers only");
            }
            used.push("mlp_only_layers");
            if let Some(l) = obj.get("mlp_only_layers").and_then(|x| x.as_array())
                && !l.is_empty()
            {
                d.unmapped(
                    "mlp_only_layers",
                    Value::Array(l.clone()).to_string(),
                    "dense layers at given positions: wanka models leading dense layers only",
                );
            }
            Some(MoeSpec {
                experts: e,
                top_k,
                shared_experts: shared,
                expert_ffn_hidden: eff,
                dense_layers: dense,
                max_nodes_per_token: None,
            })
        }
    };
    let mla = match uint("kv_lora_rank", &mut used)? {
        None => None,
        Some(kv) => Some(MlaSpec {
            q_lora_rank: uint("q_lora_rank", &mut used)?.unwrap_or(0),
            kv_lora_rank: kv,
            qk_nope_head_dim: need("qk_nope_head_dim", uint("qk_nope_head_dim", &mut used)?)?,
            qk_rope_head_dim: need("qk_rope_head_dim", uint("qk_rope_head_dim", &mut used)?)?,
            v_head_dim: need("v_head_dim", uint("v_head_dim", &mut used)?)?,
        }),
    };
    // DeepSeek-V3's multi-token-prediction modules (trained with the model, dropped at inference).
    let mtp_layers = uint("num_nextn_predict_layers", &mut used)?.unwrap_or(0);
    let name = obj
        .get("_name_or_path")
        .and_then(|x| x.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{} {layers}L {hidden}h", if model_type.is_empty() { "HF model" } else { model_type }));
    d.model = src(
        ModelSpec {
            name,
            layers,
            hidden,
            heads,
            kv_heads,
            ffn_hidden: ffn,
            gated_ffn: gated,
            vocab,
            bias,
            learned_positions: false,
            tied_embeddings: tied,
            dropout: drop,
            moe,
            mla,
            head_dim,
            mtp_layers,
        },
        "num_hidden_layers/hidden_size/num_attention_heads/intermediate_size/vocab_size",
    );
    for (k, val) in obj {
        if used.contains(&k.as_str()) {
            continue;
        }
        let why = if NOT_COST.contains(&k.as_str()) { "does not change a training step's cost" } else { "no wanka equivalent" };
        d.unmapped(k.clone(), val.to_string(), why);
    }
    Ok(d)
}
