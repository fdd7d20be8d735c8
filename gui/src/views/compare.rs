//! Two or more candidates of a plan side by side: every figure of the comparison with its difference
//! from the first candidate picked, the step breakdown of each chosen layout, the losses in days and
//! in money, and a sentence on why the days differ.

use egui::{Color32, RichText, Ui};
use wanka_sim::planning::plan_file::CandidateResult;

use super::palette::{GREEN, RED};
use crate::jobs::{PlanLosses, PlanOutput};
use crate::view_data::{LOSS_PARTS, Losses};

/// Which direction of a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Neither (device counts, power).
    Neither,
}

/// One row of the comparison: its label, its value for a candidate (and its losses), decimals shown.
pub struct Figure {
    pub label: &'static str,
    pub value: fn(&CandidateResult, Option<&Losses>) -> Option<f64>,
    pub decimals: usize,
    pub better: Better,
}

fn breakdown(r: &CandidateResult) -> Option<&wanka_sim::step::schedule::Breakdown> {
    r.top_plans.first().map(|p| &p.breakdown)
}

/// Lost days × the run's cost per wall-clock day: what the lost time costs.
fn lost_money_musd(r: &CandidateResult, l: &Losses, days: f64) -> Option<f64> {
    (l.wall_days > 0.0).then(|| days / l.wall_days * r.economics.total_usd / 1e6)
}

/// Every figure the view compares, in order.
pub const FIGURES: &[Figure] = &[
    Figure { label: "devices", value: |r, _| Some(r.devices as f64), decimals: 0, better: Better::Neither },
    Figure { label: "p50 days", value: |r, _| Some(r.days.p50), decimals: 1, better: Better::Lower },
    Figure { label: "p90 days", value: |r, _| Some(r.days.p90), decimals: 1, better: Better::Lower },
    Figure {
        label: "p90 days + model error",
        value: |r, _| r.bands.as_ref().map(|b| b.days_p90_with_model_error),
        decimals: 1,
        better: Better::Lower,
    },
    Figure { label: "ideal days (no failures)", value: |r, _| Some(r.ideal_days), decimals: 1, better: Better::Lower },
    Figure { label: "step s", value: |r, _| Some(r.step_s), decimals: 2, better: Better::Lower },
    Figure { label: "tokens/s (M)", value: |r, _| Some(r.tokens_per_s / 1e6), decimals: 2, better: Better::Higher },
    Figure { label: "MFU %", value: |r, _| Some(100.0 * r.mfu), decimals: 1, better: Better::Higher },
    Figure { label: "ETTR p50", value: |r, _| Some(r.ettr.p50), decimals: 3, better: Better::Higher },
    Figure { label: "interruptions p50", value: |r, _| Some(r.interruptions.p50), decimals: 0, better: Better::Lower },
    Figure { label: "cost M$", value: |r, _| Some(r.economics.total_usd / 1e6), decimals: 2, better: Better::Lower },
    Figure { label: "hardware M$", value: |r, _| Some(r.economics.hardware_usd / 1e6), decimals: 2, better: Better::Lower },
    Figure { label: "energy M$", value: |r, _| Some(r.economics.energy_usd / 1e6), decimals: 2, better: Better::Lower },
    Figure { label: "$/1M tok", value: |r, _| Some(r.economics.usd_per_million_tokens), decimals: 2, better: Better::Lower },
    Figure { label: "MWh", value: |r, _| Some(r.economics.energy_mwh), decimals: 0, better: Better::Lower },
    Figure { label: "peak MW", value: |r, _| Some(r.economics.peak_mw), decimals: 1, better: Better::Neither },
    Figure { label: "step: compute s", value: |r, _| breakdown(r).map(|b| b.compute_s), decimals: 2, better: Better::Lower },
    Figure { label: "step: TP/PP/CP/EP comm s", value: |r, _| breakdown(r).map(|b| b.tp_comm_s), decimals: 2, better: Better::Lower },
    Figure { label: "step: pipeline bubble s", value: |r, _| breakdown(r).map(|b| b.pp_bubble_s), decimals: 2, better: Better::Lower },
    Figure { label: "step: DP comm s", value: |r, _| breakdown(r).map(|b| b.dp_comm_s), decimals: 2, better: Better::Lower },
    Figure {
        label: "step: optimizer, other s",
        value: |r, _| breakdown(r).map(|b| b.optimizer_other_s),
        decimals: 2,
        better: Better::Lower,
    },
    Figure { label: "lost days (mean)", value: |_, l| l.map(Losses::lost_total_days), decimals: 1, better: Better::Lower },
    Figure {
        label: "lost M$ (lost days at the run's cost per day)",
        value: |r, l| l.and_then(|l| lost_money_musd(r, l, l.lost_total_days())),
        decimals: 2,
        better: Better::Lower,
    },
    Figure { label: "lost: rework days", value: |_, l| l.map(|l| l.lost_days.rework_days), decimals: 2, better: Better::Lower },
    Figure { label: "lost: restarts days", value: |_, l| l.map(|l| l.lost_days.restart_days), decimals: 2, better: Better::Lower },
    Figure {
        label: "lost: checkpoint stalls days",
        value: |_, l| l.map(|l| l.lost_days.checkpoint_days),
        decimals: 2,
        better: Better::Lower,
    },
    Figure {
        label: "lost: waiting for spares days",
        value: |_, l| l.map(|l| l.lost_days.spare_wait_days),
        decimals: 2,
        better: Better::Lower,
    },
    Figure { label: "lost: stragglers days", value: |_, l| l.map(|l| l.lost_days.straggler_days), decimals: 2, better: Better::Lower },
    Figure { label: "lost: maintenance days", value: |_, l| l.map(|l| l.lost_days.maintenance_days), decimals: 2, better: Better::Lower },
];

/// The text of a value.
pub fn value_text(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        Some(_) => "∞".into(),
        None => "—".into(),
    }
}

/// The text of a difference `v − base`, with its percentage of `base`.
pub fn delta_text(v: Option<f64>, base: Option<f64>, decimals: usize) -> String {
    match (v, base) {
        (Some(v), Some(b)) if v.is_finite() && b.is_finite() => {
            let d = v - b;
            if b.abs() > 1e-12 { format!("{d:+.decimals$} ({:+.0}%)", 100.0 * d / b.abs()) } else { format!("{d:+.decimals$}") }
        }
        _ => "—".into(),
    }
}

/// Why the days of `b` differ from `a`'s: days ≈ ideal days ÷ ETTR, so the log ratio of the p50 days
/// splits into the step (throughput) and the losses (failures, checkpoints, restarts).
pub fn why(a: &CandidateResult, b: &CandidateResult) -> String {
    let (d, ideal) = (b.days.p50 / a.days.p50, b.ideal_days / a.ideal_days);
    if !(d.is_finite() && ideal.is_finite() && d > 0.0 && ideal > 0.0) {
        return String::new();
    }
    let total = d.ln();
    if total.abs() < 1e-3 {
        return format!("`{}` and `{}` take the same time (p50 {:.1} days).", b.name, a.name, b.days.p50);
    }
    let step_share = (ideal.ln() / total).clamp(-9.99, 9.99);
    format!(
        "`{}` takes {:.0}% {} than `{}`: {:.0}% of the difference comes from the step (ideal days {:.1} vs {:.1}: throughput {:.2} vs {:.2} M tokens/s), {:.0}% from the time lost to failures, restarts and checkpoints (ETTR {:.3} vs {:.3}).",
        b.name,
        100.0 * (d - 1.0).abs(),
        if d > 1.0 { "longer" } else { "less time" },
        a.name,
        100.0 * step_share,
        b.ideal_days,
        a.ideal_days,
        b.tokens_per_s / 1e6,
        a.tokens_per_s / 1e6,
        100.0 * (1.0 - step_share),
        b.ettr.p50,
        a.ettr.p50
    )
}

/// The candidates to compare by default: the two best ranked feasible ones.
pub fn default_picks(out: &PlanOutput) -> Vec<usize> {
    out.comparison.candidates.iter().enumerate().filter(|(_, r)| r.feasible).take(2).map(|(k, _)| out.candidate_of[k]).collect()
}

/// The compare view. `picks`: candidate indices (into the plan), the first is the reference.
pub fn compare_ui(ui: &mut Ui, out: &PlanOutput, picks: &mut Vec<usize>, losses: Option<&PlanLosses>, losses_busy: bool) {
    picks.retain(|&i| out.result_of(i).is_some_and(|(_, r)| r.feasible));
    if picks.len() < 2 {
        for i in default_picks(out) {
            if !picks.contains(&i) && picks.len() < 2 {
                picks.push(i);
            }
        }
    }
    ui.heading("Compare candidates");
    ui.label(RichText::new("Tick two or more feasible candidates; differences are against the first ticked (its column is first).").weak());
    ui.horizontal_wrapped(|ui| {
        for (k, r) in out.comparison.candidates.iter().enumerate() {
            let i = out.candidate_of[k];
            let mut on = picks.contains(&i);
            let resp = ui.add_enabled(r.feasible, egui::Checkbox::new(&mut on, &r.name));
            if resp.changed() {
                if on {
                    picks.push(i);
                } else {
                    picks.retain(|&p| p != i);
                }
            }
        }
    });
    if picks.len() < 2 {
        ui.label("Fewer than two feasible candidates: nothing to compare.");
        return;
    }
    let rows: Vec<(usize, &CandidateResult, Option<&Losses>)> = picks
        .iter()
        .filter_map(|&i| {
            let (k, r) = out.result_of(i)?;
            Some((k, r, losses.and_then(|l| l.get(k)).and_then(|l| l.as_ref().ok())))
        })
        .collect();
    let (_, base, base_l) = rows[0];
    for (_, r, _) in &rows[1..] {
        ui.add(egui::Label::new(RichText::new(why(base, r))).wrap());
    }
    if losses.is_none() {
        ui.label(
            RichText::new(if losses_busy { "computing the losses over the plan's seeds…" } else { "losses not computed yet" })
                .small()
                .weak(),
        );
    }
    ui.add_space(4.0);
    let good = |better: Better, d: f64| -> Option<Color32> {
        match better {
            Better::Neither => None,
            _ if d.abs() < 1e-12 => None,
            Better::Lower => Some(if d < 0.0 { GREEN } else { RED }),
            Better::Higher => Some(if d > 0.0 { GREEN } else { RED }),
        }
    };
    egui::ScrollArea::both().id_salt("compare table").auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("compare grid").striped(true).spacing(egui::vec2(14.0, 4.0)).show(ui, |ui| {
            ui.label(RichText::new("figure").strong());
            for (n, (_, r, _)) in rows.iter().enumerate() {
                ui.label(RichText::new(short(&r.name)).strong()).on_hover_text(&r.name);
                if n > 0 {
                    ui.label(RichText::new(format!("Δ vs {}", short(&base.name))).strong());
                }
            }
            ui.end_row();
            for f in FIGURES {
                ui.label(f.label);
                let b = (f.value)(base, base_l);
                for (n, (_, r, l)) in rows.iter().enumerate() {
                    let v = (f.value)(r, *l);
                    ui.label(value_text(v, f.decimals));
                    if n > 0 {
                        let text = delta_text(v, b, f.decimals);
                        let color = match (v, b) {
                            (Some(v), Some(b)) => good(f.better, v - b),
                            _ => None,
                        };
                        ui.label(match color {
                            Some(c) => RichText::new(text).color(c),
                            None => RichText::new(text).weak(),
                        });
                    }
                }
                ui.end_row();
            }
        });
        // Layouts are long: listed under the table rather than widening its columns.
        for (_, r, _) in &rows {
            ui.add(egui::Label::new(RichText::new(format!("{}: {}", r.name, super::candidates::parallelism_words(r)))).wrap());
        }
        ui.add_space(6.0);
        ui.label(
            RichText::new(format!(
                "Step breakdown: the chosen layout's bottleneck stage (single-pool candidates; mixed ones show —). Losses: mean over the plan's seeds, parts as in the Losses view ({}).",
                LOSS_PARTS[1..].join(", ")
            ))
            .small()
            .weak(),
        );
    });
}

/// A name cut to 24 characters for a column heading.
fn short(name: &str) -> String {
    if name.chars().count() <= 24 { name.to_string() } else { format!("{}…", name.chars().take(23).collect::<String>()) }
}
