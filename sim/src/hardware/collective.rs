//! Collective communication costs with the α–β model, over the links a group actually crosses.
//!
//! `time = steps · α + volume / β`, where α is the per-step latency of the bottleneck hop and β the
//! effective per-rank bandwidth there (link rate × the fabric's collective efficiency ÷ oversubscription,
//! see [`crate::hardware::topology::Cluster::group_path`]).
//!
//! Algorithms: **ring** (bandwidth-optimal, `n−1` latency steps per phase), **tree** (NCCL double binary
//! tree: `log2 n` latency steps, ring bandwidth), **hierarchical** (reduce-scatter inside the node,
//! all-reduce between nodes on `1/k` of the data per rank, all-gather inside the node; credits every
//! NIC of a node). `Auto` picks the cheaper of ring and tree for all-reduce and ring otherwise, as NCCL
//! does for large messages; hierarchical is used only when a scenario asks for it.
//!
//! Oversubscribed tiers slow rings only as far as each leaf/pod holds few members of the group
//! (see [`crate::hardware::topology::Cluster::group_path`]); all-to-all pays the full ratio on the share of its
//! bytes that leaves the node, while the share for peers in the same node moves over the scale-up links
//! at the same time.
//!
//! Simplification (documented, deliberate): a flat ring that spans nodes is charged each rank's own
//! NIC bandwidth, i.e. NCCL's striping of one ring over all rails of a node is not credited. This is the
//! convention of analytic planners and matches the measured collapse of ZeRO-3 without model
//! parallelism in Megatron-LM SC21 Table 2. In-network reduction (SHARP/NVLS) halves the all-reduce
//! volume when enabled and supported by the fabric.

use serde::{Deserialize, Serialize};

use crate::hardware::topology::{GroupPath, Tier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Collective {
    AllReduce,
    AllGather,
    ReduceScatter,
    AllToAll,
    /// Point-to-point send of one buffer to one peer.
    SendRecv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Algorithm {
    #[default]
    Auto,
    Ring,
    Tree,
    Hierarchical,
}

/// Cost of one collective on a group of `n` ranks.
///
/// `bytes` is the per-rank buffer for all-reduce, the full (gathered) buffer for all-gather and
/// reduce-scatter, what each rank sends in total for all-to-all, and the message for send/recv.
pub fn time_s(op: Collective, algo: Algorithm, bytes: f64, n: u64, path: &GroupPath, in_network_reduction: bool) -> f64 {
    if n <= 1 || bytes <= 0.0 {
        return 0.0;
    }
    let nf = n as f64;
    let frac = (nf - 1.0) / nf;
    let a = path.step_latency_s;
    let bw = path.ring_bytes_per_s;
    let sharp = in_network_reduction && path.in_network_reduction && path.tier != Tier::ScaleUp;
    match op {
        Collective::SendRecv => a + bytes / bw,
        Collective::AllToAll => {
            // The share bound for ranks in the same node rides the scale-up links, in parallel with
            // the share that crosses the scale-out network.
            let local = (path.ranks_per_node.min(n) as f64 - 1.0).max(0.0) / nf;
            let remote = (frac - local).max(0.0);
            let t = if path.tier == Tier::ScaleUp {
                frac * bytes / path.all_to_all_bytes_per_s
            } else {
                (remote * bytes / path.all_to_all_bytes_per_s).max(local * bytes / path.scale_up_bytes_per_s)
            };
            (nf - 1.0) * a + t
        }
        Collective::AllGather | Collective::ReduceScatter => match algo {
            Algorithm::Hierarchical if path.ranks_per_node > 1 && path.nodes > 1 => hierarchical_phase(bytes, path),
            _ => (nf - 1.0) * a + frac * bytes / bw,
        },
        Collective::AllReduce => {
            let ring = 2.0 * (nf - 1.0) * a + 2.0 * frac * bytes / bw;
            let tree = 2.0 * nf.log2().ceil() * a + 2.0 * frac * bytes / bw;
            let sharp_t = 2.0 * a + bytes / bw;
            match algo {
                _ if sharp => sharp_t,
                Algorithm::Ring => ring,
                Algorithm::Tree => tree,
                Algorithm::Auto => ring.min(tree),
                Algorithm::Hierarchical if path.ranks_per_node > 1 && path.nodes > 1 => 2.0 * hierarchical_phase(bytes, path),
                Algorithm::Hierarchical => ring.min(tree),
            }
        }
    }
}

/// One reduce-scatter (or all-gather) phase done hierarchically: inside the node on the full buffer,
/// then across nodes on `1/k` of it per rank.
fn hierarchical_phase(bytes: f64, p: &GroupPath) -> f64 {
    let k = p.ranks_per_node as f64;
    let nodes = p.nodes as f64;
    let intra = (k - 1.0) * p.scale_up_latency_s + (k - 1.0) / k * bytes / p.scale_up_bytes_per_s;
    let inter = (nodes - 1.0) * p.step_latency_s + (nodes - 1.0) / nodes * (bytes / k) / p.scale_out_bytes_per_s;
    intra + inter
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(tier: Tier, rpn: u64, nodes: u64) -> GroupPath {
        GroupPath {
            tier,
            ranks_per_node: rpn,
            nodes,
            ring_bytes_per_s: if tier == Tier::ScaleUp { 240e9 } else { 21e9 },
            single_rail_ring_bytes_per_s: if tier == Tier::ScaleUp { 240e9 } else { 21e9 },
            all_to_all_bytes_per_s: if tier == Tier::ScaleUp { 240e9 } else { 21e9 },
            scale_up_bytes_per_s: 240e9,
            scale_out_bytes_per_s: 21e9,
            step_latency_s: if tier == Tier::ScaleUp { 3e-6 } else { 6e-6 },
            scale_up_latency_s: 3e-6,
            in_network_reduction: true,
        }
    }

    #[test]
    fn ring_all_reduce_moves_twice_the_data() {
        let p = path(Tier::ScaleUp, 8, 1);
        let t = time_s(Collective::AllReduce, Algorithm::Ring, 240e9, 8, &p, false);
        let want = 2.0 * 7.0 * 3e-6 + 2.0 * 7.0 / 8.0;
        assert!((t - want).abs() < 1e-12);
        let ag = time_s(Collective::AllGather, Algorithm::Ring, 240e9, 8, &p, false);
        assert!((2.0 * ag - t).abs() < 1e-12);
    }

    #[test]
    fn latency_dominates_small_messages_on_long_rings() {
        let p = path(Tier::Spine, 1, 1024);
        let ring = time_s(Collective::AllReduce, Algorithm::Ring, 1e3, 1024, &p, false);
        let tree = time_s(Collective::AllReduce, Algorithm::Tree, 1e3, 1024, &p, false);
        assert!(ring > 50.0 * tree);
        assert_eq!(time_s(Collective::AllReduce, Algorithm::Auto, 1e3, 1024, &p, false), tree);
    }

    #[test]
    fn hierarchical_credits_all_nics_and_sharp_halves() {
        let p = path(Tier::Spine, 8, 48);
        let flat = time_s(Collective::AllGather, Algorithm::Ring, 350e9, 384, &p, false);
        let hier = time_s(Collective::AllGather, Algorithm::Hierarchical, 350e9, 384, &p, false);
        assert!(hier < flat / 4.0, "{hier} vs {flat}");
        let ar = time_s(Collective::AllReduce, Algorithm::Ring, 1e9, 48, &p, false);
        let sharp = time_s(Collective::AllReduce, Algorithm::Ring, 1e9, 48, &p, true);
        assert!(sharp < 0.6 * ar);
    }

    #[test]
    fn all_to_all_sends_only_the_remote_share_over_the_network() {
        // 64 ranks, 8 per node: 56/64 of the bytes cross the network, 7/64 stay on NVLink.
        let p = path(Tier::Spine, 8, 8);
        let t = time_s(Collective::AllToAll, Algorithm::Auto, 64e6, 64, &p, false);
        let want = 63.0 * 6e-6 + 56e6 / 21e9;
        assert!((t - want).abs() < 1e-9, "{t} vs {want}");
        // Two nodes: half the bytes stay inside the node, so it takes about half as long as 16 nodes of 1.
        let two = time_s(Collective::AllToAll, Algorithm::Auto, 64e6, 16, &path(Tier::Leaf, 8, 2), false);
        let spread = time_s(Collective::AllToAll, Algorithm::Auto, 64e6, 16, &path(Tier::Leaf, 1, 16), false);
        assert!(two < 0.6 * spread, "{two} vs {spread}");
    }

    #[test]
    fn single_rank_is_free() {
        let p = path(Tier::ScaleUp, 1, 1);
        assert_eq!(time_s(Collective::AllReduce, Algorithm::Auto, 1e9, 1, &p, false), 0.0);
    }
}
