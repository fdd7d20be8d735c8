"""Builds cases.csv from the transcribed figures (see SOURCES.md). Research/transcription only."""
import csv
HEADER = "id,source,chip,gpus,gpus_per_node,nic_gbps_per_gpu,layers,hidden,heads,kv_heads,ffn_hidden,vocab,seq_len,tp,pp,dp,cp,schedule,vpp,micro_batch,global_batch,recompute,seq_parallel,zero_stage,measured_step_s,measured_tflops_per_gpu,measured_mfu,fabric,topology,pipeline_split,rank_order,overlap_grad_reduce,precision,attention_softmax,stack,optimizer,gated_ffn,head_dim,recompute_modules,confidence,cell,notes".split(',')
rows = []
def add(**kw):
    r = {h: '' for h in HEADER}
    for k, v in kw.items():
        assert k in r, k
        r[k] = str(v)
    rows.append(r)

TPU_CONV = ("TPU convention copied from public_cases.csv maxtext rows: gpus = chips; gpus_per_node = chips per slice "
            "(one ICI domain; slices joined over DCN); nic_gbps_per_gpu 100 = DCN per chip, an ASSUMPTION (not published in the source), "
            "the same value curate.py gives the v5p/v5e rows")

# ---------------- TPU v6e (Trillium), AI-Hypercomputer/tpu-recipes, verbatim step-time log lines ----------------
REC = "AI-Hypercomputer/tpu-recipes"
def v6e(id_, path, tag, model, L, H, nh, kv, ff, V, seq, chips, slices, pdb, step, tfl, tps, tw, recompute, remat_txt, extra, conf='V'):
    per_slice = chips // slices
    gbs = tw // seq
    assert abs(gbs * seq - tw) == 0
    note = (f"{model} (MaxText model yml at {tag}: emb {H}, {nh} query heads, {kv} kv heads, head_dim 128, mlp {ff} SwiGLU ['silu','linear'], vocab {V}). "
            f"Recipe command: benchmark_runner xpk --device_type=v6e-{per_slice} --num_slices={slices}. {extra} "
            f"Remat: {remat_txt}. Synthetic data, flash (splash) attention, checkpointing off, dtype bfloat16 with weight_dtype float32 (base.yml default). "
            f"measured_step_s = the README's verbatim log line 'seconds: {step}' (ONE logged step of a short benchmark, not an average). "
            f"Consistency: total_weights {tw} = {gbs} seqs x {seq} = per_device_batch_size {pdb} x {chips} chips; Tokens/s/device {tps} x {step} s = {tps*step:.0f} = {pdb}x{seq} tokens per chip. "
            f"measured_mfu DERIVED = TFLOP/s/device {tfl} / 918 (v6e bf16 peak), using MaxText's own FLOP count at that tag (causal attention halved since PR #1988). "
            f"Layout: ici_fsdp (ZeRO-3-like) over every chip, no TP/PP -> tp 1, pp 1, dp {chips}, zero_stage 3, optimizer fsdp. {TPU_CONV}. Stack maxtext (exact: MaxText @{tag}).")
    add(id=id_, source=f"{REC} {path} @{'ac200eb' if '8B' in path else '7e88b6d'} (snapshot HEAD c8cfe2f6; recipe pins MaxText {tag})", chip='tpu-v6e', gpus=chips, gpus_per_node=per_slice,
        nic_gbps_per_gpu=100, layers=L, hidden=H, heads=nh, kv_heads=kv, ffn_hidden=ff, vocab=V, seq_len=seq, tp=1, pp=1, dp=chips, cp=1,
        micro_batch=pdb, global_batch=gbs, recompute=recompute, zero_stage=3, measured_step_s=step, measured_tflops_per_gpu=tfl,
        measured_mfu=round(tfl/918, 4), precision='bf16', stack='maxtext', optimizer='fsdp', gated_ffn='true', confidence=conf,
        cell=f"README 'completed step' log line: seconds: {step}, TFLOP/s/device: {tfl}, Tokens/s/device: {tps}, total_weights: {tw}", notes=note)

CUSTOM70 = ("remat_policy=custom with decoder_layer_input, query_proj, key_proj, value_proj = offload (to pinned host memory); every other activation is rematerialised "
            "(jax save_and_offload_only_these_names). Mapped to recompute 'full' as the nearest wanka setting; APPROXIMATION: the QKV projections are offloaded, not recomputed "
            "(QKV is ~10% of a layer's matmul FLOPs, so wanka's full recompute adds roughly 3% more forward work than the run did); host-offload traffic is not modelled")
CUSTOM8 = CUSTOM70.replace("value_proj = offload", "value_proj, out_proj = offload").replace("QKV projections are offloaded", "QKV and output projections are offloaded").replace("(QKV is ~10%", "(QKV+out ~20%").replace("roughly 3%", "roughly 6%")
l70 = "training/trillium/Llama3.1-70B-MaxText/{}/README.md"
for chips, model_name, pdb, step, tfl, tps, tw, extra in [
    (32, 'llama3_1_70b_8192_bs2_bfloat16_no_collective_matmul', 2, 17.790, 443.385, 920.965, 524288, "weight_dtype bfloat16 in this config (parameters and gradients in BF16, not the stack's FP32; no grad_dtype column in this layout) and collective matmul disabled (DISABLE_COLLECTIVE_MATMUL)."),
    (64, 'llama3_1_70b_8192_bs2', 2, 18.688, 422.091, 876.736, 1048576, ""),
    (128, 'llama3_1_70b_8192_bs4', 4, 34.786, 453.500, 941.976, 4194304, ""),
    (256, 'llama3_1_70b_8192', 5, 42.656, 462.297, 960.248, 10485760, "MaxText tiering table (docs reference/models/tiering.md) lists the same run: 256 chips, SL 8192, MFU 50.33%, ~960 tokens/s/device (462.3/918 = 50.36%)."),
]:
    v6e(f"maxtext-llama3.1-70b-tpu-v6e-{chips}-1x", l70.format(f"v6e-{chips}"), 'tpu-recipes-v0.1.4 (9f1820b4)', f"Llama 3.1 70B, model_name {model_name}", 80, 8192, 64, 8, 28672, 128256, 8192,
        chips, 1, pdb, step, tfl, tps, tw, 'full', CUSTOM70, ("XLA flags: DENSE_VMEM_LIMIT, LAYOUT_FOR_ALL_REDUCE_SCATTER, DATA_PARALLEL_OVERLAP, CF_FOR_ALL_GATHER, HOST_OFFLOAD. " + extra).strip())
l8 = "training/trillium/Llama3.1-8B-MaxText/{}/README.md"
for chips, model_name, pdb, step, tfl, tps, tw in [
    (8, 'llama3_1_8b_8192_no_collective_matmul', 3, 3.443, 413.433, 7138.890, 196608),
    (16, 'llama3_1_8b_8192_no_collective_matmul', 3, 3.393, 419.485, 7243.378, 393216),
    (32, 'llama3_1_8b_8192_no_collective_matmul', 3, 3.495, 407.225, 7031.689, 786432),
    (64, 'llama3_1_8b_8192_bs5', 5, 5.652, 419.701, 7247.111, 2621440),
    (128, 'llama3_1_8b_8192', 4, 4.602, 412.319, 7119.648, 4194304),
    (256, 'llama3_1_8b_8192', 4, 4.546, 417.397, 7207.336, 8388608),
]:
    extra = "The README requires patches to the v0.1.4 tag's Docker/requirements (build fixes, not model settings). XLA flags include ENABLE_SPARSECORE_OFFLOADING_FOR_ALL_REDUCE and HOST_OFFLOAD."
    if 'no_collective' in model_name: extra += " Collective matmul disabled in this config."
    if chips == 256: extra += " MaxText tiering table lists the same run: 256 chips, SL 8192, MFU 45.46%, ~7,207 tokens/s/device."
    v6e(f"maxtext-llama3.1-8b-tpu-v6e-{chips}-1x", l8.format(f"v6e-{chips}"), 'tpu-recipes-v0.1.4 (9f1820b4)', f"Llama 3.1 8B, model_name {model_name}", 32, 4096, 32, 8, 14336, 128256, 8192,
        chips, 1, pdb, step, tfl, tps, tw, 'full', CUSTOM8, extra)

v6e("maxtext-mistral-7b-tpu-v6e-8-1x", "training/trillium/Mistral-7B-MaxText/README.md", 'tpu-recipes-v0.1.2 (14b5876e)', "Mistral 7B, model_name mistral_7b (MaxText models/mistral-7b.yml: no sliding window set, full causal attention; rope_max_timescale 1e6)", 32, 4096, 32, 8, 14336, 32000, 8192,
    8, 1, 6, 6.320, 431.981, 7776.813, 393216, 'full', CUSTOM8,
    "Single-host v6e-8 slice. XLA flags include LAYOUT_FOR_ALL_REDUCE_SCATTER, DATA_PARALLEL_OVERLAP, ENABLE_SPARSECORE_OFFLOADING_FOR_ALL_REDUCE, HOST_OFFLOAD and DISABLE_COLLECTIVE_MATMUL. The logged line is step 6 (early in a short run).")
v6e("maxtext-llama3.1-405b-tpu-v6e-512-2x", "training/trillium/Llama3.1-405B-MaxText/README.md", 'tpu-recipes-v0.1.2 (14b5876e)', "Llama 3.1 405B, model_name llama3_1_405b_8192_pure_fsdp_ici", 126, 16384, 128, 8, 53248, 128256, 8192,
    512, 2, 1, 54.803, 392.454, 149.482, 4194304, 'full',
    "remat_policy=custom with only decoder_layer_input = offload: the layer input is the only saved activation (held in host memory) and the whole layer is recomputed in the backward = full recompute (V)",
    "ici_fsdp_parallelism=256 and dcn_fsdp_parallelism=2: parameters are sharded over all 512 chips ACROSS the DCN (not replicated per slice), so weight all-gathers/reduce-scatters cross slices. XLA flags: DENSE_VMEM_LIMIT, CF_FOR_ALL_GATHER, HOST_OFFLOAD. CONFLICT: the MaxText tiering table's Llama 3.1 405B entry (38.55% MFU, ~123 tokens/s/device, '256 Chips') is a different config (llama3_1_405b_8192_fsdp_dcn: ici_fsdp 64 x ici_tensor 4 x dcn_fsdp 2) and is not this row.")
v6e("maxtext-llama2-70b-tpu-v6e-256-1x", "training/trillium/Llama2-70B-MaxText/README.md", 'tpu-recipes-v0.1.2 (14b5876e)', "Llama 2 70B, model_name llama2_70b_4096_sc", 80, 8192, 64, 8, 28672, 32000, 4096,
    256, 1, 2, 9.052, 402.274, 905.021, 2097152, 'full',
    "remat_policy=qkv_proj_offloaded: query/key/value projections offloaded to host, everything else rematerialised; mapped to 'full' (same approximation as the Llama 3.1 70B rows, ~3%)",
    "ici_fsdp_parallelism=1, ici_fsdp_transpose_parallelism=-1 (FSDP over the transposed weight axis, 256-way), ici_tensor_parallelism=1. CONFLICT: the README's workload block (and maxtext_trillium_model_configs.py at tpu-recipes-v0.1.2) says per_device_batch_size 3, but the published log line (total_weights 2097152 = 512 x 4096; 905.021 tokens/s/device x 9.052 s = 8192 tokens = 2 x 4096 per chip; 402.3 TFLOP/s x 9.052 s = 3641 TFLOP per chip, ~6N x 8192 tokens) is a per_device_batch_size-2 run; micro_batch 2 / global_batch 512 follow the log. MaxText tiering table: 256 chips, BF16, SL 4096, MFU 43.8%, ~900 tokens/s/device (consistent with the log).",
    conf='V')
# GPT-3 175B (non-gated GELU) is written by hand
add(id="maxtext-gpt3-175b-tpu-v6e-256-1x", source=f"{REC} training/trillium/GPT3-175B-MaxText/bf16/README.md @7e88b6d (recipe pins MaxText tpu-recipes-v0.1.2 (14b5876e))",
    chip='tpu-v6e', gpus=256, gpus_per_node=256, nic_gbps_per_gpu=100, layers=96, hidden=12288, heads=96, kv_heads=96, ffn_hidden=49152, vocab=50304, seq_len=2048,
    tp=1, pp=1, dp=256, cp=1, micro_batch=3, global_batch=768, recompute='full', zero_stage=3, measured_step_s=17.182, measured_tflops_per_gpu=384.891,
    measured_mfu=round(384.891/918, 4), precision='bf16', stack='maxtext', optimizer='fsdp', gated_ffn='false', confidence='V',
    cell="README 'completed step' log line: seconds: 17.182, TFLOP/s/device: 384.891, Tokens/s/device: 357.580, total_weights: 1572864",
    notes=("GPT-3 175B (MaxText models/gpt3-175b.yml @tpu-recipes-v0.1.2: emb 12288, 96 heads x head_dim 128, mlp 49152 GELU (not gated), 96 layers, vocab 50304, learned position table (trainable_position_size 16384), fused_qkv, tied embeddings logits_via_embedding). "
           "Workload gpt_3_175b_bf16: per_device_batch_size 3, ici_fsdp_parallelism -1 (all 256 chips), remat_policy full (V), flash attention, synthetic data, reuse_example_batch; max_target_length not set -> base.yml default 2048 (total_weights 1572864 = 768 x 2048 confirms). "
           "XLA flags: DENSE_VMEM_LIMIT, CF_FOR_ALL_GATHER, DATA_PARALLEL_OVERLAP, DISABLE_BUNDLE_AWARE_COST_MODEL. measured_step_s = verbatim log 'seconds: 17.182' (one logged step). "
           "Consistency: 357.580 tokens/s/device x 17.182 = 6144 = 3 x 2048. measured_mfu DERIVED = 384.891/918. Layout tp 1 pp 1 dp 256 FSDP (zero 3, optimizer fsdp). " + TPU_CONV + ". Stack maxtext (exact)."))

# ---------------- TPU v4, MaxText README @281e04bf3 (2023-04-27) ----------------
def v4(id_, model, chips_per_slice, slices, tfl, mfu, step, L, H, nh, ff, hd_col, pdb, cfg, cellrow, extra):
    chips = chips_per_slice * slices
    add(id=id_, source="AI-Hypercomputer/maxtext README.md @281e04bf3 (2023-04-27, 'Runtime Performance Results'); same table in MaxText/configs/v4/README.md @76bd53b0f..HEAD",
        chip='tpu-v4', gpus=chips, gpus_per_node=chips_per_slice, nic_gbps_per_gpu=100, layers=L, hidden=H, heads=nh, kv_heads=nh, ffn_hidden=ff, vocab=32768, seq_len=1024,
        tp=1, pp=1, dp=chips, cp=1, micro_batch=pdb, global_batch=pdb*chips, recompute='full', zero_stage=3, measured_step_s=step, measured_tflops_per_gpu=tfl,
        measured_mfu=mfu, precision='bf16', stack='maxtext', optimizer='fsdp', gated_ffn='false', head_dim=hd_col, confidence='D',
        cell=f"README.md @281e04bf3 '{model} model' table, row '{cellrow}': TFLOP/sec/chip = {tfl}, MFU = {mfu*100:.1f}%",
        notes=(f"Synthetic MaxText {model} (2023 T5-style decoder: PARALLEL attention+MLP block with one pre-LayerNorm, ReLU MLP (not gated), T5 relative position biases, QK layernorm, tied embedding logits_via_embedding=True, no biases). "
               f"Shape from the run config {cfg} @281e04bf3 and base.yml there: {extra} vocab 32768, max_target_length 1024, dtype bfloat16. "
               f"Run config: ici_fsdp_parallelism={chips_per_slice}, dcn_data_parallelism={slices} (FSDP inside each slice, pure DP over DCN across slices; the maxtext stack's hybrid_shard models this), per_device_batch_size {pdb}, remat_policy full (V), LIBTPU async all-gather + MEGACORE_DENSE. "
               f"v4-{chips_per_slice*2} = {chips_per_slice} chips (suffix counts TensorCores, 2 per chip, megacore). "
               f"DERIVED step = per-device TFLOP per step / TFLOP/s/chip, using MaxText's formula AT THAT COMMIT (train.py: per_device_tflops = 6 x num_model_parameters x max_target_length x per_device_batch_size; no attention term): "
               f"N computed from the layer code = {'21.945' if model=='22B' else '51.943'}B params -> {'2157.3' if model=='22B' else '3191.4'} TFLOP/step/chip / {tfl} = {step} s. MFU as published uses 275 TF peak. "
               + TPU_CONV + ". Stack maxtext (exact: MaxText @281e04bf3, pre-'maxtext' 2023 code; flash attention did not exist yet - XLA dot-product attention)."))
for slices, tfl, mfu, step, cfgname in [(1,156,0.567,13.829,'1xv4-128.sh'),(2,152,0.552,14.193,'2xv4-128.sh'),(4,149,0.543,14.478,'4xv4-128.sh'),(8,146,0.532,14.776,'8xv4-128.sh (listed in the README; the script itself was committed later, same flags with dcn_data_parallelism=8)')]:
    v4(f"maxtext-22b-tpu-v4-{64*slices}-{slices}x", '22B', 64, slices, tfl, mfu, step, 48, 6144, 24, 24576, '', 16, f"MaxText/configs/{cfgname}", f"{slices}x v4-128",
       "scale=3 x base (emb 2048, 8 heads, mlp 8192, 16 layers) -> emb 6144, 24 heads x head_dim 256 (= hidden/heads), mlp 24576, 48 layers;")
for slices, tfl, mfu, step, cfgname in [(1,154,0.560,20.723,'1xv4-384.sh'),(2,162,0.589,19.700,'2xv4-384.sh')]:
    v4(f"maxtext-52b-tpu-v4-{192*slices}-{slices}x", '52B', 192, slices, tfl, mfu, step, 32, 12288, 32, 49152, 256, 10, f"MaxText/configs/{cfgname}", f"{slices}x v4-384",
       "scale=4 with base_num_decoder_layers=8, base_emb_dim=3072, base_mlp_dim=12288, base_num_heads 8 -> 32 layers, emb 12288, 32 heads x head_dim 256 (attention width 8192 != hidden, so head_dim column set), mlp 49152;"
       + (" The README flags the 2x row: 'quirkily higher than single slice because of choices made by the compiler, not for a fundamental reason'. The 52B figures date from @e286533d8 (2023-03-14, before QK-layernorm was added on 2023-04-11) and were carried unchanged to @281e04bf3." if slices==2 else " The 52B figures date from @e286533d8 (2023-03-14) and were carried unchanged to @281e04bf3."))

# ---------------- PaLM 540B on 6144 TPU v4 ----------------
add(id="palm-540b-tpu-v4-6144", source="Chowdhery et al. 2022, PaLM: Scaling Language Modeling with Pathways (arXiv 2204.02311) §2, Table 1, §4, §4.1, §5 (text copy read via the code index, file id 52968031150)",
    chip='tpu-v4', gpus=6144, gpus_per_node=3072, nic_gbps_per_gpu=100, layers=118, hidden=18432, heads=48, kv_heads=1, ffn_hidden=73728, vocab=256000, seq_len=2048,
    tp=12, pp=1, dp=512, cp=1, global_batch=2048, recompute='full', zero_stage=3, measured_step_s=17.601, measured_mfu=0.462, stack='maxtext', optimizer='fsdp',
    gated_ffn='true', head_dim=256, confidence='D',
    cell="§4.1: 'PaLM 540B achieves an average training throughput of 238.3K tokens/sec at the batch size of 2048'; Table 3: MFU 46.2% (45.7% without self-attention), HFU 57.8%",
    notes=("Shape (V): Table 1 118 layers, 48 heads, d_model 18432, 540.35B params; 'feed-forward size dff is always 4 x dmodel and attention head size is always 256' (so attention width 12288 != hidden: head_dim column 256); "
           "SwiGLU, parallel attention+MLP block, multi-query attention (kv_heads 1), RoPE, shared input-output embeddings, no biases, SentencePiece vocabulary '256k tokens' (256000 taken; it reproduces 540.35B params exactly). Sequence length 2048 (§5). "
           "Layout (V, §4): two TPU v4 pods of 3072 chips (768 hosts each); within a pod every weight is partitioned '12-way model parallelism and 256-way fully sharded data parallelism' ('2D finalized'); "
           "Pathways two-way pod-level data parallelism (each pod holds a full copy, gradients exchanged over DCN) -> tp 12, pp 1 ('without needing to use any pipeline parallelism'), dp 256 x 2 = 512, FSDP within a pod (zero_stage 3, optimizer fsdp; the maxtext stack's hybrid_shard = sharded within the ICI domain, replicated across). "
           "Recompute (V): 'one fully sharded activation tensor is saved from each layer. During the backward pass, the rest of the activations are rematerialized' = full. "
           "DERIVED step = 2048 seqs x 2048 tokens / 238.3K tokens/s = 17.60 s; the throughput is the run AVERAGE at batch 2048 (batch ramp 512 -> 1024 -> 2048; the run also spent 336 h on one pod) and includes the paper's noted lack of overlap of the cross-pod gradient transfer (1.95x of one pod). "
           "micro_batch not published (blank). Precision not stated in §4 (blank = stack default bf16). Optimizer was Adafactor without factorization (~Adam); wanka models Adam. "
           "gpus_per_node 3072 = one pod as the ICI domain (same convention as the MaxText slices); nic 100 Gbit/s per chip is the convention ASSUMPTION (the paper only gives the burst: ~1.3 GB per host pair per step, 81 Tbps aggregate over 1536 hosts). "
           "Stack: PaLM used JAX + T5X on Pathways; 'maxtext' is a STAND-IN (same JAX/XLA SPMD compiler stack)."))

# ---------------- Gaudi2 ----------------
add(id="mds-llama2-7b-gaudi2-8-fp8", source="intel.com/content/www/us/en/developer/platform/gaudi/model-performance-gaudi2-training.html (stored copy, Intel Gaudi software 1.19.0) 'LLM Throughput' table; layout from HabanaAI/Megatron-DeepSpeed README.md @891d6db9 (1.19.0) example",
    chip='gaudi2', gpus=8, gpus_per_node=8, nic_gbps_per_gpu=300, layers=32, hidden=4096, heads=32, kv_heads=32, ffn_hidden=11008, vocab=32000, seq_len=4096,
    tp=1, pp=1, dp=8, cp=1, micro_batch=1, global_batch=1024, recompute='selective', zero_stage=1, measured_step_s=59.474, precision='fp8',
    stack='megatron-deepspeed', optimizer='zero1', gated_ffn='true', confidence='M',
    cell="Gaudi2 page (SynapseAI 1.19.0), LLM Throughput row 'LLaMA V2 7B | 8 | 4096 | FP8 | 1024 | 70523' (tokens/sec)",
    notes=("Throughput (V, stored Intel page 1.19.0): LLaMA V2 7B, 8 HPU, sequence length 4096, FP8, batch size 1024, 70,523 tokens/s (the 1.18.0 page gives 68,464 for the same row). "
           "DERIVED step = 1024 x 4096 / 70523 = 59.47 s, ASSUMING 'Batch Size' is the global batch in sequences and the throughput is the total over the 8 HPUs. "
           "LAYOUT IS AN ASSUMPTION (confidence M): the page publishes no framework, TP/PP, micro-batch or recompute; they are taken from the same-release (1.19.0) HabanaAI/Megatron-DeepSpeed README example 'Run LLaMA 2 7B on 8 HPUs with FP8 precision' "
           "(HL_PP=1 HL_TP=1 HL_DP=8 HL_CKP_ACT=2 (-> --recompute-granularity=selective) HL_SEQ_LEN=4096 HL_ZERO_STAGE=1 HL_USE_FAST_SOFTMAX=1 HL_MICRO_BATCH=1 HL_GRAD_ACCUM_DTYPE=bf16 HL_USE_TRANSFORMER_ENGINE=1 HL_USE_CACHE_FP8_WEIGHT_FWD=1 HL_USE_CACHE_FP8_WEIGHT=1), "
           "whose HPU count, precision, sequence length and the run_llama.sh default GBS for LLaMA 2 (HL_GBS 1024) all match the page row; the page does not say it used this command. "
           "Shape from scripts/run_llama.sh (LLaMA2-7B: 32 layers, 4096 hidden, 32 heads, NUM_KV_HEADS=NHEADS, FFN 11008, SwiGLU), vocab 32000 (Llama 2 SentencePiece tokenizer). Fused SDPA (flash) on by default (HL_USE_FUSED_SDPA=1). "
           "Single HLS-Gaudi2 node: nic_gbps_per_gpu 300 is curate.py's Gaudi2 convention (3 of 24x100GbE ports per card for scale-out, M) and is irrelevant for one node. "
           "Stack: Intel's Megatron-DeepSpeed fork for Gaudi -> 'megatron-deepspeed' is a STAND-IN (same code lineage; HPU kernels and graph mode differ)."))

with open('/work/staging/holdout_new/gaudi_tpu/cases.csv', 'w', newline='') as f:
    w = csv.DictWriter(f, fieldnames=HEADER, lineterminator='\n'); w.writeheader(); w.writerows(rows)
print(len(rows), 'rows')
