//! Where the wall clock goes: useful training versus each kind of loss (rework since the last
//! checkpoint, restarts, checkpoint stalls, waiting for spares, stragglers, maintenance), in days and
//! percent of the wall clock, as mean over the Monte Carlo seeds. One bar for a scenario (plus the
//! losses of every seed), one bar per candidate for a plan.

use egui::{Color32, RichText, Ui};
use egui_plot::{Bar, BarChart, GridMark, Plot};

use super::legend_item;
use super::palette::{BROWN, GRAY, ORANGE, PURPLE, RED, TEAL, YELLOW};
use crate::jobs::{PlanLosses, PlanOutput, RunOutput};
use crate::view_data::{LOSS_PARTS, Losses};

/// Colours of [`LOSS_PARTS`].
pub const COLORS: [Color32; 7] = [TEAL, RED, ORANGE, PURPLE, YELLOW, BROWN, GRAY];

/// Short names of [`LOSS_PARTS`] for table headers.
const SHORT: [&str; 7] = ["useful", "rework", "restarts", "ckpt stalls", "spare wait", "stragglers", "maintenance"];

type ElementFormatter = Box<dyn Fn(&Bar, &BarChart) -> String>;

fn hover() -> ElementFormatter {
    Box::new(|bar: &Bar, _: &BarChart| bar.name.clone())
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { 100.0 * part / whole } else { 0.0 }
}

/// Horizontal stacked bars, one per row (`rows[i]` at y = −i), of the parts `from..` of each row's
/// losses. `labels` name the rows on the y axis.
fn stacked(ui: &mut Ui, id: &str, rows: &[(String, Losses)], from: usize, height: f32, x_label: &str) {
    let n = rows.len();
    let mut charts: Vec<BarChart> = Vec::new();
    for (p, name) in LOSS_PARTS.iter().enumerate().skip(from) {
        let bars: Vec<Bar> = rows
            .iter()
            .enumerate()
            .map(|(i, (row, l))| {
                let v = l.parts()[p];
                Bar::new(-(i as f64), v)
                    .width(0.62)
                    .fill(COLORS[p])
                    .stroke(egui::Stroke::NONE)
                    .name(format!("{row}\n{name}: {v:.2} days ({:.1}% of the wall clock)", pct(v, l.wall_days)))
            })
            .collect();
        let mut chart = BarChart::new(*name, bars).horizontal().color(COLORS[p]).element_formatter(hover());
        {
            let below: Vec<&BarChart> = charts.iter().collect();
            if !below.is_empty() {
                chart = chart.stack_on(&below);
            }
        }
        charts.push(chart);
    }
    let labels: Vec<String> = rows.iter().map(|(r, _)| r.clone()).collect();
    let max = rows.iter().map(|(_, l)| l.parts()[from..].iter().sum::<f64>()).fold(0.0, f64::max);
    Plot::new(id)
        .height(height)
        .allow_zoom([true, false])
        .allow_drag([true, false])
        .allow_scroll([true, false])
        .include_x(0.0)
        .include_x(max * 1.04)
        .include_y(0.45)
        .include_y(-(n as f64) + 0.55)
        .show_grid([true, false])
        .set_margin_fraction(egui::vec2(0.01, 0.04))
        .y_axis_min_width(if n > 1 { 170.0 } else { 20.0 })
        .y_grid_spacer(move |_| (0..n).map(|i| GridMark { value: -(i as f64), step_size: 1.0 }).collect())
        .y_axis_formatter(move |m, _| {
            let i = (-m.value).round() as usize;
            if n > 1 {
                labels
                    .get(i)
                    .map(|s| if s.chars().count() > 26 { format!("{}…", s.chars().take(25).collect::<String>()) } else { s.clone() })
            } else {
                None
            }
            .unwrap_or_default()
        })
        .x_axis_label(x_label)
        .label_formatter(|_| None)
        .show(ui, |p| {
            for c in charts {
                p.bar_chart(c);
            }
        });
}

fn legend(ui: &mut Ui, l: Option<&Losses>) {
    ui.horizontal_wrapped(|ui| {
        for (p, name) in LOSS_PARTS.iter().enumerate() {
            let text = match l {
                Some(l) => format!("{name} {:.2} d ({:.1}%)", l.parts()[p], pct(l.parts()[p], l.wall_days)),
                None => name.to_string(),
            };
            legend_item(ui, COLORS[p], text);
        }
    });
}

/// The losses of one scenario's run.
pub fn scenario_losses_ui(ui: &mut Ui, out: &RunOutput, busy: bool) {
    let l = &out.losses;
    let mc = &out.monte_carlo;
    ui.horizontal_wrapped(|ui| {
        ui.heading("Where the time goes");
        ui.label(
            RichText::new(format!(
                "{} · mean over {} seeds: {:.2} days of wall clock, {:.2} useful, {:.2} lost ({:.1}%)",
                out.context.scenario,
                mc.seeds,
                l.wall_days,
                l.useful_days,
                l.lost_total_days(),
                pct(l.lost_total_days(), l.wall_days)
            ))
            .weak(),
        );
        if busy {
            ui.spinner();
        }
    });
    legend(ui, Some(l));
    let rows = vec![(out.context.scenario.clone(), *l)];
    ui.label(RichText::new("Wall clock = useful training + losses (mean days)").strong());
    stacked(ui, "losses wall", &rows, 0, 90.0, "days");
    ui.add_space(6.0);
    ui.label(RichText::new("Losses of every Monte Carlo seed (days), seeds ordered by their total loss").strong());
    // Per seed, the same parts in days.
    let mut seeds: Vec<(u64, [f64; 6])> = mc
        .per_seed()
        .map(|(seed, r)| {
            let d = 86400.0;
            let x = &r.lost;
            (seed, [x.rework_s / d, x.restart_s / d, x.checkpoint_s / d, x.spare_wait_s / d, x.straggler_s / d, x.maintenance_s / d])
        })
        .collect();
    seeds.sort_by(|a, b| a.1.iter().sum::<f64>().total_cmp(&b.1.iter().sum::<f64>()).then(a.0.cmp(&b.0)));
    let mut charts: Vec<BarChart> = Vec::new();
    for p in 1..LOSS_PARTS.len() {
        let bars: Vec<Bar> = seeds
            .iter()
            .enumerate()
            .map(|(i, (seed, v))| {
                Bar::new(i as f64, v[p - 1]).width(0.8).fill(COLORS[p]).stroke(egui::Stroke::NONE).name(format!(
                    "seed {seed}: {} {:.2} days (total lost {:.2})",
                    LOSS_PARTS[p],
                    v[p - 1],
                    v.iter().sum::<f64>()
                ))
            })
            .collect();
        let mut chart = BarChart::new(LOSS_PARTS[p], bars).color(COLORS[p]).element_formatter(hover());
        {
            let below: Vec<&BarChart> = charts.iter().collect();
            if !below.is_empty() {
                chart = chart.stack_on(&below);
            }
        }
        charts.push(chart);
    }
    let h = (ui.available_height() - 6.0).max(160.0);
    let w = ui.available_width();
    ui.horizontal_top(|ui| {
        ui.allocate_ui_with_layout(egui::vec2((w - 250.0).max(300.0), h), egui::Layout::top_down(egui::Align::Min), |ui| {
            per_seed_plot(ui, charts, seeds.len(), h);
        });
        ui.vertical(|ui| losses_table(ui, l));
    });
}

fn per_seed_plot(ui: &mut Ui, charts: Vec<BarChart>, n: usize, h: f32) {
    Plot::new("losses per seed")
        .height(h)
        .include_y(0.0)
        .include_x(-0.5)
        .include_x(n as f64 - 0.5)
        .allow_zoom([true, false])
        .allow_drag([true, false])
        .allow_scroll([true, false])
        .x_axis_label("Monte Carlo seeds, least to most loss")
        .y_axis_label("lost days")
        .x_axis_formatter(|_, _| String::new())
        .label_formatter(|_| None)
        .show(ui, |p| {
            for c in charts {
                p.bar_chart(c);
            }
        });
}

fn losses_table(ui: &mut Ui, l: &Losses) {
    egui::Grid::new("losses table").striped(true).num_columns(3).show(ui, |ui| {
        ui.label(RichText::new("part").strong());
        ui.label(RichText::new("days").strong());
        ui.label(RichText::new("% wall").strong());
        ui.end_row();
        for (p, name) in SHORT.iter().enumerate() {
            let v = l.parts()[p];
            legend_item(ui, COLORS[p], *name);
            ui.label(format!("{v:.3}"));
            ui.label(format!("{:.2}%", pct(v, l.wall_days)));
            ui.end_row();
        }
        ui.label(RichText::new("wall clock").strong());
        ui.label(RichText::new(format!("{:.3}", l.wall_days)).strong());
        ui.label(RichText::new("100%").strong());
        ui.end_row();
    });
}

/// The losses of every candidate of a plan (ranked order).
pub fn plan_losses_ui(ui: &mut Ui, out: &PlanOutput, losses: Option<&PlanLosses>, busy: bool) {
    ui.horizontal_wrapped(|ui| {
        ui.heading("Where the time goes");
        ui.label(RichText::new(format!("{} · mean over {} seeds per candidate", out.comparison.plan, out.comparison.seeds)).weak());
        if busy {
            ui.spinner();
        }
    });
    let Some(losses) = losses else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("simulating every candidate's runs…");
        });
        return;
    };
    let mut rows: Vec<(String, Losses)> = Vec::new();
    let mut skipped = Vec::new();
    for (r, l) in out.comparison.candidates.iter().zip(losses) {
        match l {
            Ok(l) => rows.push((r.name.clone(), *l)),
            Err(e) => skipped.push(format!("{}: {e}", r.name)),
        }
    }
    legend(ui, None);
    let n = rows.len().max(1) as f32;
    let avail = ui.available_height();
    let table_h = 26.0 + 20.0 * (rows.len() as f32 + 1.0) + 18.0 * skipped.len() as f32;
    let chart_h = ((avail - table_h - 60.0) / 2.0).max(40.0 + 24.0 * n);
    ui.label(RichText::new("Wall clock = useful training + losses (mean days)").strong());
    stacked(ui, "plan losses wall", &rows, 0, chart_h, "days");
    ui.label(RichText::new("Losses only (mean days)").strong());
    stacked(ui, "plan losses only", &rows, 1, chart_h, "lost days");
    for s in &skipped {
        ui.label(RichText::new(format!("not run: {s}")).small().weak());
    }
    egui::ScrollArea::both().id_salt("plan losses table").show(ui, |ui| {
        egui::Grid::new("plan losses grid").striped(true).show(ui, |ui| {
            ui.label(RichText::new("candidate").strong());
            ui.label(RichText::new("wall d").strong());
            for (p, name) in SHORT.iter().enumerate() {
                ui.label(RichText::new(*name).strong().color(COLORS[p])).on_hover_text(LOSS_PARTS[p]);
            }
            ui.end_row();
            for (name, l) in &rows {
                ui.label(name);
                ui.label(format!("{:.2}", l.wall_days));
                for v in l.parts() {
                    ui.label(format!("{v:.2} ({:.1}%)", pct(v, l.wall_days)));
                }
                ui.end_row();
            }
        });
    });
}
