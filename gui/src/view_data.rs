//! What the views draw, reduced from the simulator's results on the worker threads: where a run's
//! wall clock goes ([`Losses`]), one seed's run as a progress line ([`Trace`]) and the cluster graph as
//! counts and samples ([`TopologySummary`]).

use wanka_sim::hardware::topology::{Tier, Vertex};
use wanka_sim::run::{LogEvent, LostDays, MonteCarlo, RunInputs};

/// Where the wall clock of a run goes, mean days over the Monte Carlo seeds (useful + losses = wall).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Losses {
    pub wall_days: f64,
    pub useful_days: f64,
    /// Mean lost days per cause (`run::summarize` stores days in the `_s` fields of this aggregate).
    pub lost_days: LostDays,
}

/// Names of the parts of a [`Losses`], in drawing order.
pub const LOSS_PARTS: [&str; 7] =
    ["useful training", "rework since checkpoint", "restarts", "checkpoint stalls", "waiting for spares", "stragglers", "maintenance"];

impl Losses {
    pub fn of(mc: &MonteCarlo) -> Losses {
        let l = mc.lost_days_mean;
        Losses { wall_days: mc.wall_days.mean, useful_days: (mc.wall_days.mean - l.total_days()).max(0.0), lost_days: l }
    }

    /// Days per part, in the order of [`LOSS_PARTS`].
    pub fn parts(&self) -> [f64; 7] {
        let l = &self.lost_days;
        [self.useful_days, l.rework_days, l.restart_days, l.checkpoint_days, l.spare_wait_days, l.straggler_days, l.maintenance_days]
    }

    pub fn lost_total_days(&self) -> f64 {
        self.lost_days.total_days()
    }
}

/// Checkpoint markers kept at most (the view draws those in view when zoomed in).
pub const MAX_CHECKPOINT_MARKS: usize = 200_000;
/// Down periods shaded at most.
pub const MAX_DOWN_PERIODS: usize = 3000;

/// One seed's run as the progress plot draws it (times in days, progress as a fraction of the work).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Progress over time: rises while training, flat while down, drops at a failure (rework).
    pub line: Vec<[f64; 2]>,
    /// Failures: time, progress just before the rollback, cause.
    pub failures: Vec<(f64, f64, String)>,
    /// Checkpoints saved (time, progress), thinned to at most [`MAX_CHECKPOINT_MARKS`].
    pub checkpoints: Vec<[f64; 2]>,
    /// Down periods (start, end, what): restarts after failures, maintenance windows.
    pub down: Vec<(f64, f64, &'static str)>,
    /// Straggler onsets (time, progress).
    pub stragglers: Vec<[f64; 2]>,
    pub checkpoints_total: usize,
}

impl Trace {
    /// Read the event log of one run. Maintenance windows have no end event: they last the window plus
    /// a restart (`RunInputs::restart_core_s`), unless a failure cuts them short.
    pub fn of(log: &[LogEvent], inputs: &RunInputs) -> Trace {
        let day = 86400.0;
        let work = inputs.work_s.max(f64::MIN_POSITIVE);
        let frac = |e: &LogEvent| (e.work_s / work).clamp(0.0, 1.0);
        let total_ckpt = log.iter().filter(|e| e.kind == "checkpoint").count();
        let stride = total_ckpt.div_ceil(MAX_CHECKPOINT_MARKS).max(1);
        let dense = log.len() <= 50_000;
        let stall = inputs.checkpoint.stall_s;
        let mut t = Trace { checkpoints_total: total_ckpt, ..Default::default() };
        let mut down_since: Option<f64> = None;
        let mut ckpt_seen = 0usize;
        for (k, e) in log.iter().enumerate() {
            let (x, y) = (e.t_s / day, frac(e));
            match e.kind.as_str() {
                "checkpoint" => {
                    if ckpt_seen.is_multiple_of(stride) {
                        t.checkpoints.push([x, y]);
                    }
                    ckpt_seen += 1;
                    if !dense {
                        continue;
                    }
                    // The stall before the save: progress is flat.
                    if stall > 0.0 && t.line.last().is_some_and(|p| p[0] < (e.t_s - stall) / day) {
                        t.line.push([(e.t_s - stall) / day, y]);
                    }
                }
                "failure" => {
                    t.failures.push((x, y, e.detail.clone()));
                    down_since.get_or_insert(x);
                }
                "resumed" | "done" | "horizon" => {
                    if let Some(s) = down_since.take() {
                        t.down.push((s, x, "restart"));
                    }
                }
                "straggler" => t.stragglers.push([x, y]),
                "maintenance" => {
                    t.line.push([x, y]);
                    let next = log.get(k + 1).map_or(f64::INFINITY, |n| n.t_s);
                    let len = inputs.maintenance.as_ref().map_or(0.0, |m| m.duration_min * 60.0) + inputs.restart_core_s();
                    let end = (e.t_s + len).min(next);
                    t.down.push((x, end / day, "maintenance"));
                    t.line.push([end / day, y]);
                    continue;
                }
                _ => {}
            }
            t.line.push([x, y]);
        }
        if t.down.len() > MAX_DOWN_PERIODS {
            // Keep the longest.
            t.down.sort_by(|a, b| (b.1 - b.0).total_cmp(&(a.1 - a.0)));
            t.down.truncate(MAX_DOWN_PERIODS);
        }
        t
    }
}

/// The cluster graph reduced to what a drawing can show: counts of every kind of vertex, the first
/// pod's leaf switches and the first leaf group's nodes, and the bandwidth of each tier's links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopologySummary {
    pub devices: u64,
    pub nodes: u64,
    pub gpus_per_node: u32,
    pub leaf_switches: u64,
    pub leaf_groups: u64,
    pub rails: u32,
    pub pods: u64,
    pub core: u64,
    /// Leaf switches `(group, rail)` attached to pod 0's spine.
    pub pod0_leaves: Vec<(u64, u32)>,
    /// Nodes whose devices attach to leaf group 0.
    pub group0_nodes: Vec<u64>,
    /// Leaf groups in pod 0.
    pub pod0_groups: u64,
    /// Per tier: (edges, smallest and largest bandwidth per direction, bytes/s).
    pub tiers: Vec<(Tier, u64, f64, f64)>,
    pub template: String,
    pub nodes_per_leaf: u32,
    pub nodes_per_pod: u32,
    pub leaf_oversubscription: f64,
    pub core_oversubscription: f64,
    pub scale_up_fabric: String,
    pub scale_out_fabric: String,
}

impl TopologySummary {
    pub fn of(cluster: &wanka_sim::hardware::topology::Cluster) -> TopologySummary {
        let g = cluster.graph();
        let graph = &g.graph;
        let mut s = TopologySummary {
            gpus_per_node: cluster.gpus_per_node,
            template: cluster.template.name.clone(),
            nodes_per_leaf: cluster.template.nodes_per_leaf,
            nodes_per_pod: cluster.template.nodes_per_pod,
            leaf_oversubscription: cluster.template.leaf_oversubscription,
            core_oversubscription: cluster.template.core_oversubscription,
            scale_up_fabric: cluster.scale_up.name.clone(),
            scale_out_fabric: cluster.scale_out.name.clone(),
            ..Default::default()
        };
        let mut max_rail = 0;
        let mut max_group = 0;
        for v in graph.node_weights() {
            match *v {
                Vertex::Device { .. } => s.devices += 1,
                Vertex::ScaleUpSwitch { .. } => s.nodes += 1,
                Vertex::Leaf { group, rail } => {
                    s.leaf_switches += 1;
                    max_rail = max_rail.max(rail);
                    max_group = max_group.max(group);
                }
                Vertex::Spine { .. } => s.pods += 1,
                Vertex::Core => s.core += 1,
            }
        }
        s.rails = if s.leaf_switches > 0 { max_rail + 1 } else { 0 };
        s.leaf_groups = if s.leaf_switches > 0 { max_group + 1 } else { 0 };
        let gpn = u64::from(cluster.gpus_per_node.max(1));
        let mut tiers: Vec<(Tier, u64, f64, f64)> = Vec::new();
        let mut group0_nodes = std::collections::BTreeSet::new();
        let mut pod0 = std::collections::BTreeSet::new();
        for e in graph.edge_indices() {
            let w = graph[e];
            match tiers.iter_mut().find(|t| t.0 == w.tier) {
                Some(t) => {
                    t.1 += 1;
                    t.2 = t.2.min(w.bytes_per_s);
                    t.3 = t.3.max(w.bytes_per_s);
                }
                None => tiers.push((w.tier, 1, w.bytes_per_s, w.bytes_per_s)),
            }
            let Some((a, b)) = graph.edge_endpoints(e) else {
                continue;
            };
            match (graph[a], graph[b]) {
                (Vertex::Device { rank }, Vertex::Leaf { group: 0, .. }) | (Vertex::Leaf { group: 0, .. }, Vertex::Device { rank }) => {
                    group0_nodes.insert(rank / gpn);
                }
                (Vertex::Leaf { group, rail }, Vertex::Spine { pod: 0 }) | (Vertex::Spine { pod: 0 }, Vertex::Leaf { group, rail }) => {
                    pod0.insert((group, rail));
                }
                _ => {}
            }
        }
        tiers.sort_by_key(|t| t.0);
        s.tiers = tiers;
        s.group0_nodes = group0_nodes.into_iter().collect();
        s.pod0_groups = pod0.iter().map(|(g, _)| *g).collect::<std::collections::BTreeSet<_>>().len() as u64;
        s.pod0_leaves = pod0.into_iter().collect();
        s
    }
}
