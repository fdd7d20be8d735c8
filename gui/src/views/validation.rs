//! Validation: predicted vs published step time for every case of `step_cases.csv`.

use egui::{RichText, Ui};
use egui_plot::{Line, LineStyle, MarkerShape, Plot, PlotPoints, Points};
use wanka_sim::validate::StepReport;

use super::legend_item;
use super::palette::{GRAY, GREEN, RED, YELLOW};

/// Colour of a case by its absolute error.
pub fn error_color(err: f64) -> egui::Color32 {
    match err.abs() {
        e if e <= 0.10 => GREEN,
        e if e <= 0.20 => YELLOW,
        _ => RED,
    }
}

/// [`error_color`] for text: yellow is darkened on a light background.
fn error_text_color(ui: &Ui, err: f64) -> egui::Color32 {
    let c = error_color(err);
    if ui.visuals().dark_mode { c } else { super::shade(c, -0.4) }
}

/// A path relative to the working directory when it is below it.
fn short_path(file: &str) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|d| std::path::Path::new(file).strip_prefix(d).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| file.to_string())
}

/// A tick of a log10 axis as the value it stands for.
fn fmt_log_tick(log10: f64) -> String {
    let v = 10f64.powf(log10);
    if v >= 10.0 {
        format!("{v:.0} s")
    } else if v >= 1.0 {
        format!("{v:.1} s")
    } else {
        format!("{v:.2} s")
    }
}

/// What the validation view shows: nothing yet, running, a report, or why there is none.
pub enum ValidationState<'a> {
    NotStarted,
    Running,
    Done(&'a StepReport),
    Failed(&'a str),
}

pub fn validation_ui(ui: &mut Ui, state: ValidationState<'_>, holdout: Option<&Result<StepReport, String>>) {
    ui.heading("Validation against published runs");
    let report = match state {
        ValidationState::NotStarted => {
            ui.label("Validation has not run yet.");
            return;
        }
        ValidationState::Running => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("simulating the validation cases…");
            });
            return;
        }
        ValidationState::Failed(e) => {
            ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
            return;
        }
        ValidationState::Done(r) => r,
    };
    ui.label(
        RichText::new(format!(
            "{} — {} cases · mean absolute error {:.1}% · worst {:.1}% · mean signed error {:+.1}%",
            short_path(&report.file),
            report.cases.len(),
            100.0 * report.mape,
            100.0 * report.max_abs_error,
            100.0 * report.mean_error
        ))
        .weak(),
    );
    let held = match holdout {
        Some(Ok(h)) => {
            ui.label(
                RichText::new(format!(
                    "holdout: {} — {} cases never fitted · mean absolute error {:.1}% · worst {:.1}% · mean signed error {:+.1}% (diamonds; rows marked holdout)",
                    short_path(&h.file),
                    h.cases.len(),
                    100.0 * h.mape,
                    100.0 * h.max_abs_error,
                    100.0 * h.mean_error
                ))
                .weak(),
            );
            Some(h)
        }
        Some(Err(e)) => {
            ui.label(RichText::new(format!("holdout cases: {e}")).color(ui.visuals().error_fg_color));
            None
        }
        None => None,
    };
    let sets: Vec<(&StepReport, bool)> = std::iter::once((report, false)).chain(held.map(|h| (h, true))).collect();
    ui.horizontal_wrapped(|ui| {
        legend_item(ui, GREEN, "|error| ≤ 10%");
        legend_item(ui, YELLOW, "≤ 20%");
        legend_item(ui, RED, "> 20%");
        legend_item(ui, GRAY, "predicted = published");
        if held.is_some() {
            ui.label(RichText::new("circles: cases · diamonds: holdout").small().weak());
        }
    });
    let avail = ui.available_size();
    let plot_w = (avail.x * 0.42).min(avail.y - 4.0).max(240.0);
    ui.horizontal_top(|ui| {
        let all = || sets.iter().flat_map(|(r, _)| &r.cases);
        let hi = all().map(|c| c.measured_step_s.max(c.predicted_step_s.unwrap_or(0.0))).fold(1.0_f64, f64::max) * 1.08;
        // log10 axes: step times span more than a decade.
        let lo = all().map(|c| c.measured_step_s.min(c.predicted_step_s.unwrap_or(c.measured_step_s))).fold(hi, f64::min) / 1.15;
        let (llo, lhi) = (lo.log10(), hi.log10());
        Plot::new("validation scatter")
            .width(plot_w)
            .height(plot_w.min(avail.y - 4.0))
            .data_aspect(1.0)
            .include_x(llo)
            .include_x(lhi)
            .include_y(llo)
            .include_y(lhi)
            .x_axis_label("published step time (s, log)")
            .y_axis_label("predicted step time (s, log)")
            .x_axis_formatter(|m, _| fmt_log_tick(m.value))
            .y_axis_formatter(|m, _| fmt_log_tick(m.value))
            .label_formatter(|h| {
                Some(match h {
                    egui_plot::HoverPosition::NearDataPoint { plot_name, .. } => plot_name.to_string(),
                    egui_plot::HoverPosition::Elsewhere { position } => {
                        format!("published {:.2} s\npredicted {:.2} s", 10f64.powf(position.x), 10f64.powf(position.y))
                    }
                })
            })
            .show(ui, |p| {
                p.line(Line::new("y = x", PlotPoints::new(vec![[llo, llo], [lhi, lhi]])).color(GRAY).style(LineStyle::dashed_loose()));
                for (set, is_holdout) in &sets {
                    for c in &set.cases {
                        let (Some(pred), Some(err)) = (c.predicted_step_s, c.error) else { continue };
                        p.points(
                            Points::new(
                                format!(
                                    "{}{}\npublished {:.2} s, predicted {:.2} s ({:+.1}%)",
                                    c.id,
                                    if *is_holdout { " (holdout)" } else { "" },
                                    c.measured_step_s,
                                    pred,
                                    100.0 * err
                                ),
                                vec![[c.measured_step_s.log10(), pred.log10()]],
                            )
                            .shape(if *is_holdout { MarkerShape::Diamond } else { MarkerShape::Circle })
                            .filled(true)
                            .radius(if *is_holdout { 6.0 } else { 4.5 })
                            .color(error_color(err)),
                        );
                    }
                }
            });
        ui.separator();
        egui::ScrollArea::both().id_salt("validation table").auto_shrink([false, false]).show(ui, |ui| {
            egui::Grid::new("validation grid").striped(true).num_columns(9).spacing(egui::vec2(10.0, 4.0)).show(ui, |ui| {
                for h in ["case", "set", "family", "stack", "published s", "predicted s", "error", "MFU", "publ. MFU"] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for (c, is_holdout) in sets.iter().flat_map(|(r, h)| r.cases.iter().map(move |c| (c, *h))) {
                    ui.label(&c.id);
                    ui.label(if is_holdout { "holdout" } else { "cases" });
                    ui.label(&c.family);
                    ui.label(&c.stack);
                    ui.label(format!("{:.2} s", c.measured_step_s));
                    match (c.predicted_step_s, c.error) {
                        (Some(p), Some(e)) => {
                            ui.label(format!("{p:.2} s"));
                            ui.label(RichText::new(format!("{:+.1}%", 100.0 * e)).color(error_text_color(ui, e)));
                        }
                        _ => {
                            ui.label("–");
                            ui.label(RichText::new("failed").color(RED)).on_hover_text(c.failure.as_deref().unwrap_or(""));
                        }
                    }
                    ui.label(c.predicted_mfu.map_or("–".to_string(), |m| format!("{:.1}%", 100.0 * m)));
                    ui.label(c.measured_mfu.map_or("–".to_string(), |m| format!("{:.1}%", 100.0 * m)));
                    ui.end_row();
                }
            });
        });
    });
}
