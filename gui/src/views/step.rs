//! One step: where the time goes (breakdown bar) and the pipeline Gantt chart per stage.

use egui::{Align2, FontId, RichText, Sense, Stroke, Ui, vec2};
use egui_plot::{Bar, BarChart, GridMark, Plot};
use wanka_sim::step::schedule::{Breakdown, Pass, StepResult};

use super::palette::{BLUE, GRAY, GREEN, ORANGE, PURPLE, RED, TEAL};
use super::{fmt_s, legend_item, shade};
use crate::jobs::StepOutput;

/// Hover text of a bar: its name.
type ElementFormatter = Box<dyn Fn(&Bar, &BarChart) -> String>;

/// Colours of the Gantt chart.
pub const FORWARD: egui::Color32 = BLUE;
pub const BACKWARD: egui::Color32 = ORANGE;
pub const DP_COMM: egui::Color32 = PURPLE;
pub const OPTIMIZER: egui::Color32 = RED;

/// Shade of a micro-batch, so neighbouring micro-batches can be told apart.
fn mb_shade(c: egui::Color32, micro_batch: u32) -> egui::Color32 {
    const T: [f32; 4] = [0.0, 0.28, -0.22, 0.45];
    shade(c, T[(micro_batch % 4) as usize])
}

/// A time-axis tick with as many decimals as the tick spacing needs.
fn axis_seconds(v: f64, step: f64) -> String {
    let decimals = (-step.max(1e-9).log10().floor()).max(0.0) as usize;
    format!("{:.*} s", decimals.min(6), v)
}

/// The parts of the breakdown with their colours.
pub fn breakdown_parts(b: &Breakdown) -> [(&'static str, f64, egui::Color32); 5] {
    [
        ("compute", b.compute_s, TEAL),
        ("exposed TP/CP/EP comm", b.tp_comm_s, ORANGE),
        ("pipeline bubble", b.pp_bubble_s, GRAY),
        ("exposed DP comm", b.dp_comm_s, PURPLE),
        ("optimizer + other", b.optimizer_other_s, GREEN),
    ]
}

/// The step time as one stacked bar, with a legend.
pub fn breakdown_ui(ui: &mut Ui, r: &StepResult) {
    let parts = breakdown_parts(&r.breakdown);
    let total = r.step_s.max(f64::MIN_POSITIVE);
    let width = ui.available_width();
    let (rect, resp) = ui.allocate_exact_size(vec2(width, 26.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let mut x = rect.left();
    let text_color = egui::Color32::from_gray(20);
    let mut hovered = None;
    for (name, secs, color) in parts {
        let w = (secs / total) as f32 * rect.width();
        if w <= 0.0 {
            continue;
        }
        let seg = egui::Rect::from_min_size(egui::pos2(x, rect.top()), vec2(w, rect.height()));
        painter.rect_filled(seg, 0.0, color);
        if w > 48.0 {
            painter.text(
                seg.center(),
                Align2::CENTER_CENTER,
                format!("{:.0}%", 100.0 * secs / total),
                FontId::proportional(13.0),
                text_color,
            );
        }
        if resp.hover_pos().is_some_and(|p| p.x >= seg.left() && p.x < seg.right()) {
            hovered = Some((name, secs));
        }
        x += w;
    }
    painter.rect_stroke(rect, 2.0, Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color), egui::StrokeKind::Inside);
    if let Some((name, secs)) = hovered {
        resp.on_hover_text(format!("{name}: {} ({:.1}%)", fmt_s(secs), 100.0 * secs / total));
    }
    ui.horizontal_wrapped(|ui| {
        for (name, secs, color) in parts {
            legend_item(ui, color, format!("{name} {} ({:.1}%)", fmt_s(secs), 100.0 * secs / total));
        }
    });
}

/// Pipeline Gantt chart: one lane per stage (forward/backward per micro-batch, idle shows as the grey
/// lane), with gradient reduction and optimizer on a thin lane below it.
pub fn gantt_ui(ui: &mut Ui, r: &StepResult, height: f32) {
    let stages = r.timelines.len();
    let mut idle = Vec::with_capacity(stages);
    let mut fwd = Vec::new();
    let mut bwd = Vec::new();
    let mut dp = Vec::new();
    let mut opt = Vec::new();
    const LANE: f64 = 0.56;
    const SUB: f64 = 0.16;
    let sub_y = |y: f64| y - LANE / 2.0 - SUB / 2.0 - 0.01;
    for t in &r.timelines {
        let y = -f64::from(t.stage);
        idle.push(
            Bar::new(y, r.step_s)
                .base_offset(0.0)
                .width(LANE)
                .fill(GRAY.gamma_multiply(0.25))
                .stroke(Stroke::NONE)
                .name(format!("stage {}: idle where not covered", t.stage)),
        );
        for op in &t.ops {
            let (list, base, what) = match op.op.pass {
                Pass::Forward => (&mut fwd, FORWARD, "forward"),
                Pass::Backward => (&mut bwd, BACKWARD, "backward"),
                Pass::BackwardInput => (&mut bwd, BACKWARD, "backward (input gradients)"),
                Pass::Weight => (&mut bwd, BACKWARD, "weight gradients"),
            };
            list.push(
                Bar::new(y, op.end_s - op.start_s)
                    .base_offset(op.start_s)
                    .width(LANE)
                    .fill(mb_shade(base, op.op.micro_batch))
                    .stroke(Stroke::new(0.5, shade(base, -0.5)))
                    .name(format!(
                        "stage {} {what}: micro-batch {} chunk {}\n{} – {} ({})",
                        t.stage,
                        op.op.micro_batch,
                        op.op.chunk,
                        fmt_s(op.start_s),
                        fmt_s(op.end_s),
                        fmt_s(op.end_s - op.start_s)
                    )),
            );
        }
        for (a, b) in &t.dp_comm {
            dp.push(Bar::new(sub_y(y), b - a).base_offset(*a).width(SUB).fill(DP_COMM).stroke(Stroke::NONE).name(format!(
                "stage {} DP gradient reduction\n{} – {}",
                t.stage,
                fmt_s(*a),
                fmt_s(*b)
            )));
        }
        let (a, b) = t.optimizer;
        if b > a {
            opt.push(Bar::new(sub_y(y), b - a).base_offset(a).width(SUB).fill(OPTIMIZER).stroke(Stroke::NONE).name(format!(
                "stage {} optimizer (+ ZeRO gather)\n{} – {}",
                t.stage,
                fmt_s(a),
                fmt_s(b)
            )));
        }
    }
    let fmt = || -> ElementFormatter { Box::new(|bar: &Bar, _: &BarChart| bar.name.clone()) };
    let n = stages as f64;
    Plot::new("gantt")
        .height(height)
        .allow_zoom([true, false])
        .allow_drag([true, false])
        .allow_scroll([true, false])
        .include_x(0.0)
        .include_x(r.step_s)
        .include_y(0.45)
        .include_y(-n + 0.45)
        .set_margin_fraction(vec2(0.01, 0.02))
        .show_grid([true, false])
        .y_axis_min_width(56.0)
        .y_grid_spacer(move |_| (0..stages).map(|s| GridMark { value: -(s as f64), step_size: 1.0 }).collect())
        .y_axis_formatter(|mark, _| format!("stage {}", (-mark.value).round() as i64))
        .x_axis_label("time within the step")
        .x_axis_formatter(|mark, _| axis_seconds(mark.value, mark.step_size))
        .label_formatter(|_| None)
        .show(ui, move |p| {
            p.bar_chart(BarChart::new("idle", idle).horizontal().allow_hover(false));
            p.bar_chart(BarChart::new("forward", fwd).horizontal().element_formatter(fmt()));
            p.bar_chart(BarChart::new("backward", bwd).horizontal().element_formatter(fmt()));
            p.bar_chart(BarChart::new("DP gradient reduction", dp).horizontal().element_formatter(fmt()));
            p.bar_chart(BarChart::new("optimizer", opt).horizontal().element_formatter(fmt()));
        });
}

/// How the plan was chosen: searched (auto, with what the search saw) or written in the scenario.
pub fn parallelism_line(out: &StepOutput) -> String {
    let s = &out.simulated;
    match s.auto.as_ref().and_then(|a| a.searched.0.as_ref()) {
        Some(sum) => format!(
            "Parallelism searched (auto): {}, the best of {} feasible plans ({} enumerated, {} simulated exactly)",
            sum.parallelism, sum.search_feasible, sum.search_enumerated, sum.search_simulated
        ),
        None => {
            // The knobs the scenario left to their defaults, as resolved (schedule, vpp, micro-batch).
            let mut spec = s.parallelism.clone();
            spec.schedule = Some(out.plan.schedule);
            spec.vpp = Some(out.plan.vpp);
            spec.micro_batch = Some(out.plan.micro_batch);
            format!("Parallelism pinned (as written): {}", wanka_sim::planning::plan_file::describe(&spec))
        }
    }
}

/// The step view.
pub fn step_ui(ui: &mut Ui, out: &StepOutput) {
    let r = &out.result;
    ui.horizontal(|ui| {
        ui.heading("One training step");
        ui.label(
            RichText::new(format!(
                "{} · {} pipeline stages × {} micro-batches · bottleneck stage {}",
                out.scenario.name, out.plan.pp, out.plan.micro_batches, r.critical_stage
            ))
            .weak(),
        );
    });
    ui.label(RichText::new(parallelism_line(out)));
    ui.label(RichText::new("Where the step time goes (bottleneck stage: the busiest)").strong());
    breakdown_ui(ui, r);
    ui.add_space(6.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Pipeline schedule").strong());
        legend_item(ui, FORWARD, "forward");
        legend_item(ui, BACKWARD, "backward (shade = micro-batch)");
        legend_item(ui, DP_COMM, "DP gradient reduction");
        legend_item(ui, OPTIMIZER, "optimizer");
        legend_item(ui, GRAY.gamma_multiply(0.5), "idle");
        ui.label(RichText::new("scroll or drag to zoom/pan time").small().weak());
    });
    let notes_h = 18.0 * (r.notes.len() + 1) as f32;
    let h = (ui.available_height() - notes_h - 8.0).max(160.0);
    gantt_ui(ui, r, h);
    ui.label(RichText::new(format!("accuracy: {}", r.accuracy.text)).small().weak());
    for n in &r.notes {
        ui.label(RichText::new(format!("note: {n}")).small().weak());
    }
}
