//! The numbers that stay visible whatever the view: step time, tokens/s, MFU/HFU, memory.

use egui::text::LayoutJob;
use egui::{Color32, FontId, RichText, TextFormat, Ui};

use super::{fmt_count, fmt_s};
use crate::jobs::{PlanOutput, StepOutput};

/// One "key value" figure as a single label (its accessible name is the whole text).
pub(crate) fn figure(ui: &mut Ui, key: &str, value: String, value_color: Option<Color32>) {
    let style = ui.style();
    let weak = style.visuals.weak_text_color();
    let strong = value_color.unwrap_or_else(|| style.visuals.strong_text_color());
    let mut job = LayoutJob::default();
    job.append(&format!("{key} "), 0.0, TextFormat::simple(FontId::proportional(12.0), weak));
    job.append(&value, 0.0, TextFormat::simple(FontId::proportional(17.0), strong));
    ui.label(job);
}

/// The summary strip. `busy`: a job is running.
pub fn summary_ui(ui: &mut Ui, out: Option<&StepOutput>, busy: bool) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 18.0;
        let Some(o) = out else {
            if busy {
                ui.spinner();
                ui.label("simulating…");
            } else {
                ui.label("no result");
            }
            return;
        };
        let r = &o.result;
        figure(ui, "Step time", fmt_s(r.step_s), None);
        figure(ui, "Throughput", format!("{} tokens/s", fmt_count(r.tokens_per_s.round() as u64)), None);
        figure(ui, "MFU / HFU", format!("{:.1}% / {:.1}%", 100.0 * r.mfu, 100.0 * r.hfu), None);
        let over = r.memory.total_gb > r.memory_capacity_gb;
        figure(
            ui,
            "Memory",
            format!("{:.1} of {:.0} GB", r.memory.total_gb, r.memory_capacity_gb),
            over.then_some(ui.visuals().error_fg_color),
        );
        let p = &o.plan;
        figure(
            ui,
            if o.simulated.auto.is_some() { "Plan (searched)" } else { "Plan" },
            format!("TP{} PP{} DP{} CP{} · vpp {} · {} micro-batches", p.tp, p.pp, p.dp, p.cp, p.vpp, p.micro_batches),
            None,
        );
        if busy {
            ui.spinner().on_hover_text("simulating the edited scenario");
        }
    });
}

/// The summary strip of a plan: the fastest and the cheapest feasible candidate, the Pareto front and
/// the selected candidate.
pub fn plan_summary_ui(ui: &mut Ui, out: Option<&PlanOutput>, selected: usize, busy: bool) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 18.0;
        let Some(o) = out else {
            if busy {
                ui.spinner();
                ui.label("comparing the candidates…");
            } else {
                ui.label("no result");
            }
            return;
        };
        let c = &o.comparison;
        let feasible: Vec<_> = c.candidates.iter().filter(|r| r.feasible).collect();
        if let Some(f) = feasible.iter().min_by(|a, b| a.days.p50.total_cmp(&b.days.p50)) {
            figure(ui, "Fastest", format!("{} · p50 {:.1} d", f.name, f.days.p50), None);
        }
        if let Some(f) = feasible.iter().min_by(|a, b| a.economics.total_usd.total_cmp(&b.economics.total_usd)) {
            figure(ui, "Cheapest", format!("{} · {:.2} M$", f.name, f.economics.total_usd / 1e6), None);
        }
        figure(ui, "Pareto front", format!("{} of {}", c.pareto_front.len(), c.candidates.len()), None);
        if let Some((_, r)) = o.result_of(selected) {
            let value = if r.feasible {
                format!("{} · p50 {:.1} d · {:.2} M$ · MFU {:.1}%", r.name, r.days.p50, r.economics.total_usd / 1e6, 100.0 * r.mfu)
            } else {
                format!("{} · infeasible", r.name)
            };
            figure(ui, "Selected", value, None);
        }
        if busy {
            ui.spinner().on_hover_text("comparing the edited plan");
        }
    });
}

/// Shown while the edited scenario is invalid: the figures are those of the last valid one.
pub fn invalid_badge_ui(ui: &mut Ui) {
    ui.label(RichText::new("Invalid edit: showing the last valid result").color(ui.visuals().warn_fg_color));
}
