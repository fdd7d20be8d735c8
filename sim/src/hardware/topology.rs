//! The cluster as a network: scale-up domains (NVLink/NVSwitch, HCCS …) joined by a scale-out fabric
//! (InfiniBand, RoCE) in a leaf/spine/core tree with oversubscription, optionally rail-optimised.
//!
//! [`Cluster`] answers the question collectives need: for a group of ranks laid out with a given stride,
//! which tier of the network do they cross, and what bandwidth and latency does each rank get there.
//! [`ClusterGraph`] is the same cluster as a `petgraph` graph (devices, scale-up switches, leaf/rail
//! switches, spines, core), used for drawing and to cross-check the tier arithmetic by shortest paths.
//!
//! Modelled: per-device NIC bandwidth, per-tier oversubscription (all ranks of a tier sending at once,
//! the worst and common case for DP/FSDP traffic), hop latency. Not modelled: congestion control,
//! adaptive routing, ECMP collisions, link failures (the run simulator handles failures).

use petgraph::graph::{NodeIndex, UnGraph};
use serde::{Deserialize, Serialize};

use crate::error::WankaError;
use crate::hardware::catalog::{Calibration, Catalog, Chip, Fabric, TopologyTemplate};

/// Scale-out network of a cluster, as written in a scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Scale-out fabric id (`ib-ndr`, `roce-400g`, …).
    pub fabric: String,
    /// Scale-out bandwidth per device, Gbit/s per direction (e.g. 8×400G NICs per 8 GPUs = 400).
    pub nic_gbit_per_s_per_gpu: f64,
    /// Topology template id (`selene-fat-tree`, `meta-roce-clos`, …).
    pub topology: String,
}

/// Hardware of a cluster, as written in a scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Chip id from the catalog.
    pub chip: String,
    /// Devices used by the job.
    pub gpus: u32,
    /// Devices per scale-up domain ("node": an 8-GPU server, a 72-GPU NVL72 rack, a 384-NPU CloudMatrix
    /// supernode; at most the chip's domain size). The job need not fill whole domains: it occupies
    /// `ceil(gpus / devices used per domain)` of them and the report counts the rest as idle.
    pub gpus_per_node: u32,
    /// Devices of each domain the job may use (partial racks: spare or failed trays); all of
    /// `gpus_per_node` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_per_domain: Option<u32>,
    pub network: NetworkSpec,
}

/// Network tier a group of ranks crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    /// Inside one scale-up domain.
    ScaleUp,
    /// Through one leaf (or rail) switch.
    Leaf,
    /// Through the spine inside a pod.
    Spine,
    /// Through the core, between pods.
    Core,
}

/// Where a group of ranks sits on the network and what each rank gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupPath {
    pub tier: Tier,
    /// Group members per node.
    pub ranks_per_node: u64,
    /// Nodes the group spans.
    pub nodes: u64,
    /// Effective per-rank bandwidth on the bottleneck link for a flat ring, bytes/s per direction,
    /// collective efficiency included.
    pub ring_bytes_per_s: f64,
    /// The same ring on one NIC per rank (no multi-rail striping across the node's NICs).
    pub single_rail_ring_bytes_per_s: f64,
    /// Effective per-rank bandwidth for all-to-all (no locality: full oversubscription), bytes/s.
    pub all_to_all_bytes_per_s: f64,
    /// Effective per-rank scale-up bandwidth, bytes/s per direction (for hierarchical algorithms).
    pub scale_up_bytes_per_s: f64,
    /// Effective per-rank scale-out bandwidth at this tier, bytes/s per direction.
    pub scale_out_bytes_per_s: f64,
    /// Latency of one step across the bottleneck, seconds.
    pub step_latency_s: f64,
    /// Latency of one step inside the node, seconds.
    pub scale_up_latency_s: f64,
    /// Scale-out fabric supports in-network reduction (SHARP).
    pub in_network_reduction: bool,
}

/// A resolved cluster: catalog entries plus sizes.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub chip: Chip,
    pub calibration: Calibration,
    pub scale_up: Fabric,
    pub scale_out: Fabric,
    pub template: TopologyTemplate,
    pub gpus: u64,
    /// Job devices per scale-up domain as placed: every rank `r` sits in domain `r / gpus_per_node`
    /// (the usable devices of a domain, or fewer after [`Cluster::packed`] keeps TP/EP groups whole).
    pub gpus_per_node: u32,
    /// Devices in one scale-up domain (the scenario's `gpus_per_node`).
    pub domain_devices: u32,
    /// Devices of a domain the job may use (`usable_per_domain`, default all).
    pub usable_per_domain: u32,
    pub nic_gbit_per_s_per_gpu: f64,
}

/// How a job sits on its scale-up domains (racks, supernodes, servers): the groups kept inside one
/// domain, the domains it occupies and the devices it leaves idle there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// Devices in one scale-up domain.
    pub domain_devices: u32,
    /// Devices of a domain the job may use (the rest are declared unusable: spare or failed trays).
    pub usable_per_domain: u32,
    /// Devices per domain the job runs on: the largest multiple of the packed groups' span that the
    /// usable devices hold (a TP or EP group never straddles two domains).
    pub used_per_domain: u32,
    /// Devices of the job.
    pub devices: u64,
    /// Domains the job occupies: `ceil(devices / used_per_domain)`.
    pub domains: u64,
    /// Job devices in the last domain (fewer than `used_per_domain` when it is partly used).
    pub last_domain_devices: u64,
    /// Usable devices of the occupied domains the job leaves idle (usable as hot spares):
    /// `domains · usable_per_domain − devices`.
    pub idle_devices: u64,
    /// Devices of the occupied domains declared unusable: `domains · (domain_devices − usable_per_domain)`.
    pub unusable_devices: u64,
    /// Parallel groups kept inside one domain, e.g. `TP8`, `EP16 (spans 64)`.
    pub inside_domain: Vec<String>,
    /// Parallel groups too large for one domain's usable devices: they cross the scale-out network.
    pub across_domains: Vec<String>,
}

impl Placement {
    /// One line: `2 domains of 72 (72 + 56 used), TP8 inside a domain, 16 idle`.
    pub fn describe(&self) -> String {
        let mut used = if self.domains <= 1 || self.last_domain_devices == u64::from(self.used_per_domain) {
            format!("{} used in each", self.used_per_domain)
        } else {
            format!("{} used in {} and {} in the last", self.used_per_domain, self.domains - 1, self.last_domain_devices)
        };
        if self.usable_per_domain < self.domain_devices {
            used.push_str(&format!(" of {} usable", self.usable_per_domain));
        }
        let mut o = format!(
            "{} domain{} of {} ({used}), {} idle device{}",
            self.domains,
            if self.domains == 1 { "" } else { "s" },
            self.domain_devices,
            self.idle_devices,
            if self.idle_devices == 1 { "" } else { "s" }
        );
        if self.unusable_devices > 0 {
            o.push_str(&format!(", {} unusable", self.unusable_devices));
        }
        if !self.inside_domain.is_empty() {
            o.push_str(&format!("; inside a domain: {}", self.inside_domain.join(", ")));
        }
        if !self.across_domains.is_empty() {
            o.push_str(&format!("; across domains (larger than {} devices): {}", self.usable_per_domain, self.across_domains.join(", ")));
        }
        o
    }
}

/// A parallel group that should stay inside one scale-up domain: its name, members and the span of
/// consecutive ranks one group's block covers (`stride · size`: the groups of that stride tile it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainGroup {
    pub name: &'static str,
    pub size: u64,
    pub span: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Cluster {
    /// Look up the catalog entries of a cluster spec and check sizes. `file` names the source in errors.
    pub fn resolve(spec: &ClusterSpec, catalog: &Catalog, file: &str) -> Result<Cluster, WankaError> {
        let chip = catalog.chip(&spec.chip).map_err(|e| e.in_field(file, "cluster.chip"))?.clone();
        let scale_out = catalog.fabric(&spec.network.fabric).map_err(|e| e.in_field(file, "cluster.network.fabric"))?.clone();
        let template = catalog.topology(&spec.network.topology).map_err(|e| e.in_field(file, "cluster.network.topology"))?.clone();
        let bad = |field: &str, msg: String| Err(WankaError::Invalid { file: file.to_string(), field: format!("cluster.{field}"), msg });
        if spec.gpus == 0 {
            return bad("gpus", "must be at least 1".into());
        }
        if spec.gpus_per_node == 0 || spec.gpus_per_node > chip.scale_up_domain {
            return bad(
                "gpus_per_node",
                format!("must be between 1 and the {}'s scale-up domain of {}, got {}", chip.id, chip.scale_up_domain, spec.gpus_per_node),
            );
        }
        let usable = spec.usable_per_domain.unwrap_or(spec.gpus_per_node);
        if usable == 0 || usable > spec.gpus_per_node {
            return bad("usable_per_domain", format!("must be between 1 and gpus_per_node ({}), got {usable}", spec.gpus_per_node));
        }
        if !(spec.network.nic_gbit_per_s_per_gpu > 0.0 && spec.network.nic_gbit_per_s_per_gpu.is_finite()) {
            return bad(
                "network.nic_gbit_per_s_per_gpu",
                format!("must be a positive bandwidth, got {}", spec.network.nic_gbit_per_s_per_gpu),
            );
        }
        let (lo, hi) = crate::limits::NIC_GBIT;
        crate::limits::in_range(file, "cluster.network.nic_gbit_per_s_per_gpu", spec.network.nic_gbit_per_s_per_gpu, lo, hi, "Gbit/s")?;
        if scale_out.kind == crate::hardware::catalog::FabricKind::ScaleUp {
            return bad(
                "network.fabric",
                format!("`{}` is a scale-up fabric; the network needs a scale-out fabric (InfiniBand, RoCE)", scale_out.id),
            );
        }
        if scale_out.kind == crate::hardware::catalog::FabricKind::HostBus {
            return bad(
                "network.fabric",
                format!("`{}` is a host bus inside a node; the network needs a scale-out fabric (InfiniBand, RoCE)", scale_out.id),
            );
        }
        let calibration = catalog.calibration(&chip).clone();
        let scale_up = catalog.fabric(&chip.scale_up_fabric)?.clone();
        Ok(Cluster {
            chip,
            calibration,
            scale_up,
            scale_out,
            template,
            gpus: u64::from(spec.gpus),
            gpus_per_node: usable,
            domain_devices: spec.gpus_per_node,
            usable_per_domain: usable,
            nic_gbit_per_s_per_gpu: spec.network.nic_gbit_per_s_per_gpu,
        })
    }

    /// Scale-up domains the job occupies (the last one may be partly used).
    pub fn nodes(&self) -> u64 {
        self.gpus.div_ceil(u64::from(self.gpus_per_node))
    }

    /// Place the job on its domains: `groups` (TP, EP, …) are packed so that none straddles two
    /// domains. Their spans' least common multiple is the block a domain holds whole copies of (the
    /// largest fitting span alone when the multiple exceeds the usable devices); a group larger than a
    /// domain's usable devices crosses domains, as it must. PP and DP groups cross domains.
    pub fn place(&self, groups: &[DomainGroup]) -> Placement {
        let usable = u64::from(self.usable_per_domain);
        let fitting: Vec<&DomainGroup> = groups.iter().filter(|g| g.size > 1 && g.span <= usable).collect();
        let (block, used) = self.packing_block(groups);
        let domains = self.gpus.div_ceil(used).max(1);
        let describe = |g: &DomainGroup| {
            if g.span == g.size { format!("{}{}", g.name, g.size) } else { format!("{}{} (spans {})", g.name, g.size, g.span) }
        };
        Placement {
            domain_devices: self.domain_devices,
            usable_per_domain: self.usable_per_domain,
            used_per_domain: used as u32,
            devices: self.gpus,
            domains,
            last_domain_devices: self.gpus - (domains - 1) * used,
            idle_devices: domains * usable - self.gpus,
            unusable_devices: domains * u64::from(self.domain_devices - self.usable_per_domain),
            inside_domain: fitting.iter().filter(|g| block.is_multiple_of(g.span)).map(|g| describe(g)).collect(),
            across_domains: groups
                .iter()
                .filter(|g| g.size > 1 && !(g.span <= usable && block.is_multiple_of(g.span)))
                .map(describe)
                .collect(),
        }
    }

    /// The block of ranks [`Cluster::place`] keeps inside a domain (the packed groups' spans' least
    /// common multiple, or the largest span when that does not fit) and the devices used per domain
    /// (the most whole blocks the usable devices hold): the placement without its description, for
    /// [`Cluster::packed_for`].
    pub fn packing_block(&self, groups: &[DomainGroup]) -> (u64, u64) {
        let usable = u64::from(self.usable_per_domain);
        let fitting = || groups.iter().filter(|g| g.size > 1 && g.span <= usable);
        let lcm = fitting().fold(1u64, |b, g| b / gcd(b, g.span) * g.span);
        let block = if lcm <= usable { lcm } else { fitting().map(|g| g.span).max().unwrap_or(1) };
        (block, (usable / block * block).max(1))
    }

    /// The cluster packed for `groups` ([`Cluster::packed`] of [`Cluster::place`]), borrowed when the
    /// packing changes nothing (the usual case: the groups divide the domain), so that the search does
    /// not copy the cluster for every plan it screens.
    pub fn packed_for(&self, groups: &[DomainGroup]) -> std::borrow::Cow<'_, Cluster> {
        let used = self.packing_block(groups).1 as u32;
        if used == self.gpus_per_node {
            std::borrow::Cow::Borrowed(self)
        } else {
            std::borrow::Cow::Owned(Cluster { gpus_per_node: used, ..self.clone() })
        }
    }

    /// The same cluster with ranks laid out as `placement` says (its devices used per domain).
    pub fn packed(&self, placement: &Placement) -> Cluster {
        Cluster { gpus_per_node: placement.used_per_domain, ..self.clone() }
    }

    /// Tier between two devices (by global rank).
    pub fn tier_between(&self, a: u64, b: u64) -> Tier {
        let gpn = u64::from(self.gpus_per_node);
        let (na, nb) = (a / gpn, b / gpn);
        if na == nb {
            Tier::ScaleUp
        } else if na / u64::from(self.template.nodes_per_leaf) == nb / u64::from(self.template.nodes_per_leaf) {
            Tier::Leaf
        } else if na / u64::from(self.template.nodes_per_pod) == nb / u64::from(self.template.nodes_per_pod) {
            Tier::Spine
        } else {
            Tier::Core
        }
    }

    /// Per-device scale-up bandwidth, bytes/s per direction, before efficiency.
    pub fn scale_up_peak_bytes_per_s(&self) -> f64 {
        self.chip.scale_up_gb_per_s_bidir * 1e9 / 2.0
    }
    /// Per-device scale-out bandwidth, bytes/s per direction, before efficiency.
    pub fn nic_peak_bytes_per_s(&self) -> f64 {
        self.nic_gbit_per_s_per_gpu * 1e9 / 8.0
    }

    /// Where the group `first, first+stride, …` of `size` ranks sits, and its per-rank bandwidth.
    pub fn group_path(&self, first: u64, stride: u64, size: u64) -> GroupPath {
        let gpn = u64::from(self.gpus_per_node);
        let last = first + stride * size.saturating_sub(1);
        let tier = if size <= 1 { Tier::ScaleUp } else { self.tier_between(first, last) };
        let ranks_per_node = if stride >= gpn { 1 } else { (gpn / stride.max(1)).min(size).max(1) };
        let nodes = size.div_ceil(ranks_per_node);
        let up = self.scale_up_peak_bytes_per_s() * self.scale_up.collective_efficiency;
        // Oversubscription. Every group of this shape runs its collective at the same time (DP groups
        // of all TP/PP ranks, say). A ring ordered by locality leaves a leaf (pod) once, so the flows
        // through one leaf's (pod's) uplinks number the groups touching it, and each flow gets
        // `members per leaf (pod) ÷ oversubscription` NICs' worth: oversubscription only bites groups
        // with few members per leaf (pod). All-to-all has no such locality: every byte but 1/P
        // crosses, so it gets the plain ratio.
        let npl = u64::from(self.template.nodes_per_leaf);
        let npp = u64::from(self.template.nodes_per_pod);
        let (first_node, last_node) = (first / gpn, last / gpn);
        let leaves = (last_node / npl - first_node / npl + 1) as f64;
        let pods = (last_node / npp - first_node / npp + 1) as f64;
        let n = size as f64;
        let (ring_over, a2a_over) = match tier {
            Tier::ScaleUp | Tier::Leaf => (1.0, 1.0),
            Tier::Spine => {
                let r = self.template.leaf_oversubscription;
                ((r / (n / leaves).max(1.0)).max(1.0), r)
            }
            Tier::Core => {
                let (rl, rc) = (self.template.leaf_oversubscription, self.template.core_oversubscription);
                ((rl / (n / leaves).max(1.0)).max(rc / (n / pods).max(1.0)).max(1.0), rl.max(rc))
            }
        };
        let nic = self.nic_peak_bytes_per_s() * self.scale_out.collective_efficiency;
        let out = nic / ring_over;
        let hops = match tier {
            Tier::ScaleUp => 0.0,
            Tier::Leaf => 1.0,
            Tier::Spine => 3.0,
            Tier::Core => 5.0,
        };
        let up_lat = self.scale_up.latency_us * 1e-6;
        let out_lat = (self.scale_out.latency_us + hops * self.template.switch_hop_latency_us) * 1e-6;
        // Multi-rail striping (NCCL channels): a ring through `k` group members per node crosses every
        // node boundary on `k` channels, one per member's own NIC, so each NIC carries 1/k of the ring's
        // volume and the ring runs at up to `k` NICs' worth (nccl-tests: ~8 NICs' worth of bus bandwidth
        // between DGX nodes for 8-GPU-per-node groups), capped by the scale-up links.
        let (ring_bw, step_lat) = if tier == Tier::ScaleUp { (up, up_lat) } else { ((out * ranks_per_node as f64).min(up), out_lat) };
        GroupPath {
            tier,
            ranks_per_node,
            nodes,
            ring_bytes_per_s: ring_bw,
            single_rail_ring_bytes_per_s: if tier == Tier::ScaleUp { up } else { out.min(up) },
            all_to_all_bytes_per_s: if tier == Tier::ScaleUp { up } else { (nic / a2a_over).min(up) },
            scale_up_bytes_per_s: up,
            scale_out_bytes_per_s: out,
            step_latency_s: step_lat,
            scale_up_latency_s: up_lat,
            in_network_reduction: self.scale_out.in_network_reduction,
        }
    }

    /// The cluster as a graph (see [`ClusterGraph`]).
    pub fn graph(&self) -> ClusterGraph {
        ClusterGraph::build(self)
    }
}

/// A vertex of the cluster graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Vertex {
    Device {
        rank: u64,
    },
    /// NVSwitch / HCCS mesh of one node.
    ScaleUpSwitch {
        node: u64,
    },
    /// Leaf switch of a leaf group (one per rail when rail-optimised).
    Leaf {
        group: u64,
        rail: u32,
    },
    Spine {
        pod: u64,
    },
    Core,
}

/// An edge: which tier it belongs to and its bandwidth per direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Edge {
    pub tier: Tier,
    pub bytes_per_s: f64,
}

/// The cluster as an undirected `petgraph` graph.
pub struct ClusterGraph {
    pub graph: UnGraph<Vertex, Edge>,
    pub devices: Vec<NodeIndex>,
}

impl ClusterGraph {
    pub fn build(c: &Cluster) -> ClusterGraph {
        let gpn = u64::from(c.gpus_per_node);
        let nodes = c.nodes();
        let npl = u64::from(c.template.nodes_per_leaf);
        let npp = u64::from(c.template.nodes_per_pod);
        let rails = if c.template.rails { c.gpus_per_node } else { 1 };
        let mut g = UnGraph::with_capacity((c.gpus + nodes + nodes / npl * u64::from(rails) + 8) as usize, (3 * c.gpus) as usize);
        let core = g.add_node(Vertex::Core);
        let pods = nodes.div_ceil(npp);
        let nic = c.nic_peak_bytes_per_s();
        let spines: Vec<NodeIndex> = (0..pods).map(|pod| g.add_node(Vertex::Spine { pod })).collect();
        for (pod, s) in spines.iter().enumerate() {
            // Uplink capacity of a pod: its devices' NIC bandwidth over the oversubscription ratio.
            let pod_devices = ((npp.min(nodes - pod as u64 * npp) * gpn).min(c.gpus - pod as u64 * npp * gpn)) as f64;
            g.add_edge(*s, core, Edge { tier: Tier::Core, bytes_per_s: pod_devices * nic / c.template.core_oversubscription });
        }
        let leaf_groups = nodes.div_ceil(npl);
        let mut leaves = Vec::with_capacity((leaf_groups * u64::from(rails)) as usize);
        for group in 0..leaf_groups {
            let pod = (group * npl) / npp;
            for rail in 0..rails {
                let leaf = g.add_node(Vertex::Leaf { group, rail });
                let devs = (npl.min(nodes - group * npl) * gpn / u64::from(rails)) as f64;
                g.add_edge(
                    leaf,
                    spines[pod as usize],
                    Edge { tier: Tier::Spine, bytes_per_s: devs * nic / c.template.leaf_oversubscription },
                );
                leaves.push(leaf);
            }
        }
        let up = c.scale_up_peak_bytes_per_s();
        let mut devices = Vec::with_capacity(c.gpus as usize);
        for node in 0..nodes {
            let sw = g.add_node(Vertex::ScaleUpSwitch { node });
            for local in 0..gpn {
                let rank = node * gpn + local;
                if rank >= c.gpus {
                    break; // the last domain is partly used
                }
                let d = g.add_node(Vertex::Device { rank });
                g.add_edge(d, sw, Edge { tier: Tier::ScaleUp, bytes_per_s: up });
                let rail = if c.template.rails { local as u32 } else { 0 };
                let leaf = leaves[((node / npl) * u64::from(rails) + u64::from(rail)) as usize];
                g.add_edge(d, leaf, Edge { tier: Tier::Leaf, bytes_per_s: nic });
                devices.push(d);
            }
        }
        ClusterGraph { graph: g, devices }
    }

    /// Highest tier on the cheapest path between two devices (scale-up preferred, then fewer tiers).
    pub fn path_tier(&self, a: u64, b: u64) -> Tier {
        if a == b {
            return Tier::ScaleUp;
        }
        let cost = |e: petgraph::graph::EdgeReference<Edge>| -> u64 {
            match e.weight().tier {
                Tier::ScaleUp => 1,
                Tier::Leaf => 10,
                Tier::Spine => 1_000,
                Tier::Core => 100_000,
            }
        };
        let (from, to) = (self.devices[a as usize], self.devices[b as usize]);
        let path = petgraph::algo::astar(&self.graph, from, |n| n == to, cost, |_| 0);
        let Some((_, nodes)) = path else {
            return Tier::Core;
        };
        let mut tier = Tier::ScaleUp;
        for w in nodes.windows(2) {
            if let Some(e) = self.graph.find_edge(w[0], w[1]) {
                let t = self.graph[e].tier;
                if t > tier {
                    tier = t;
                }
            }
        }
        tier
    }
}

/// A catalog cluster of `gpus` devices, 8 per node, for tests.
#[cfg(test)]
pub(crate) fn test_cluster(chip: &str, gpus: u32, fabric: &str, nic_gbit_per_s_per_gpu: f64, topology: &str) -> Cluster {
    let spec = ClusterSpec {
        chip: chip.into(),
        gpus,
        gpus_per_node: 8,
        usable_per_domain: None,
        network: NetworkSpec { fabric: fabric.into(), nic_gbit_per_s_per_gpu, topology: topology.into() },
    };
    Cluster::resolve(&spec, Catalog::builtin(), "test").unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(chip: &str, gpus: u32, topology: &str) -> Cluster {
        test_cluster(chip, gpus, "ib-hdr", 200.0, topology)
    }

    #[test]
    fn graph_paths_agree_with_tier_arithmetic() {
        let c = cluster("h100-sxm", 8192, "meta-roce-clos");
        let g = c.graph();
        let mut x: u64 = 12345;
        for _ in 0..300 {
            // Deterministic pseudo-random pairs (LCG) covering all tiers.
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let a = (x >> 33) % c.gpus;
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let b = if x.is_multiple_of(4) { (a / 8) * 8 + (x >> 40) % 8 } else { (x >> 33) % c.gpus };
            let want = c.tier_between(a, b);
            let got = g.path_tier(a, b);
            assert_eq!(got, want, "ranks {a} and {b}");
        }
    }

    #[test]
    fn oversubscribed_core_cuts_bandwidth() {
        let c = cluster("h100-sxm", 16384, "meta-roce-clos");
        // DP group of TP8·PP16 = stride 128, 128 ranks: spans all 6 pods with ~24 members in each,
        // so a locality-ordered ring is not slowed by the 1:7 core; all-to-all is.
        let dp = c.group_path(0, 128, 128);
        assert_eq!(dp.tier, Tier::Core);
        let tp = c.group_path(0, 1, 8);
        assert_eq!(tp.tier, Tier::ScaleUp);
        let pod_local = c.group_path(0, 8, 16);
        assert_eq!(dp.ring_bytes_per_s, pod_local.ring_bytes_per_s);
        assert!(dp.all_to_all_bytes_per_s < pod_local.ring_bytes_per_s / 6.0);
        // One member per pod: every ring edge crosses the core, the full 1:7 applies.
        let sparse = c.group_path(0, 3072, 5);
        assert!((sparse.ring_bytes_per_s * 7.0 - pod_local.ring_bytes_per_s).abs() < 1.0);
        assert!(tp.ring_bytes_per_s > pod_local.ring_bytes_per_s);
    }

    fn rack_cluster(chip: &str, gpus: u32, domain: u32, usable: Option<u32>) -> Cluster {
        let spec = ClusterSpec {
            chip: chip.into(),
            gpus,
            gpus_per_node: domain,
            usable_per_domain: usable,
            network: NetworkSpec { fabric: "ib-ndr".into(), nic_gbit_per_s_per_gpu: 400.0, topology: "generic-fat-tree".into() },
        };
        Cluster::resolve(&spec, Catalog::builtin(), "test").unwrap()
    }
    fn group(name: &'static str, size: u64, span: u64) -> DomainGroup {
        DomainGroup { name, size, span }
    }

    #[test]
    fn a_job_need_not_fill_whole_racks_and_the_rest_is_idle() {
        // 128 GB200 on NVL72 racks, TP8: 72 + 56, 16 idle (2 x 72 - 128).
        let c = rack_cluster("gb200", 128, 72, None);
        let p = c.place(&[group("TP", 8, 8)]);
        assert_eq!((p.domains, p.used_per_domain, p.last_domain_devices, p.idle_devices, p.unusable_devices), (2, 72, 56, 16, 0));
        assert_eq!(p.inside_domain, vec!["TP8".to_string()]);
        // TP16 does not tile 72: four whole groups per rack (64 GPUs), so 576 GPUs need 9 racks, 72 idle.
        let c = rack_cluster("gb200", 576, 72, None);
        let p = c.place(&[group("TP", 16, 16)]);
        assert_eq!((p.domains, p.used_per_domain, p.idle_devices), (9, 64, 72));
        // Packed, a TP16 group runs on the scale-up links; unpacked (ranks 64..79 straddle racks 0 and 1)
        // its members 64..71 and 72..79 would sit in different racks.
        let packed = c.packed(&p);
        assert_eq!(packed.group_path(64, 1, 16).tier, Tier::ScaleUp);
        assert_ne!(c.group_path(64, 1, 16).tier, Tier::ScaleUp);
        // EP32 inside a CloudMatrix 384 supernode: 1,536 NPUs fill 4 exactly.
        let c = rack_cluster("ascend-910c", 1536, 384, None);
        let p = c.place(&[group("EP", 32, 32)]);
        assert_eq!((p.domains, p.used_per_domain, p.idle_devices), (4, 384, 0));
    }

    #[test]
    fn partial_racks_and_groups_larger_than_a_domain() {
        // Two spare trays (8 GPUs) per rack: 64 usable of 72; 576 GPUs on 9 racks, 72 unusable, 0 idle.
        let c = rack_cluster("gb200", 576, 72, Some(64));
        let p = c.place(&[group("TP", 8, 8)]);
        assert_eq!((p.domains, p.used_per_domain, p.idle_devices, p.unusable_devices), (9, 64, 0, 72));
        assert!(p.describe().contains("of 64 usable") && p.describe().contains("72 unusable"), "{}", p.describe());
        // EP64 spanning 128 ranks on 8-GPU nodes cannot stay inside: it crosses, the node is used whole.
        let c = rack_cluster("h100-sxm", 1024, 8, None);
        let p = c.place(&[group("TP", 8, 8), group("EP", 64, 512)]);
        assert_eq!((p.used_per_domain, p.idle_devices), (8, 0));
        assert_eq!((p.inside_domain.clone(), p.across_domains.clone()), (vec!["TP8".to_string()], vec!["EP64 (spans 512)".to_string()]));
        // The usual case is untouched: TP8 on 8-GPU nodes places every node whole.
        let p = c.place(&[group("TP", 8, 8)]);
        assert_eq!((p.used_per_domain, p.domains, p.idle_devices), (8, 128, 0));
        assert_eq!(c.packed(&p).gpus_per_node, c.gpus_per_node);
    }

    #[test]
    fn the_graph_of_a_partly_used_rack_has_only_the_job_devices() {
        let c = rack_cluster("gb200", 128, 72, None).packed(&rack_cluster("gb200", 128, 72, None).place(&[group("TP", 8, 8)]));
        let g = c.graph();
        assert_eq!(g.devices.len(), 128);
        assert_eq!(g.path_tier(70, 71), Tier::ScaleUp);
        assert_eq!(g.path_tier(71, 72), c.tier_between(71, 72));
        assert_eq!(g.path_tier(127, 0), c.tier_between(127, 0));
    }

    #[test]
    fn bad_cluster_names_field() {
        let mut spec = ClusterSpec {
            chip: "a100-sxm-80gb".into(),
            gpus: 12,
            gpus_per_node: 16,
            usable_per_domain: None,
            network: NetworkSpec { fabric: "ib-hdr".into(), nic_gbit_per_s_per_gpu: 200.0, topology: "selene-fat-tree".into() },
        };
        let e = Cluster::resolve(&spec, Catalog::builtin(), "x.ron").unwrap_err().to_string();
        assert!(e.contains("cluster.gpus_per_node") && e.contains("scale-up domain of 8"), "{e}");
        spec.gpus_per_node = 8;
        spec.usable_per_domain = Some(9);
        let e = Cluster::resolve(&spec, Catalog::builtin(), "x.ron").unwrap_err().to_string();
        assert!(e.contains("cluster.usable_per_domain") && e.contains("between 1 and gpus_per_node (8), got 9"), "{e}");
        spec.usable_per_domain = None;
        // 12 devices on 8-device nodes: 2 nodes, the second half used (no longer an error).
        assert_eq!(Cluster::resolve(&spec, Catalog::builtin(), "x.ron").unwrap().nodes(), 2);
        spec.gpus = 16;
        spec.network.fabric = "nvlink3".into();
        let e = Cluster::resolve(&spec, Catalog::builtin(), "x.ron").unwrap_err().to_string();
        assert!(e.contains("scale-up fabric"), "{e}");
    }
}
