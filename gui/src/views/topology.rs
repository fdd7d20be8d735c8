//! Topology: a drawing of the cluster graph. Large clusters are aggregated: the core, the pods'
//! spines, the first pod's leaf (rail) switches and a few nodes of the first leaf group are drawn,
//! with counts for the rest.

use egui::{Align2, Color32, FontId, Pos2, Rect, RichText, Sense, Shape, Stroke, Ui, pos2, vec2};
use wanka_sim::hardware::topology::Tier;

use super::palette::{BLUE, GREEN, ORANGE, PURPLE};
use super::{fmt_bw, fmt_count, legend_item};
use crate::jobs::StepOutput;
use crate::view_data::TopologySummary;

const MAX_PODS: usize = 6;
const MAX_LEAVES: usize = 8;
const MAX_NODES: usize = 4;
const MAX_GPUS: usize = 8;

pub fn tier_color(t: Tier) -> Color32 {
    match t {
        Tier::ScaleUp => GREEN,
        Tier::Leaf => BLUE,
        Tier::Spine => ORANGE,
        Tier::Core => PURPLE,
    }
}

pub fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::ScaleUp => "device – scale-up switch",
        Tier::Leaf => "device NIC – leaf/rail switch",
        Tier::Spine => "leaf – spine (inside a pod)",
        Tier::Core => "spine – core (between pods)",
    }
}

struct Painter<'a> {
    p: &'a egui::Painter,
    text: Color32,
    weak: Color32,
    fill: Color32,
}

impl Painter<'_> {
    fn boxed(&self, r: Rect, label: &str, more: bool) {
        let stroke = if more { Stroke::new(1.0, self.weak) } else { Stroke::new(1.2, self.text) };
        self.p.rect(r, 4.0, if more { Color32::TRANSPARENT } else { self.fill }, stroke, egui::StrokeKind::Inside);
        self.p.text(r.center(), Align2::CENTER_CENTER, label, FontId::proportional(12.0), if more { self.weak } else { self.text });
    }
    fn line(&self, a: Pos2, b: Pos2, tier: Tier) {
        self.p.line_segment([a, b], Stroke::new(1.4, tier_color(tier)));
    }
    fn dashed(&self, a: Pos2, b: Pos2) {
        self.p.extend(Shape::dashed_line(&[a, b], Stroke::new(1.0, self.weak), 4.0, 4.0));
    }
}

/// x centres of `n` slots spread over `[left, right]`.
fn slots(left: f32, right: f32, n: usize) -> Vec<f32> {
    let w = (right - left) / n.max(1) as f32;
    (0..n).map(|i| left + w * (i as f32 + 0.5)).collect()
}

pub fn topology_ui(ui: &mut Ui, out: &StepOutput) {
    let Some(t) = &out.topology else {
        ui.heading("Cluster topology");
        ui.label(format!(
            "{} devices: too many to build the cluster graph here (limit {}).",
            fmt_count(u64::from(out.simulated.cluster.gpus)),
            fmt_count(crate::jobs::MAX_GRAPH_DEVICES)
        ));
        return;
    };
    ui.horizontal(|ui| {
        ui.heading("Cluster topology");
        ui.label(RichText::new(format!("{} · {}", t.template, t.scale_out_fabric)).weak());
    });
    ui.label(format!(
        "{} × {} · {} nodes of {} · {} leaf switches ({} leaf groups × {} rail{}) · {} pod{} · 1 core",
        fmt_count(t.devices),
        out.chip_name,
        fmt_count(t.nodes),
        t.gpus_per_node,
        fmt_count(t.leaf_switches),
        fmt_count(t.leaf_groups),
        t.rails,
        if t.rails == 1 { "" } else { "s" },
        fmt_count(t.pods),
        if t.pods == 1 { "" } else { "s" },
    ));
    ui.label(
        RichText::new(format!(
            "{} nodes per leaf group, {} per pod; oversubscription leaf-to-spine {}:1, spine-to-core {}:1; scale-up: {}",
            t.nodes_per_leaf, t.nodes_per_pod, t.leaf_oversubscription, t.core_oversubscription, t.scale_up_fabric
        ))
        .weak(),
    );
    let legend_h = 22.0 * ((t.tiers.len() as f32) / 2.0).ceil() + 8.0;
    let size = vec2(ui.available_width(), (ui.available_height() - legend_h).max(300.0));
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    draw(ui, rect, t);
    egui::Grid::new("tier legend").num_columns(2).spacing(vec2(24.0, 4.0)).show(ui, |ui| {
        for (i, (tier, edges, lo, hi)) in t.tiers.iter().enumerate() {
            let bw = if (hi - lo).abs() <= 1e-6 * hi.abs() { fmt_bw(*hi) } else { format!("{} – {}", fmt_bw(*lo), fmt_bw(*hi)) };
            legend_item(ui, tier_color(*tier), format!("{}: {} links, {bw} per direction", tier_name(*tier), fmt_count(*edges)));
            if i % 2 == 1 {
                ui.end_row();
            }
        }
    });
}

fn draw(ui: &Ui, rect: Rect, t: &TopologySummary) {
    let v = ui.visuals();
    let pt = Painter { p: &ui.painter_at(rect), text: v.strong_text_color(), weak: v.weak_text_color(), fill: v.faint_bg_color };
    let left = rect.left() + 8.0;
    let right = rect.right() - 8.0;
    let y_core = rect.top() + rect.height() * 0.07;
    let y_spine = rect.top() + rect.height() * 0.27;
    let y_leaf = rect.top() + rect.height() * 0.50;
    let y_node = rect.top() + rect.height() * 0.66;
    let node_h = (rect.bottom() - 8.0 - y_node).clamp(80.0, 220.0);
    let box_h = 34.0;

    // Core.
    let core = Rect::from_center_size(pos2(rect.center().x, y_core), vec2(150.0, box_h));

    // Spines: one vertex per pod.
    let pods = t.pods as usize;
    let shown_pods = pods.min(MAX_PODS);
    let more_pods = pods - shown_pods;
    let n_slots = shown_pods + usize::from(more_pods > 0);
    let xs = slots(left, right, n_slots.max(1));
    let spine_w = ((right - left) / n_slots.max(1) as f32 - 12.0).min(150.0);
    let mut spine0 = None;
    for (i, x) in xs.iter().enumerate() {
        let r = Rect::from_center_size(pos2(*x, y_spine), vec2(spine_w, box_h));
        if i < shown_pods {
            pt.line(r.center_top(), core.center_bottom(), Tier::Core);
            pt.boxed(r, &format!("spine · pod {i}"), false);
            if i == 0 {
                spine0 = Some(r);
            }
        } else {
            pt.dashed(r.center_top(), core.center_bottom());
            pt.boxed(r, &format!("+{} more pods", fmt_count(more_pods as u64)), true);
        }
    }
    pt.boxed(core, "core", false);

    // Leaf (rail) switches of pod 0, group 0's first.
    let leaves = &t.pod0_leaves;
    let shown_leaves = leaves.len().min(MAX_LEAVES);
    let more_leaves = leaves.len() - shown_leaves;
    let n_slots = shown_leaves + usize::from(more_leaves > 0);
    let xs = slots(left, right, n_slots.max(1));
    let leaf_w = ((right - left) / n_slots.max(1) as f32 - 8.0).min(120.0);
    let mut leaf_rects: Vec<((u64, u32), Rect)> = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        let r = Rect::from_center_size(pos2(*x, y_leaf), vec2(leaf_w, box_h + 14.0));
        if let Some(s0) = spine0 {
            if i < shown_leaves {
                pt.line(r.center_top(), s0.center_bottom(), Tier::Spine);
            } else {
                pt.dashed(r.center_top(), s0.center_bottom());
            }
        }
        if i < shown_leaves {
            let (g, rail) = leaves[i];
            leaf_rects.push(((g, rail), r));
        } else {
            let groups_more = t.pod0_groups.saturating_sub(1);
            pt.boxed(r, &format!("+{} more\nleaves in\n{} groups", fmt_count(more_leaves as u64), groups_more), true);
        }
    }

    // Nodes of leaf group 0.
    let nodes = &t.group0_nodes;
    let shown_nodes = nodes.len().min(MAX_NODES);
    let more_nodes = nodes.len() - shown_nodes;
    let n_slots = shown_nodes + usize::from(more_nodes > 0);
    let xs = slots(left, right, n_slots.max(1));
    let node_w = ((right - left) / n_slots.max(1) as f32 - 16.0).min(230.0);
    let gpn = t.gpus_per_node as usize;
    let shown_gpus = gpn.min(MAX_GPUS);
    for (i, x) in xs.iter().enumerate() {
        let r = Rect::from_min_size(pos2(x - node_w / 2.0, y_node), vec2(node_w, node_h));
        if i >= shown_nodes {
            pt.boxed(r, &format!("+{} more nodes\nin leaf group 0\n({} nodes in all)", more_nodes, fmt_count(t.nodes)), true);
            continue;
        }
        pt.p.rect(r, 6.0, Color32::TRANSPARENT, Stroke::new(1.0, pt.weak), egui::StrokeKind::Inside);
        pt.p.text(
            r.center_bottom() - vec2(0.0, 4.0),
            Align2::CENTER_BOTTOM,
            format!("node {}", nodes[i]),
            FontId::proportional(12.5),
            pt.weak,
        );
        // GPUs in a row, the scale-up switch under them.
        let gx = slots(r.left() + 6.0, r.right() - 6.0, shown_gpus + usize::from(gpn > shown_gpus));
        let gpu_size = ((r.width() - 12.0) / gx.len() as f32 - 4.0).clamp(8.0, 22.0);
        let gy = r.top() + 10.0 + gpu_size / 2.0;
        let sw = Rect::from_min_max(pos2(r.left() + 6.0, r.bottom() - 44.0), pos2(r.right() - 6.0, r.bottom() - 20.0));
        for (k, x) in gx.iter().enumerate() {
            let g = Rect::from_center_size(pos2(*x, gy), vec2(gpu_size, gpu_size));
            if k >= shown_gpus {
                pt.p.text(g.center(), Align2::CENTER_CENTER, format!("+{}", gpn - shown_gpus), FontId::proportional(12.0), pt.weak);
                continue;
            }
            pt.line(g.center_bottom(), pos2(g.center().x, sw.top()), Tier::ScaleUp);
            // NIC uplink: to this GPU's rail leaf (rail-optimised) or the group's one leaf.
            let rail = if t.rails > 1 { k as u32 } else { 0 };
            if let Some((_, lr)) = leaf_rects.iter().find(|((grp, rl), _)| *grp == 0 && *rl == rail) {
                pt.line(g.center_top(), lr.center_bottom(), Tier::Leaf);
            }
            pt.p.rect(g, 2.0, GREEN.gamma_multiply(0.6), Stroke::new(1.0, pt.text), egui::StrokeKind::Inside);
        }
        pt.boxed(sw, "scale-up switch", false);
    }
    // Leaves last so the NIC lines run under them.
    for ((g, rail), r) in &leaf_rects {
        let label = if t.rails > 1 { format!("leaf g{g}\nrail {rail}") } else { format!("leaf g{g}") };
        pt.boxed(*r, &label, false);
    }
}
