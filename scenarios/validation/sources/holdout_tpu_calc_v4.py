# MaxText @281e04bf3 (2023-04-27) parameter count and step-time inversion for the TPU v4 README table.
def params(emb, heads, hd, mlp, layers, vocab, qknorm=True):
    attn = 4*emb*heads*hd              # query,key,value,out DenseGeneral, no bias
    mlpp = 2*emb*mlp                   # relu: wi + wo
    ln = emb                           # one pre_self_attention_layer_norm (parallel block), scale only
    relpos = 32*heads                  # RelativePositionBiases num_buckets=32
    qk = 2*hd if qknorm else 0         # query/key layer norms (added a91860e96, 2023-04-11)
    return layers*(attn+mlpp+ln+relpos+qk) + vocab*emb + emb   # shared embedding + decoder_norm
cases = {'22b': (6144,24,256,24576,48,32768, 16, 1024, [(1,156),(2,152),(4,149),(8,146)]),
         '52b': (12288,32,256,49152,32,32768, 10, 1024, [(1,154),(2,162)])}
for k,(e,h,hd,m,l,v,pdb,seq,rows) in cases.items():
    N = params(e,h,hd,m,l,v)
    tfl = 6*N*seq*pdb/1e12
    print(k, 'N=%.4fB'%(N/1e9), 'per-device TFLOP/step=%.2f'%tfl)
    for s,t in rows: print('  %dx'%s, t, 'step=%.3f s'%(tfl/t), 'MFU=%.3f'%(t/275))
