//! What the background threads compute: thin calls into `wanka_sim`, packaged for the views.

use std::path::PathBuf;

use wanka_sim::parallelism::Plan;
use wanka_sim::step::StepResult;
use wanka_sim::topology::{Tier, Vertex};
use wanka_sim::validate::{self, StepReport};
use wanka_sim::{Catalog, Scenario, WankaError};

/// A step simulation request.
#[derive(Debug, Clone)]
pub struct StepJob {
    pub scenario: Scenario,
    /// Names the scenario in error messages (file path or `<edited>`).
    pub file: String,
}

/// A valid scenario with everything the views draw.
#[derive(Debug, Clone)]
pub struct StepOutput {
    pub scenario: Scenario,
    pub file: String,
    pub result: StepResult,
    pub plan: Plan,
    pub chip_name: String,
    /// `None` when the cluster is too large to build its graph here.
    pub topology: Option<TopologySummary>,
}

/// Largest number of pipeline operations per stage simulated in the app.
pub const MAX_STEP_OPS: u64 = 2_000_000;
/// Largest cluster whose graph the app builds for the topology view.
pub const MAX_GRAPH_DEVICES: u64 = 1_000_000;

/// Run one step simulation (on the worker thread).
pub fn run_step(job: StepJob) -> Result<StepOutput, WankaError> {
    let catalog = Catalog::builtin();
    // `simulate_step` does not repeat the field checks `Scenario::parse` makes; edits need them.
    job.scenario.check(&job.file)?;
    let resolved = job.scenario.resolve(catalog, &job.file)?;
    // The step simulator keeps every operation of the step: refuse sizes that would exhaust memory
    // (a typo such as an extra zero in the global batch) instead of letting the app be killed.
    let ops = u64::from(resolved.plan.micro_batches) * u64::from(resolved.plan.chunks()) * 2;
    if ops > MAX_STEP_OPS {
        return Err(WankaError::Invalid {
            file: job.file,
            field: "parallelism".into(),
            msg: format!(
                "{} micro-batches × {} pipeline chunks = {ops} operations per stage is more than this app simulates interactively ({MAX_STEP_OPS})",
                resolved.plan.micro_batches,
                resolved.plan.chunks()
            ),
        });
    }
    let result = job.scenario.simulate_step(catalog, &job.file)?;
    let topology = (resolved.cluster.gpus <= MAX_GRAPH_DEVICES).then(|| TopologySummary::of(&resolved.cluster));
    Ok(StepOutput {
        chip_name: resolved.cluster.chip.name.clone(),
        plan: resolved.plan,
        scenario: job.scenario,
        file: job.file,
        result,
        topology,
    })
}

/// Run the validation cases of a file (on the worker thread).
pub fn run_validation(path: PathBuf) -> Result<StepReport, WankaError> {
    validate::validate_steps(&path, Catalog::builtin())
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
    pub fn of(cluster: &wanka_sim::topology::Cluster) -> TopologySummary {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_summary_matches_the_cluster() {
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        let s = Scenario::load(&dir.join("default.ron")).unwrap();
        let out = run_step(StepJob { scenario: s, file: "default.ron".into() }).unwrap();
        let t = out.topology.as_ref().unwrap();
        assert_eq!(t.devices, 10240);
        assert_eq!(t.nodes, 1280);
        assert_eq!(t.core, 1);
        assert!(t.pods >= 1 && t.leaf_switches >= t.leaf_groups);
        assert_eq!(t.leaf_switches, t.leaf_groups * u64::from(t.rails));
        assert!(!t.group0_nodes.is_empty() && t.group0_nodes[0] == 0);
        assert!(t.tiers.iter().any(|x| x.0 == Tier::ScaleUp));
        assert!(out.result.step_s > 0.0);
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;

    #[test]
    fn absurd_sizes_are_refused_not_simulated() {
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        let mut s = Scenario::load(&dir.join("default.ron")).unwrap();
        s.parallelism.global_batch = 2560 * 100_000;
        let e = run_step(StepJob { scenario: s, file: "x.ron".into() }).unwrap_err().to_string();
        assert!(e.contains("field `parallelism`") && e.contains("interactively"), "{e}");
    }
}
