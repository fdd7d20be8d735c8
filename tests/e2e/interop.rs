//! `wanka import` / `wanka export` on real configurations of Megatron-LM, NeMo, Hugging Face and
//! torchtitan (`tests/fixtures/interop/`, sources in its README). Expected values are read off the
//! fixture files (quoted beside each assertion), not off wanka's own output.

use super::support::{repo_root, temp_dir, wanka};
use wanka_sim::Scenario;
use wanka_sim::step::stack::Precision;
use wanka_sim::workload::model::{ModelRef, ModelSpec};
use wanka_sim::workload::parallelism::{Recompute, Schedule};

const FIX: &str = "tests/fixtures/interop";

/// Import `file` with `args` (to a file: `-o`), parse the scenario; returns it with stderr.
fn import(tool: &str, file: &str, args: &[&str]) -> (Scenario, String, String) {
    let dir = temp_dir("interop");
    let out = dir.join("imported.ron");
    let path = format!("{FIX}/{file}");
    let mut a = vec!["import", tool, &path, "-o", out.to_str().unwrap()];
    a.extend_from_slice(args);
    let r = wanka(&a).success();
    let text = std::fs::read_to_string(&out).expect("output written");
    let s = Scenario::parse(&text, "imported.ron").unwrap_or_else(|e| panic!("{e}\n{text}"));
    (s, r.stderr, text)
}

fn custom(s: &Scenario) -> &ModelSpec {
    match &s.model {
        ModelRef::Custom(m) => m,
        ModelRef::Preset(p) => panic!("expected a spelled-out model, got preset {p}"),
    }
}

#[test]
fn megatron_gpt3_175b_launch_script_imports() {
    let (s, err, text) = import("megatron", "megatron_train_gpt3_175b_distributed.sh", &["--chip", "a100-sxm-80gb", "--gpus", "1536"]);
    let m = custom(&s);
    // GPT_MODEL_ARGS: --num-layers 96 --hidden-size 12288 --num-attention-heads 96 --seq-length 2048.
    assert_eq!((m.layers, m.hidden, m.heads, m.kv_heads), (96, 12288, 96, 96));
    // No --ffn-hidden-size and no --swiglu: Megatron's 4h; no --vocab-file type: GPT-2 BPE padded at TP 8.
    assert_eq!((m.ffn_hidden, m.gated_ffn, m.vocab), (4 * 12288, false, 51200));
    assert!(m.bias && m.learned_positions && m.tied_embeddings && m.dropout);
    assert_eq!(s.training.seq_len, 2048);
    // MODEL_PARALLEL_ARGS: --tensor-model-parallel-size 8 --pipeline-model-parallel-size 16.
    let p = &s.parallelism;
    assert_eq!((p.tp, p.pp, p.dp), (8, 16, 1536 / 128));
    // TRAINING_ARGS: --micro-batch-size 1 --global-batch-size 1536 --train-iters 500000 --fp16.
    assert_eq!((p.micro_batch, p.global_batch), (Some(1), 1536));
    assert_eq!(p.schedule, Some(Schedule::OneFOneB));
    assert_eq!(p.recompute, Recompute::None);
    assert_eq!(s.training.tokens, 500_000.0 * 1536.0 * 2048.0);
    assert_eq!(s.framework.precision, Precision::Fp16);
    // The batch ramp-up and the optimizer settings are listed as not mapped, on stderr and in the file.
    for opt in ["--step-batch-size-schedule (line 40)", "--lr (line 48)", "--adam-beta2 (line 44)"] {
        assert!(err.contains(opt), "{opt} missing from stderr:\n{err}");
        assert!(text.contains(&format!("//   {opt}")), "{opt} missing from the scenario comments");
    }
    // The launcher's one-node example (GPUS_PER_NODE=8, NUM_NODES=1) was replaced by --gpus, and said so.
    assert!(err.contains("--gpus 1536 replaces 8"), "{err}");
}

#[test]
fn megatron_script_without_a_device_count_that_fits_is_refused_without_output() {
    let dir = temp_dir("interop-refused");
    let out = dir.join("never.ron");
    let path = format!("{FIX}/megatron_train_gpt3_175b_distributed.sh");
    let r = wanka(["import", "megatron", &path, "--chip", "a100-sxm-80gb", "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{r}");
    // 8 GPUs from the launcher cannot hold TP 8 × PP 16: the message names the file, the values and the fix.
    for want in ["megatron_train_gpt3_175b_distributed.sh", "TP 8", "PP 16", "--gpus N", "multiple of 128"] {
        assert!(r.stderr.contains(want), "{want}: {r}");
    }
    assert!(!r.stderr.contains("panicked"));
    assert!(!out.exists(), "no output file on error");
}

#[test]
fn megatron_mixtral_script_imports_moe_and_overlap() {
    let (s, err, _) = import("megatron", "megatron_train_mixtral_8x7b_distributed.sh", &["--chip", "h100-sxm", "--gpus", "64"]);
    let m = custom(&s);
    // MODEL_ARGS: 32 layers, 4096 hidden, ffn 14336, 32 heads, 8 query groups, swiglu, untied, no bias, rope.
    assert_eq!((m.layers, m.hidden, m.ffn_hidden, m.heads, m.kv_heads), (32, 4096, 14336, 32, 8));
    assert!(m.gated_ffn && !m.tied_embeddings && !m.bias && !m.learned_positions && !m.dropout);
    // --tokenizer-type Llama2Tokenizer: 32,000 tokens (already a multiple of 128 at TP 1).
    assert_eq!(m.vocab, 32000);
    // MOE_ARGS: --num-experts 8 --moe-router-topk 2.
    let e = m.moe.as_ref().expect("MoE");
    assert_eq!((e.experts, e.top_k, e.expert_ffn_hidden, e.shared_experts), (8, 2, 14336, 0));
    // MODEL_PARALLEL_ARGS: TP 1, PP 4, EP 8, distributed optimizer, sequence parallel.
    let p = &s.parallelism;
    assert_eq!((p.tp, p.pp, p.ep, p.zero_stage, p.sequence_parallel), (1, 4, 8, 1, true));
    assert_eq!((p.micro_batch, p.global_batch), (Some(1), 256));
    assert_eq!(s.training.seq_len, 4096);
    assert_eq!(s.training.tokens, 500_000.0 * 256.0 * 4096.0);
    assert_eq!(s.framework.precision, Precision::Bf16);
    assert!(s.framework.overlap_grad_reduce && s.framework.overlap_param_gather);
    // The `if [ -n "${WANDB_API_KEY}" ]` block is not evaluated, and said so.
    assert!(err.contains("conditional block"), "{err}");
}

#[test]
fn nemo_gpt_recipe_imports() {
    let (s, err, _) = import("nemo", "nemo_megatron_gpt_config.yaml", &["--chip", "h100-sxm"]);
    let m = custom(&s);
    // model: num_layers 12, hidden_size 768, ffn_hidden_size 3072, num_attention_heads 12, gelu, bias True,
    // learned_absolute, share_embeddings_and_output_weights True, hidden_dropout 0.1.
    assert_eq!((m.layers, m.hidden, m.ffn_hidden, m.heads, m.kv_heads), (12, 768, 3072, 12, 12));
    assert!(!m.gated_ffn && m.bias && m.learned_positions && m.tied_embeddings && m.dropout);
    // tokenizer.type GPT2BPETokenizer (50,257) padded to make_vocab_size_divisible_by 128 × TP 1.
    assert_eq!(m.vocab, 50304);
    // trainer: devices 1, num_nodes 1, precision bf16, max_steps 100000; model: micro 4, global 8, seq 512.
    assert_eq!(s.cluster.gpus, 1);
    let p = &s.parallelism;
    assert_eq!((p.tp, p.pp, p.micro_batch, p.global_batch), (1, 1, Some(4), 8));
    assert_eq!(s.training.seq_len, 512);
    assert_eq!(s.training.tokens, 100_000.0 * 8.0 * 512.0);
    assert_eq!(s.framework.precision, Precision::Bf16);
    // transformer_engine False, use_flash_attention False: unfused attention.
    assert!(!s.framework.flash_attention);
    assert_eq!(p.zero_stage, 0, "optim.name fused_adam");
    // Unmapped keys are listed: a resolver interpolation and an optimizer setting.
    assert!(err.contains("model.optim.lr"), "{err}");
    assert!(err.contains("model.normalization layernorm"), "{err}");
}

#[test]
fn nemo_llama_recipe_needs_a_vocabulary_and_lists_fp32() {
    // tokenizer.model: ??? and type null: the vocabulary is not in the file.
    let path = format!("{FIX}/nemo_megatron_llama_config.yaml");
    let r = wanka(["import", "nemo", &path, "--chip", "h100-sxm"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("model.vocab") && r.stderr.contains("--vocab"), "{r}");
    let (s, err, _) = import("nemo", "nemo_megatron_llama_config.yaml", &["--chip", "h100-sxm", "--vocab", "32000"]);
    let m = custom(&s);
    // num_layers 32, hidden 4096, ffn 11008, heads 32, num_query_groups 32, fast-swiglu, bias False, rope, untied.
    assert_eq!((m.layers, m.hidden, m.ffn_hidden, m.heads, m.kv_heads, m.vocab), (32, 4096, 11008, 32, 32, 32000));
    assert!(m.gated_ffn && !m.bias && !m.learned_positions && !m.tied_embeddings && !m.dropout);
    // trainer.precision 32 is FP32: not modelled, listed.
    assert!(err.contains("trainer.precision 32"), "{err}");
}

#[test]
fn hf_llama_and_qwen3_moe_configs_import() {
    let (s, _, _) = import("hf", "hf_llama3.1_8b_config.json", &["--chip", "h100-sxm", "--gpus", "64", "--tokens", "1e12"]);
    let m = custom(&s);
    // num_hidden_layers 32, hidden_size 4096, num_attention_heads 32, num_key_value_heads 8,
    // intermediate_size 14336, vocab_size 128256, tie_word_embeddings false, attention_bias false.
    assert_eq!((m.layers, m.hidden, m.heads, m.kv_heads, m.ffn_hidden, m.vocab), (32, 4096, 32, 8, 14336, 128256));
    assert!(m.gated_ffn && !m.tied_embeddings && !m.bias && m.moe.is_none());
    assert_eq!(s.training.tokens, 1e12);
    let (s, err, _) = import("hf", "hf_qwen3_30b_a3b_config.json", &["--chip", "h100-sxm", "--gpus", "64", "--tokens", "1e12"]);
    let m = custom(&s);
    // num_hidden_layers 48, hidden_size 2048, 32 heads, 4 KV heads, head_dim 128, vocab 151936.
    assert_eq!((m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim, m.vocab), (48, 2048, 32, 4, Some(128), 151936));
    // num_experts 128, num_experts_per_tok 8, moe_intermediate_size 768.
    let e = m.moe.as_ref().expect("MoE");
    assert_eq!((e.experts, e.top_k, e.expert_ffn_hidden, e.dense_layers), (128, 8, 768, 0));
    assert!(err.contains("rope_theta"), "{err}");
    // The model is wanka's Qwen3-30B-A3B preset shape (sourced separately in workload::model).
    let preset = wanka_sim::workload::model::preset("qwen3-30b-a3b").unwrap();
    assert_eq!((preset.layers, preset.hidden, preset.heads, preset.kv_heads), (m.layers, m.hidden, m.heads, m.kv_heads));
}

#[test]
fn torchtitan_llama3_configs_import() {
    // [model] flavor → torchtitan's llama3 table (dim, n_layers, n_heads, n_kv_heads) and Llama 3's
    // published FFN widths (Meta 2024, Table 3).
    for (file, layers, hidden, heads, ffn, tp, local, steps, recompute, fp8) in [
        ("torchtitan_llama3_8b.toml", 32, 4096, 32, 14336, 1, 1, 1000u32, Recompute::Selective, false),
        ("torchtitan_llama3_70b.toml", 80, 8192, 64, 28672, 8, 8, 1000, Recompute::Full, false),
        ("torchtitan_llama3_405b.toml", 126, 16384, 128, 53248, 8, 2, 3000, Recompute::Full, true),
    ] {
        let (s, err, _) = import("torchtitan", file, &["--chip", "h100-sxm", "--gpus", "128"]);
        let m = custom(&s);
        assert_eq!((m.layers, m.hidden, m.heads, m.kv_heads, m.ffn_hidden, m.vocab), (layers, hidden, heads, 8, ffn, 128256), "{file}");
        let p = &s.parallelism;
        // data_parallel_shard_degree = -1: the rest of the 128 devices.
        let dp = 128 / tp;
        assert_eq!((p.tp, p.pp, p.dp, p.zero_stage), (tp, 1, dp, 3), "{file}");
        // [training] local_batch_size per data-parallel rank, seq_len 8192, steps.
        assert_eq!((p.micro_batch, p.global_batch), (Some(local), local * dp), "{file}");
        assert_eq!(s.training.seq_len, 8192);
        assert_eq!(s.training.tokens, f64::from(steps) * f64::from(local * dp) * 8192.0, "{file}");
        assert_eq!(p.recompute, recompute, "{file}");
        // converters = ["float8"] only in the 405B file (commented out in the 70B one).
        assert_eq!(s.framework.precision == Precision::Fp8, fp8, "{file}");
        assert_eq!(s.framework.stack, "torchtitan");
        assert!(err.contains("[optimizer] lr"), "{file}: {err}");
    }
}

/// The published-run fields a round trip must keep: model shape, the resolved plan, batch, precision.
fn resolved(s: &Scenario) -> (ModelSpec, wanka_sim::workload::parallelism::Plan, u32, Precision) {
    let r = s.resolve(wanka_sim::Catalog::builtin(), "t").expect("resolves");
    let mut m = r.model;
    m.name = String::new();
    (m, r.plan, s.training.seq_len, s.framework.precision)
}

#[test]
fn export_then_import_round_trips() {
    let dir = temp_dir("interop-roundtrip");
    // DeepSeek-V3's DualPipe has no Megatron-LM or NeMo equivalent (next test).
    for (scenario, nemo_too) in [
        ("scenarios/default.ron", true),
        ("scenarios/examples/llama3-405b-16k.ron", true),
        // DeepSeek-shaped (shared experts, dense layers, MLA): Megatron only, NeMo 1.x recipes lack the keys.
        ("scenarios/examples/gb200-nvl72-576-moe.ron", false),
        ("scenarios/examples/gb200-nvl72-128.ron", true),
    ] {
        let s = Scenario::load(&repo_root().join(scenario)).unwrap();
        let want = resolved(&s);
        let gpus = s.cluster.gpus.to_string();
        // A torchrun node is a host; the scale-up domain (72 on NVL72) is given back as a flag.
        let per_domain = s.cluster.gpus_per_node.to_string();
        let mut tools = vec!["megatron"];
        if nemo_too {
            tools.push("nemo");
        }
        for tool in tools {
            let exported = dir.join(format!("{tool}.out"));
            wanka(["export", tool, scenario, "-o", exported.to_str().unwrap()]).success();
            let back = dir.join("back.ron");
            let r = wanka([
                "import",
                tool,
                exported.to_str().unwrap(),
                "--chip",
                &s.cluster.chip,
                "--gpus",
                &gpus,
                "--gpus-per-node",
                &per_domain,
                "-o",
                back.to_str().unwrap(),
            ])
            .success();
            let t = Scenario::load(&back).unwrap();
            let got = resolved(&t);
            assert_eq!(got.0, want.0, "{tool} model of {scenario}\n{r}");
            assert_eq!(got.1, want.1, "{tool} plan of {scenario}\n{r}");
            assert_eq!((got.2, got.3), (want.2, want.3), "{tool} seq_len/precision of {scenario}");
            // Megatron takes samples (tokens rounded up to a sequence), NeMo steps (up to one global batch).
            let unit = f64::from(s.training.seq_len) * if tool == "nemo" { f64::from(want.1.global_batch) } else { 1.0 };
            let diff = t.training.tokens - s.training.tokens;
            assert!((0.0..unit).contains(&diff), "{tool} tokens {} vs {} of {scenario}", t.training.tokens, s.training.tokens);
        }
    }
}

#[test]
fn deepseek_export_names_what_the_target_cannot_say() {
    let r = wanka(["export", "megatron", "scenarios/examples/deepseek-v3-2048-h800.ron"]).success();
    assert!(r.stdout.contains("# not expressible in Megatron-LM: schedule DualPipe"), "{r}");
    // Node-limited routing (4 nodes) as group-limited routing.
    assert!(r.stdout.contains("--moe-router-group-topk 4"), "{r}");
    let r = wanka(["export", "nemo", "scenarios/examples/deepseek-v3-2048-h800.ron"]).success();
    for want in [
        "not expressible in the recipe: shared experts",
        "moe.dense_layers",
        "multi-head latent attention",
        "DualPipe",
        "uneven pipeline split (1 to 4 layers per chunk over 16 chunks)",
    ] {
        assert!(r.stdout.contains(want), "{want}: {r}");
    }
}

#[test]
fn bad_interop_inputs_name_file_and_place() {
    let dir = temp_dir("interop-bad");
    let cases: [(&str, &str, &str, &[&str]); 5] = [
        ("torchtitan", "bad.toml", "[model]\nname = \"llama3\"\nflavor = \n", &["bad.toml:3"]),
        ("torchtitan", "t.toml", "[model]\nname = \"llama3\"\nflavor = \"9B\"\n", &["[model] flavor", "8B, 70B, 405B"]),
        ("hf", "c.json", "[1, 2]", &["c.json", "one JSON object"]),
        ("megatron", "m.sh", "--num-layers x --hidden-size 64 --num-attention-heads 4", &["--num-layers x (line 1)", "not a whole number"]),
        ("nemo", "n.yaml", "model:\n  num_layers: [\n", &["n.yaml:"]),
    ];
    for (tool, name, text, wants) in cases {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let r = wanka(["import", tool, p.to_str().unwrap(), "--chip", "h100-sxm", "--gpus", "8", "--tokens", "1e9"]);
        assert_eq!(r.code, Some(2), "{r}");
        assert!(!r.stderr.contains("panicked"), "{r}");
        for w in wants {
            assert!(r.stderr.contains(w), "{w}: {r}");
        }
    }
}

#[test]
fn megatron_counted_pipeline_split_imports_and_simulates() {
    // The Megatron-MoE model zoo's Qwen3-235B config passes both account-for flags; a dense stand-in
    // with its 94 layers over PP32 × VPP3 = 96 chunks needs them (94 + 2 = 96 units, an
    // embedding-only first and a loss-only last chunk); without them the split is refused.
    let dir = temp_dir("interop-split");
    let script = dir.join("pretrain.sh");
    std::fs::write(
        &script,
        "torchrun pretrain_gpt.py \\\n  --num-layers 94 --hidden-size 4096 --num-attention-heads 64 \\\n  --group-query-attention --num-query-groups 4 --swiglu --ffn-hidden-size 12288 \\\n  --disable-bias-linear --untie-embeddings-and-output-weights --position-embedding-type rope \\\n  --tokenizer-type NullTokenizer --vocab-size 151935 --seq-length 4096 --max-position-embeddings 4096 \\\n  --tensor-model-parallel-size 2 --pipeline-model-parallel-size 32 --num-virtual-stages-per-pipeline-rank 3 \\\n  --sequence-parallel --use-distributed-optimizer --micro-batch-size 1 --global-batch-size 2048 \\\n  --account-for-embedding-in-pipeline-split --account-for-loss-in-pipeline-split \\\n  --train-iters 10 --bf16\n",
    )
    .unwrap();
    let out = dir.join("imported.ron");
    wanka(["import", "megatron", script.to_str().unwrap(), "--chip", "h100-sxm", "--gpus", "256", "-o", out.to_str().unwrap()]).success();
    let text = std::fs::read_to_string(&out).unwrap();
    let s = Scenario::parse(&text, "imported.ron").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(s.parallelism.pipeline_split, wanka_sim::workload::parallelism::PipelineSplit::EmbeddingAndLoss, "{text}");
    let step = wanka(["step", out.to_str().unwrap()]);
    assert_eq!(step.code, Some(0), "{step}");
    let plain = dir.join("plain.ron");
    std::fs::write(&plain, text.lines().filter(|l| !l.contains("pipeline_split")).collect::<Vec<_>>().join("\n")).unwrap();
    let refused = wanka(["step", plain.to_str().unwrap()]);
    assert_eq!(refused.code, Some(2), "{refused}");
    assert!(refused.stderr.contains("94 layers cannot fill pp·vpp = 96"), "{refused}");
}

#[test]
fn megatron_layout_and_recompute_modules_round_trip() {
    // The DeepSeek-V3 example's split (wanka's balance puts one layer with MTP and loss in the last of
    // 16 stages) is not Megatron's even split, so the export writes it as a layout; its selective
    // recompute modules go out as --recompute-modules. Imported back, both come in as written and the
    // scenario resolves to the same split.
    let dir = temp_dir("interop-layout");
    let example = repo_root().join("scenarios/examples/deepseek-v3-2048-h800.ron");
    let script = dir.join("pretrain.sh");
    wanka(["export", "megatron", example.to_str().unwrap(), "-o", script.to_str().unwrap()]).success();
    let args = std::fs::read_to_string(&script).unwrap();
    assert!(args.contains("--recompute-modules layernorm mla_up_proj"), "{args}");
    let layout = "Et*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|tmL";
    assert!(args.contains(&format!("--pipeline-model-parallel-layout \"{layout}\"")), "{args}");
    let out = dir.join("imported.ron");
    wanka(["import", "megatron", script.to_str().unwrap(), "--chip", "h800-sxm", "--gpus", "2048", "-o", out.to_str().unwrap()]).success();
    let text = std::fs::read_to_string(&out).unwrap();
    let s = Scenario::parse(&text, "imported.ron").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(s.parallelism.pipeline_layout.as_deref(), Some(layout), "{text}");
    use wanka_sim::workload::parallelism::RecomputeModule::{LayerNorm, MlaUpProj};
    assert_eq!(s.parallelism.recompute_modules, Some(vec![LayerNorm, MlaUpProj]), "{text}");
    let original = Scenario::parse(&std::fs::read_to_string(&example).unwrap(), "example").unwrap();
    let catalog = wanka_sim::Catalog::builtin();
    let (a, b) = (original.resolve(catalog, "example").unwrap(), s.resolve(catalog, "imported").unwrap());
    assert_eq!(a.plan.layers_per_chunk, b.plan.layers_per_chunk);
    // A layout that does not add up is refused, naming what is wrong.
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, text.replace(layout, "Et*3|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|t*4|tmL")).unwrap();
    let refused = wanka(["step", bad.to_str().unwrap()]);
    assert_eq!(refused.code, Some(2), "{refused}");
    assert!(refused.stderr.contains("60 transformer layers written, the model has 61"), "{refused}");
}

#[test]
fn megatron_partial_recompute_imports_exports_and_prices() {
    // `--recompute-method block --recompute-num-layers 12` (AMD's Primus Llama 3.1 70B BF16 recipe)
    // recomputes the first 12 layers of every chunk: imported as `recompute_layers`, priced between no
    // and full recomputation, exported back as written; `uniform` over groups of layers stays unmapped.
    let dir = temp_dir("interop-partial-recompute");
    let script = dir.join("pretrain.sh");
    let args = |method: &str, n: u32| {
        format!(
            "torchrun pretrain_gpt.py \\\n  --num-layers 80 --hidden-size 8192 --num-attention-heads 64 \\\n  --group-query-attention --num-query-groups 8 --swiglu --ffn-hidden-size 28672 \\\n  --disable-bias-linear --untie-embeddings-and-output-weights --position-embedding-type rope \\\n  --tokenizer-type NullTokenizer --vocab-size 128256 --seq-length 8192 --max-position-embeddings 8192 \\\n  --tensor-model-parallel-size 8 --pipeline-model-parallel-size 4 --sequence-parallel --use-distributed-optimizer \\\n  --micro-batch-size 1 --global-batch-size 256 --recompute-granularity full --recompute-method {method} --recompute-num-layers {n} \\\n  --train-iters 10 --bf16\n"
        )
    };
    std::fs::write(&script, args("block", 12)).unwrap();
    let out = dir.join("imported.ron");
    wanka(["import", "megatron", script.to_str().unwrap(), "--chip", "h100-sxm", "--gpus", "64", "-o", out.to_str().unwrap()]).success();
    let text = std::fs::read_to_string(&out).unwrap();
    let s = Scenario::parse(&text, "imported.ron").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(s.parallelism.recompute, wanka_sim::workload::parallelism::Recompute::Full, "{text}");
    assert_eq!(s.parallelism.recompute_layers, Some(12), "{text}");
    let step =
        |path: &std::path::Path| wanka(["step", path.to_str().unwrap(), "--json"]).success().json()["result"]["step_s"].as_f64().unwrap();
    let partial = step(&out);
    let full = dir.join("full.ron");
    std::fs::write(&full, text.lines().filter(|l| !l.contains("recompute_layers")).collect::<Vec<_>>().join("\n")).unwrap();
    assert!(partial < step(&full), "12 of 80 layers recomputed costs less than all 80");
    let exported = dir.join("exported.sh");
    wanka(["export", "megatron", out.to_str().unwrap(), "-o", exported.to_str().unwrap()]).success();
    let back = std::fs::read_to_string(&exported).unwrap();
    assert!(back.contains("--recompute-method block") && back.contains("--recompute-num-layers 12"), "{back}");
    // Uniform over groups of 4 (every layer recomputed, one input kept per group) is not modelled: said.
    std::fs::write(&script, args("uniform", 4)).unwrap();
    let run = wanka(["import", "megatron", script.to_str().unwrap(), "--chip", "h100-sxm", "--gpus", "64", "-o", out.to_str().unwrap()])
        .success();
    assert!(run.stderr.contains("uniform recomputation over groups of layers"), "{run}");
    let s = Scenario::parse(&std::fs::read_to_string(&out).unwrap(), "imported.ron").unwrap();
    assert_eq!(s.parallelism.recompute_layers, None);
}
