import csv
H="id,source,chip,gpus,gpus_per_node,nic_gbps_per_gpu,layers,hidden,heads,kv_heads,ffn_hidden,vocab,seq_len,tp,pp,dp,cp,schedule,vpp,micro_batch,global_batch,recompute,seq_parallel,zero_stage,measured_step_s,measured_tflops_per_gpu,measured_mfu,fabric,topology,pipeline_split,rank_order,overlap_grad_reduce,precision,attention_softmax,stack,optimizer,gated_ffn,head_dim,recompute_modules,confidence,cell,notes".split(",")
MOE=["ep","experts","top_k","moe_ffn_hidden","shared_experts","dense_layers","moe_dispatcher","routing"]
HM=H[:H.index("confidence")]+MOE+H[H.index("confidence"):]
L8=dict(layers=32,hidden=4096,heads=32,kv_heads=8,ffn_hidden=14336,vocab=128256,gated_ffn="true")
L70=dict(layers=80,hidden=8192,heads=64,kv_heads=8,ffn_hidden=28672,vocab=128256,gated_ffn="true")
PROJ=("AMD ROCm performance-results page (amd.com/en/developer/resources/rocm-hub/dev-ai/performance-results.html#ai-training, rocm/primus:v26.1, Jan 21 2026) as quoted by "
      "ROCm/rocm-blogs blogs/software-tools-optimization/primus-projection/README.md @5f2d6c15 (Primus Projection blog, 14 May 2026) and AMD-AGI/Primus docs_deprecated/tech_blogs/projection/projection.md @fd1eeabb; "
      "run settings from AMD-AGI/Primus docs/02-user-guide/megatron-lm-training.md @fd1eeabb section 'Multi-node' + examples/megatron/configs/MI300X/*.yaml")
def step(gbs,seq,tps,g): return round(gbs*seq/(tps*g),3)
rows=[]
s=32/30.67864
rows.append(dict(id="mlperf51-llama31-8b-fp8-mi355x-8",
 source="MLPerf Training v5.1 closed, AMD MI355X_EPYC_9575F_pytorch, llama31_8b (github mlcommons/training_results_v5.1 @441d65f4: AMD/results/MI355X_EPYC_9575F_pytorch/llama31_8b/result_0..9.txt; AMD/benchmarks/llama31_8b/implementations/MI355X_EPYC_9575F_pytorch_llama3_8b/{config_MI355X_1x8x1_8b.sh,src/train.py}; AMD/systems/MI355X_EPYC_9575F_pytorch.json)",
 chip="mi355x",gpus=8,gpus_per_node=8,nic_gbps_per_gpu=400,seq_len=8192,tp=1,pp=1,dp=8,cp=1,micro_batch=2,global_batch=32,recompute="none",seq_parallel="false",zero_stage=1,
 measured_step_s=round(s,3),overlap_grad_reduce="false",precision="fp8",stack="nemo",optimizer="distributed",confidence="D",
 cell="result_0..9.txt MLLOG block_start/block_stop timestamps (12288 samples per block; first block of each run excluded as warm-up): 134 blocks, mean 30.679 samples/s (tracked_stats 'throughput' 30.15-30.75 samples/s); GBS 32",
 notes=("DERIVED step = GBS / (samples/s) = 32 / 30.679 = %.3f s (V: timestamps read in the 10 published logs; training blocks only, eval excluded) = 31,415 tokens/s/GPU. "
  "Layout V: config_MI355X_1x8x1_8b.sh GBS=32 MBS=2 TP=1 PP=1 CP=1 NNODES=1 GPUS_PER_NODE=8 (dp=8, grad accumulation 2 per MLLOG); seq 8192 (MLLOG max_sequence_length). "
  "train.py: NeMo 2 (v2.5.0rc0 + patch) on ROCm/Megatron-LM @5c34c4cf, Llama31Config8B, OptimizerConfig adam use_distributed_optimizer=True bf16, MegatronMixedPrecision bf16-mixed grad_reduce_in_fp32=False, "
  "fp8='hybrid' delayed scaling (amax_history_len 4, most_recent), fp8_params=True, fp8_param_gather=True, fp8_dot_product_attention=False (attention in BF16; CK fused attention v3). "
  "No recompute setting in train.py (NeMo Llama31Config8B default: none). overlap_grad_reduce=false: DistributedDataParallelConfig built without overlap_grad_reduce/overlap_param_gather, so Megatron-core defaults (False) apply (S: Megatron-core distributed_data_parallel_config.py default). "
  "stack nemo = closest profile (NeMo 2 + Megatron-core, BF16 grad reduce); TP comm overlap irrelevant at TP1. Single node (XGMI), no NIC used. Llama 3.1 8B shape from NeMo Llama31Config8B / HF config (32L, 4096, 32 heads, 8 KV, FFN 14336, vocab 128256). "
  "MI355X system 'SMCI355X (AS -4126GS-NMR-LCC)', ROCm 7.0.0, PyTorch 2.8 (systems json).") % s, **L8))
# single node MI325X 8B FP8 (projection blog 1-Node column)
rows.append(dict(id="primus-v26.1-llama31-8b-fp8-mi325x-8",source=PROJ,chip="mi325x",gpus=8,gpus_per_node=8,nic_gbps_per_gpu=400,seq_len=8192,tp=1,pp=1,dp=8,cp=1,
 micro_batch=2,global_batch=128,recompute="none",seq_parallel="false",zero_stage=1,measured_step_s=step(128,8192,16224,8),overlap_grad_reduce="true",precision="fp8",stack="megatron-core",optimizer="distributed",confidence="S",
 cell="Primus Projection blog, table 'AMD Instinct MI325X GPU - Dense Models (Llama 3.1)', row 'Llama 3.1 8B | FP8 | 2 | 8192 | No | 1 | 1 | 1 | 1', column '1-Node (tok/s/GPU)' = 16,224",
 notes=("DERIVED step = GBS*seq/(tok/s/GPU*GPUs) = 128*8192/(16224*8) = %.3f s. S: the 1-node figure is the projection blog's single-node benchmark (the blog says the 8-node column is from the AMD results page; the 1-node column is its own benchmark input, so this is weaker than the 8-node rows). "
  "TP/PP/CP/EP=1, MBS 2, seq 8192, no FSDP: blog table (V in the blog). GBS 128 assumed = examples/megatron/configs/MI300X/llama3.1_8B-FP8-pretrain.yaml global_batch_size (the gfx942 config AMD's docs use for MI300X/MI325X; v26.2 and HEAD identical); "
  "config also gives overlap_grad_reduce true, overlap_param_gather true, fp8: hybrid (TE delayed scaling assumed: Megatron default fp8_recipe), no recompute setting (Megatron default none), distributed optimizer (primus/configs/modules/megatron/pre_trainer.yaml use_distributed_optimizer: true). "
  "stack megatron-core = stand-in for Primus (AMD Megatron-LM fork + Primus-Turbo/AITER attention). Container rocm/primus:v26.1.") % step(128,8192,16224,8), **L8))
rows.append(dict(id="primus-v26.1-llama31-8b-fp8-mi325x-64",source=PROJ,chip="mi325x",gpus=64,gpus_per_node=8,nic_gbps_per_gpu=400,seq_len=8192,tp=1,pp=1,dp=64,cp=1,
 micro_batch=2,global_batch=1024,recompute="none",seq_parallel="false",zero_stage=1,measured_step_s=step(1024,8192,16186,64),overlap_grad_reduce="true",precision="fp8",stack="megatron-core",optimizer="distributed",confidence="S",
 cell="Primus Projection blog, table 'AMD Instinct MI325X GPU - Dense Models (Llama 3.1)', row 'Llama 3.1 8B | FP8 | 2 | 8192 | No | 1 | 1 | 1 | 1', column 'Measured 8-Node (tok/s/GPU)' = 16,186 (same in the deprecated Primus copy)",
 notes=("DERIVED step = 1024*8192/(16186*64) = %.3f s. S: figure quoted by AMD's Primus Projection blog from the AMD ROCm performance-results page (rocm/primus:v26.1); the primary page could not be read here. "
  "TP/PP/CP/EP=1, MBS 2, seq 8192, no FSDP: blog table. GBS 1024: Primus megatron-lm-training.md multi-node example 'Llama3.1-8B FP8, 8 nodes: ... --global_batch_size 1024' ('global_batch_size: 8 * #single_node_bs'), taken as the published run's setting (assumed: the doc is AMD's reproduction recipe, not a log of that run). "
  "Other settings from llama3.1_8B-FP8-pretrain.yaml: overlap_grad_reduce/param_gather true, fp8 hybrid (delayed scaling assumed), distributed optimizer, no recompute. NIC and fabric of AMD's MI325X cluster not stated (blank). stack megatron-core = stand-in for Primus Megatron.") % step(1024,8192,16186,64), **L8))
rows.append(dict(id="primus-v26.1-llama31-70b-fp8-fsdp-mi325x-64",source=PROJ,chip="mi325x",gpus=64,gpus_per_node=8,nic_gbps_per_gpu=400,seq_len=8192,tp=1,pp=1,dp=64,cp=1,
 micro_batch=4,global_batch=256,recompute="full",seq_parallel="false",zero_stage=3,measured_step_s=step(256,8192,1726,64),overlap_grad_reduce="true",precision="fp8",stack="megatron-core",optimizer="fsdp",confidence="S",
 cell="Primus Projection blog, table 'AMD Instinct MI325X GPU - Dense Models (Llama 3.1)', row 'Llama 3.1 70B | FP8 | 4 | 8192 | Yes | 1 | 1 | 1 | 1', column 'Measured 8-Node (tok/s/GPU)' = 1,726",
 notes=("DERIVED step = 256*8192/(1726*64) = %.3f s. S: figure quoted by the Primus Projection blog from the AMD results page (rocm/primus:v26.1). FSDP yes, TP/PP/CP/EP 1, MBS 4, seq 8192: blog table. "
  "GBS 256 and full recompute of all 80 layers: Primus megatron-lm-training.md 'Llama3.1-70B FP8, 8 nodes: ... --micro_batch_size 4 --global_batch_size 256 --recompute_num_layers 80' (MBS matches the blog; taken as the run's settings, assumed) with llama3.1_70B-FP8-pretrain.yaml recompute_granularity full, method block, use_torch_fsdp2 true, use_distributed_optimizer false, overlap_grad_reduce true, fp8 hybrid (delayed scaling assumed), no_fp8_weight_transpose_cache true. "
  "optimizer fsdp = PyTorch FSDP2 inside Megatron (ZeRO-3). seq_parallel left false (config sequence_parallel: 1 has no effect at TP1). stack megatron-core = stand-in for Primus Megatron.") % step(256,8192,1726,64), **L70))
rows.append(dict(id="primus-v26.1-llama31-70b-bf16-fsdp-mi325x-64",source=PROJ,chip="mi325x",gpus=64,gpus_per_node=8,nic_gbps_per_gpu=400,seq_len=8192,tp=1,pp=1,dp=64,cp=1,
 micro_batch=1,global_batch=256,recompute="",seq_parallel="false",zero_stage=3,measured_step_s=step(256,8192,1174,64),overlap_grad_reduce="true",precision="bf16",stack="megatron-core",optimizer="fsdp",confidence="S",
 cell="Primus Projection blog, table 'AMD Instinct MI325X GPU - Dense Models (Llama 3.1)', row 'Llama 3.1 70B | BF16 | 1 | 8192 | Yes | 1 | 1 | 1 | 1', column 'Measured 8-Node (tok/s/GPU)' = 1,174",
 notes=("DERIVED step = 256*8192/(1174*64) = %.3f s. S: figure quoted by the Primus Projection blog from the AMD results page (rocm/primus:v26.1). FSDP yes, TP/PP/CP/EP 1, MBS 1, seq 8192: blog table. "
  "GBS 256: Primus megatron-lm-training.md 'Llama3.1-70B BF16, 8 nodes: ... --micro_batch_size 1 --global_batch_size 256 --recompute_num_layers 12' (assumed to be the run's settings). "
  "recompute left BLANK on purpose: the recipe recomputes 12 of 80 layers in full (recompute_granularity full, method block), which wanka's none/selective/full cannot express; the Primus deep-dive blog also says the 8-node 70B run relaxes recompute to a subset of layers. "
  "use_torch_fsdp2 true, use_distributed_optimizer false, overlap_grad_reduce true (llama3.1_70B-BF16-pretrain.yaml). stack megatron-core = stand-in for Primus Megatron.") % step(256,8192,1174,64), **L70))
NIC1="nic_gbps_per_gpu 400: ASSUMED only because wanka requires a number; single-node run, no NIC on the data path (the MLPerf systems json lists only 4x10G host Ethernet)."
NIC8="nic_gbps_per_gpu 400: ASSUMED (not stated by the source): AMD Instinct 8-GPU platforms are built with one 400G RDMA NIC per GPU (e.g. Zyphra/IBM MI300X cluster 8x400G Pollara per node); fabric left blank."
for r in rows: r["notes"]+=" | "+(NIC1 if r["gpus"]==8 else NIC8)
with open("dense.csv","w",newline="",encoding="utf-8") as f:
  w=csv.DictWriter(f,fieldnames=H,lineterminator="\n"); w.writeheader()
  for r in rows: w.writerow({k:r.get(k,"") for k in H})
m=[]
MX=dict(layers=56,hidden=6144,heads=48,kv_heads=8,ffn_hidden=16384,vocab=32768,gated_ffn="true")
st=step(512,8192,3475,64)
m.append(dict(id="primus-v26.2-mixtral-8x22b-bf16-mi355x-64",
 source="AMD ROCm performance-results page (rocm/primus:v26.2, Apr 4 2026) as quoted by ROCm/rocm-blogs blogs/software-tools-optimization/primus-projection/README.md @5f2d6c15 (Primus Projection blog); settings from AMD-AGI/Primus docs/02-user-guide/megatron-lm-training.md @fd1eeabb and examples/megatron/configs/MI355X/mixtral_8x22B_v0.1-BF16-pretrain.yaml @v26.2 (1ec29c67)",
 chip="mi355x",gpus=64,gpus_per_node=8,nic_gbps_per_gpu=400,seq_len=8192,tp=1,pp=4,dp=16,cp=1,schedule="interleaved",vpp=2,micro_batch=1,global_batch=512,recompute="",seq_parallel="false",zero_stage=1,
 measured_step_s=st,overlap_grad_reduce="true",precision="bf16",stack="megatron-core",optimizer="distributed",
 ep=8,experts=8,top_k=2,moe_ffn_hidden=16384,shared_experts=0,dense_layers=0,moe_dispatcher="alltoall",routing="forced",confidence="S",
 cell="Primus Projection blog, table 'AMD Instinct MI355X GPU - MoE Models (Mixtral 8x22B)', row 'Mixtral 8x22B | BF16 | 1 | 8192 | 1 | 4 | 2 | 1 | 8', column 'Measured 8-Node (tok/s/GPU)' = 3,475",
 notes=("DERIVED step = 512*8192/(3475*64) = %.3f s. S: quoted by the Primus Projection blog from the AMD results page; the blog's target config 'TP=1, PP=4, VPP=2, EP=8, CP=1, DP=16 (8 nodes)'. "
  "TP1 PP4 VPP2 CP1 EP8, MBS 1, seq 8192: blog table. GBS 512 ASSUMED from Primus megatron-lm-training.md 'Mixtral-8x22B BF16, 4 nodes, MI355X: --micro_batch_size 1 --global_batch_size 512 --num_virtual_stages_per_pipeline_rank 2 --pipeline_model_parallel_size 4 --expert_model_parallel_size 8 --recompute_num_layers 1' "
  "(CONFLICT: that recipe is for 4 nodes, the blog says 8 nodes; the AMD ROCm 7.0 MI355X blog also shows Mixtral 8x22B at 4 nodes; the 8-node GBS is not published). recompute left blank: recipe recomputes 1 layer per stage chunk in full (block), not expressible. "
  "Config @v26.2: moe_router_force_load_balancing true (routing forced), alltoall dispatcher (mixtral_base.yaml), moe_grouped_gemm, overlap_grad_reduce/param_gather true, distributed optimizer (pre_trainer.yaml). "
  "Earlier figure in the deprecated Primus copy of the blog: MBS 2, 3,534 tok/s/GPU (older container). Shape: Primus mixtral_8x22B_v0.1.yaml (56L, 6144, 48 heads, 8 KV groups, expert FFN 16384, 8 experts top-2); vocab 32768 = HF Mixtral-8x22B-v0.1 config (M: recalled, not read here). "
  "pipeline split: 56 layers over 4x2 chunks = 7 each (even). stack megatron-core = stand-in for Primus Megatron.") % st, **MX))
for r in m: r["notes"]+=" | "+NIC8
with open("moe.csv","w",newline="",encoding="utf-8") as f:
  w=csv.DictWriter(f,fieldnames=HM,lineterminator="\n"); w.writeheader()
  for r in m: w.writerow({k:r.get(k,"") for k in HM})
