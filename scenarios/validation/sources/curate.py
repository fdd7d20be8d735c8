import csv,glob,collections
HEADER=open('staging/nvidia_modern.csv').readline().strip().split(',')
HEADER=[h for h in HEADER]+[]
if 'model' not in HEADER: HEADER.insert(HEADER.index('stack'),'model')
if 'max_nodes_per_token' not in HEADER: HEADER.insert(HEADER.index('confidence'),'max_nodes_per_token')
STACK={'other:megatron-lm-2022':'megatron-lm-2022','other:hai-llm':'deepseek-v3','other:metaseq':'fairscale-fsdp','paxml':'paxml'}
NIC={'h100-sxm':(400,'DGX/HGX H100: 8x400G ConnectX-7 per 8 GPUs (system datasheet, M)'),
     'a100-sxm-80gb':(200,'DGX A100: 8x200G HDR per 8 GPUs (system datasheet, M)'),
     'a100-sxm-40gb':(200,'DGX A100: 8x200G HDR per 8 GPUs (system datasheet, M)'),
     'h800-sxm':(400,'DeepSeek clusters: 8x400G IB per node (DeepSeek-V3 report section 3.1, S)'),
     'ascend-910b':(200,'Atlas 800T A2: 8x200GE RoCE per 8 NPUs (Huawei datasheet, M)'),
     'gaudi2':(300,'HLS-Gaudi2: 3 of 24x100GbE ports per card for scale-out (Intel datasheet, M)')}
out=[];skipped=[]
for f in sorted(glob.glob('staging/*.csv')):
    for r in csv.DictReader(open(f)):
        why=None
        if not r['measured_step_s']: why='no step time published'
        elif not (r['tp'] and r['pp'] and r['dp']): why='layout (tp/pp/dp) not published'
        elif r['id'].startswith('torchtitan') and r['chip']=='h100-sxm': why='Grand Teton H100 96 GB HBM2e at 500 W: not the catalog h100-sxm (issue 20: H100 96 GB variant)'
        elif r['id']=='opt-175b-a100-992': why='global batch 1024 not divisible by dp 124: the published figures are inconsistent (D confidence)'
        elif r['id']=='mbridge2606-llama31-405b-gb200-256-mxfp8': why='126 layers over pp16 x vpp8 needs uneven first/last stages (account-for-embedding split), not expressible'
        if why: skipped.append((r['id'],why)); continue
        r=dict(r)
        r['stack']=STACK.get(r['stack'],r['stack'])
        if r['chip']=='gaudi2' and not r['stack']: r['stack']='megatron-deepspeed'
        if 'dgxc' in r['id'] or (f.endswith('nvidia_modern.csv') and r['stack']=='megatron-core'): r['stack']='nemo'
        if r['chip'].startswith('tpu'):
            n=int(r['gpus']); mult=1
            import re
            m=re.search(r'-(\d+)x$', r['id'])
            if m: mult=int(m.group(1))
            r['gpus_per_node']=str(n//mult)
            if not r['nic_gbps_per_gpu']:
                r['nic_gbps_per_gpu']='100'; r['notes']+=' | curation: whole slice is one ICI domain (gpus_per_node = chips per slice); DCN between slices taken as 100 Gbit/s per chip (assumption: not published in the source)'
            if r['fabric']=='tpu-ici': r['fabric']=''
        if not r['nic_gbps_per_gpu']:
            nic,src=NIC[r['chip']]
            r['nic_gbps_per_gpu']=str(nic); r['notes']+=f' | curation: nic_gbps_per_gpu {nic} from {src}'
        if 'deepseek-v3-like' in r['notes'] or 'dsv3' in r['id'] or 'deepseek-v3' in r['id']:
            r['model']='deepseek-v3-like'
        if r['schedule'].startswith('other:'):
            r['notes']+=f" | curation: schedule {r['schedule']} is not a wanka schedule; simulated as 1F1B with the stack's overlapped MoE communication (DualPipe's own schedule is not modelled)"
            r['schedule']=''
        for k in ('measured_mfu',):
            v=r[k].strip()
            if v.endswith('%'): r[k]=str(round(float(v[:-1])/100,4))
            elif v and float(v)>1.5: r[k]=str(round(float(v)/100,4))
        if not r['vocab']:
            fill={'modellink-internlm-65b-910b-32':('103168','InternLM tokenizer (InternLM config, M)'),'modellink-gpt3-175b-910b-128':('50257','GPT-2 BPE tokenizer of GPT-3 (Brown et al. 2020, V)')}[r['id']]
            r['vocab']=fill[0]; r['notes']+=f' | curation: vocab {fill[0]} from {fill[1]}'
        if r['gpus_per_node']=='72' and int(r['gpus'])%72:
            n=int(r['gpus']); d=max(k for k in range(4,73,4) if n%k==0)
            r['gpus_per_node']=str(d); r['notes']+=f' | curation: NVL72 job of {n} GPUs described as NVLink domains of {d} (partial racks are not expressible yet: issue 20)'
        if r['id'].startswith('fmsfsdp-llama2-70b') or r['id'].startswith('maxtext-128b-tpu-v5e'):
            r['notes']+=f" | curation: recompute '{r['recompute']}' in the source is not Megatron's selective recompute (fms-fsdp: every k-th layer; MaxText remat policy), left blank: the least recompute that fits is used"
            r['recompute']=''
        if r['stack']=='torchtitan' and int(r['tp'])>1 and not r['seq_parallel']:
            r['seq_parallel']='true'; r['notes']+=' | curation: seq_parallel true (torchtitan TP plan shards norms with SequenceParallel)'
        r.setdefault('model',''); r.setdefault('max_nodes_per_token','')
        out.append(r)
ids=collections.Counter(r['id'] for r in out)
assert all(v==1 for v in ids.values()), [k for k,v in ids.items() if v>1]
for name,sel in [('public_cases.csv',lambda r: not r['experts']),('moe_cases.csv',lambda r: bool(r['experts']))]:
    with open('scenarios/validation/'+name,'w',newline='') as fo:
        w=csv.DictWriter(fo, fieldnames=HEADER, lineterminator='\n', extrasaction='ignore'); w.writeheader(); w.writerows([r for r in out if sel(r)])
print(len(out),'rows;',len(skipped),'skipped'); print(skipped)
print(collections.Counter(r['stack'] for r in out))
