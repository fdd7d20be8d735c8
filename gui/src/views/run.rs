//! The whole training run: progress over wall-clock days for one seed (failures, down time and
//! checkpoints marked) inside the p10–p90 band over Monte Carlo seeds, the run summary, interruptions
//! by cause and the event log.

use egui::{Align, Color32, Layout, RichText, Sense, Ui, vec2};
use egui_plot::{FilledArea, HoverPosition, Legend, Line, LineStyle, MarkerShape, Plot, Points, Polygon, VLine};

use super::palette::{BLUE, BROWN, GRAY, GREEN, ORANGE, PURPLE, RED, TEAL, YELLOW};
use super::summary::figure;
use crate::jobs::RunOutput;

/// Failures drawn as vertical lines, and checkpoints as points, when at most this many are in view
/// (zoom in to see more).
const MAX_FAILURE_LINES: usize = 400;
const MAX_CHECKPOINTS_IN_VIEW: usize = 400;

/// Colour of an event kind of the log.
pub fn kind_color(kind: &str) -> Color32 {
    match kind {
        "failure" => RED,
        "interruption" => ORANGE,
        "waiting" => YELLOW,
        "repaired" => TEAL,
        "resumed" => GREEN,
        "checkpoint" => PURPLE,
        "straggler" => BROWN,
        "maintenance" => GRAY,
        _ => BLUE,
    }
}

/// Time since the start as days and hours (`3 d 06:15`).
pub fn fmt_time(t_s: f64) -> String {
    let m = (t_s / 60.0).round() as u64;
    format!("{} d {:02}:{:02}", m / 1440, (m / 60) % 24, m % 60)
}

/// What the run view shows.
pub enum RunView<'a> {
    /// No run to show, and why (a mixed candidate, an infeasible one …).
    Note(&'a str),
    /// The run could not be simulated.
    Failed(&'a str),
    /// Nothing yet: a job is running.
    Running,
    Done(&'a RunOutput),
}

/// The training-run view. `busy`: a newer run is being simulated (the one shown stays).
pub fn run_ui(ui: &mut Ui, view: RunView<'_>, busy: bool, error: Option<&str>) {
    let out = match view {
        RunView::Note(n) => {
            ui.heading("Training run");
            ui.add_space(8.0);
            ui.add(egui::Label::new(RichText::new(n).color(ui.visuals().warn_fg_color)).wrap());
            return;
        }
        RunView::Failed(e) => {
            ui.heading("Training run");
            ui.add(egui::Label::new(RichText::new(format!("{}{e}", crate::editor::ERROR_MARK)).color(ui.visuals().error_fg_color)).wrap());
            return;
        }
        RunView::Running => {
            ui.heading("Training run");
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("simulating the run over the Monte Carlo seeds…");
            });
            return;
        }
        RunView::Done(out) => out,
    };
    let mc = &out.monte_carlo;
    let ctx = &out.context;
    ui.horizontal_wrapped(|ui| {
        ui.heading("Training run");
        ui.label(
            RichText::new(format!(
                "{} · {} devices · seed {} · {} Monte Carlo seeds · failure profile {}",
                ctx.scenario,
                super::fmt_count(ctx.devices),
                out.job.scenario.seed,
                mc.seeds,
                ctx.failure_profile
            ))
            .weak(),
        );
        if busy {
            ui.spinner().on_hover_text("simulating the edited run");
        }
    });
    if let Some(e) = error {
        ui.add(egui::Label::new(RichText::new(format!("{}{e}", crate::editor::ERROR_MARK)).color(ui.visuals().error_fg_color)).wrap());
    }
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 16.0;
        let d = &mc.wall_days;
        figure(ui, "Days p10 / p50 / p90", format!("{:.1} / {:.1} / {:.1}", d.p10, d.p50, d.p90), None);
        figure(ui, "ideal", format!("{:.1} d", ctx.ideal_days), None);
        figure(ui, "ETTR p50", format!("{:.3}", mc.ettr.p50), None);
        figure(ui, "Interruptions p50", format!("{:.0}", mc.interruptions.p50), None);
        figure(ui, "MTTI", format!("{:.1} h", ctx.mtti_hours), None);
        figure(ui, "Checkpoint", format!("every {:.0} min, stall {:.1} s", ctx.checkpoint_interval_s / 60.0, ctx.checkpoint.stall_s), None);
        figure(ui, "Restart", format!("{:.1} min", ctx.restart_s / 60.0), None);
        figure(ui, "Hot spares", format!("{} nodes", ctx.hot_spare_nodes), None);
        if mc.completed_fraction < 1.0 {
            figure(
                ui,
                "Unfinished",
                format!("{:.0}% of runs hit max_days", 100.0 * (1.0 - mc.completed_fraction)),
                Some(ui.visuals().error_fg_color),
            );
        }
    });
    for n in &out.notes {
        ui.label(RichText::new(format!("note: {n}")).small().weak());
    }
    let zoom_id = egui::Id::unique("wanka run zoom request");
    ui.horizontal_wrapped(|ui| {
        let mut request = None;
        if ui.small_button("Whole run").clicked() {
            request = Some((f64::NAN, f64::NAN));
        }
        if let Some((t, _, _)) = out.trace.failures.first()
            && ui.small_button("First failure").on_hover_text("zoom to two hours either side of the first failure").clicked()
        {
            request = Some((t - 2.0 / 24.0, t + 2.0 / 24.0));
        }
        if ui.small_button("First day").clicked() {
            request = Some((0.0, 1.0));
        }
        if let Some(r) = request {
            ui.data_mut(|d| d.insert_temp(zoom_id, r));
        }
        ui.label(
            RichText::new(
                "failure (red dot): back to the last durable checkpoint; red shading: detection + restart; \
                 ctrl+scroll or right-drag zooms time",
            )
            .small()
            .weak(),
        );
    });
    let avail = ui.available_height();
    let bottom_h = (avail * 0.36).clamp(150.0, 300.0);
    progress_plot(ui, out, (avail - bottom_h - 10.0).max(200.0));
    ui.add_space(4.0);
    ui.horizontal_top(|ui| {
        let w = ui.available_width();
        let left = (w * 0.40).max(260.0);
        ui.allocate_ui_with_layout(vec2(left, bottom_h), Layout::top_down(Align::Min), |ui| {
            ui.set_min_width(left);
            causes_ui(ui, out);
        });
        ui.separator();
        ui.allocate_ui_with_layout(vec2(ui.available_width(), bottom_h), Layout::top_down(Align::Min), |ui| {
            event_log_ui(ui, out, bottom_h)
        });
    });
}

fn progress_plot(ui: &mut Ui, out: &RunOutput, height: f32) {
    let request: Option<(f64, f64)> = ui.data_mut(|d| d.remove_temp(egui::Id::unique("wanka run zoom request")));
    let t = &out.trace;
    let seed = out.job.scenario.seed;
    let pct = |p: &[f64; 2]| [p[0], 100.0 * p[1]];
    let line_color = ui.visuals().strong_text_color();
    let end = t.line.last().map_or(1.0, |p| p[0]).max(out.band.as_ref().and_then(|b| b.t_days.last().copied()).unwrap_or(0.0));
    Plot::new("run progress")
        .height(height)
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .include_y(0.0)
        .include_y(100.0)
        .include_x(0.0)
        .include_x(end)
        .allow_zoom([true, false])
        .allow_scroll([true, false])
        .allow_drag([true, false])
        .allow_boxed_zoom(true)
        // Day numbers are short: label every grid line 32 points apart (egui_plot waits for 60).
        .custom_x_axes(vec![egui_plot::AxisHints::new_x().label("wall-clock days").label_spacing(32.0..=48.0)])
        .y_axis_label("work done, %")
        .label_formatter(|h| match h {
            HoverPosition::NearDataPoint { plot_name, position, .. } => {
                Some(format!("{plot_name}\n{} · {:.1}%", fmt_time(position.x * 86400.0), position.y))
            }
            HoverPosition::Elsewhere { position } => Some(format!("{} · {:.1}%", fmt_time(position.x * 86400.0), position.y)),
        })
        .show(ui, |p| {
            match request {
                Some((a, _)) if a.is_nan() => {
                    p.set_plot_bounds_x(0.0..=end * 1.02);
                    p.set_plot_bounds_y(-2.0..=102.0);
                }
                Some((a, b)) => p.set_plot_bounds_x(a.max(0.0)..=b),
                None => {}
            }
            // The y axis follows the part of the run in view (zoomed into hours, progress moves by a
            // fraction of a percent).
            let b = p.plot_bounds();
            let (x0, x1) = (b.min()[0], b.max()[0]);
            if x1 - x0 < 0.9 * end && !t.line.is_empty() {
                let a = t.line.partition_point(|q| q[0] < x0).saturating_sub(1);
                let z = (t.line.partition_point(|q| q[0] <= x1) + 1).min(t.line.len());
                let mut lo = f64::INFINITY;
                let mut hi = f64::NEG_INFINITY;
                for q in &t.line[a..z.max(a)] {
                    lo = lo.min(q[1]);
                    hi = hi.max(q[1]);
                }
                if let Some(band) = &out.band {
                    for (k, x) in band.t_days.iter().enumerate() {
                        if *x >= x0 && *x <= x1 {
                            lo = lo.min(band.p10[k]);
                            hi = hi.max(band.p90[k]);
                        }
                    }
                }
                if lo.is_finite() && hi.is_finite() {
                    let pad = ((hi - lo) * 0.08).max(1e-6);
                    p.set_plot_bounds_y((100.0 * (lo - pad)).max(-2.0)..=(100.0 * (hi + pad)).min(102.0));
                }
            } else if request.is_none() && x1 - x0 >= 0.9 * end {
                p.set_plot_bounds_y(-2.0..=102.0);
            }
            if let Some(b) = &out.band {
                let lo: Vec<f64> = b.p10.iter().map(|v| 100.0 * v).collect();
                let hi: Vec<f64> = b.p90.iter().map(|v| 100.0 * v).collect();
                let name = format!("p10–p90 over {} seeds", out.band_seeds);
                p.add(FilledArea::new(name, &b.t_days, &lo, &hi).fill_color(BLUE.gamma_multiply(0.30)));
                let mid: Vec<[f64; 2]> = b.t_days.iter().zip(&b.p50).map(|(x, y)| [*x, 100.0 * y]).collect();
                p.add(Line::new("median over seeds", mid).color(BLUE).width(1.5).style(LineStyle::dashed_dense()));
            }
            for (a, b, what) in &t.down {
                let (name, color) = if *what == "maintenance" { ("maintenance", GRAY) } else { ("down: detect + restart", RED) };
                p.add(
                    Polygon::new(name, vec![[*a, 0.0], [*b, 0.0], [*b, 100.0], [*a, 100.0]])
                        .fill_color(color.gamma_multiply(0.22))
                        .stroke(egui::Stroke::NONE)
                        .allow_hover(false),
                );
            }
            let in_view = |xs: &[[f64; 2]]| {
                let a = xs.partition_point(|q| q[0] < x0);
                let z = xs.partition_point(|q| q[0] <= x1);
                a..z.max(a)
            };
            let failures_in_view = t.failures.iter().filter(|f| f.0 >= x0 && f.0 <= x1).count();
            if failures_in_view <= MAX_FAILURE_LINES {
                for (x, _, _) in t.failures.iter().filter(|f| f.0 >= x0 && f.0 <= x1) {
                    p.add(VLine::new("", *x).color(RED.gamma_multiply(0.18)).width(1.0).allow_hover(false));
                }
            }
            if !t.line.is_empty() {
                p.add(Line::new(format!("seed {seed}"), t.line.iter().map(pct).collect::<Vec<_>>()).color(line_color).width(1.6));
            }
            let ck = in_view(&t.checkpoints);
            if ck.len() <= MAX_CHECKPOINTS_IN_VIEW && !ck.is_empty() {
                p.add(
                    Points::new("checkpoint", t.checkpoints[ck].iter().map(pct).collect::<Vec<_>>()).color(PURPLE).radius(2.2).filled(true),
                );
            } else if !t.checkpoints.is_empty() {
                // A legend entry that says how to see them.
                p.add(Points::new(format!("{} checkpoints: zoom in to see", t.checkpoints_total), Vec::<[f64; 2]>::new()).color(PURPLE));
            }
            if !t.stragglers.is_empty() {
                p.add(
                    Points::new("straggler", t.stragglers.iter().map(pct).collect::<Vec<_>>())
                        .color(BROWN)
                        .radius(3.5)
                        .shape(MarkerShape::Down)
                        .filled(true),
                );
            }
            if !t.failures.is_empty() {
                let pts: Vec<[f64; 2]> = t.failures.iter().map(|(x, y, _)| [*x, 100.0 * y]).collect();
                p.add(Points::new("failure", pts).color(RED).radius(3.5).shape(MarkerShape::Circle).filled(true));
            }
        });
}

/// Mean interruptions per run by cause, largest first (top 8, the rest summed).
pub fn top_causes(out: &RunOutput) -> Vec<(String, f64)> {
    let mut causes: Vec<(String, f64)> = out.monte_carlo.interruptions_by_cause_mean.iter().map(|(k, v)| (k.clone(), *v)).collect();
    causes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if causes.len() > 8 {
        let rest: f64 = causes[8..].iter().map(|c| c.1).sum();
        let n = causes.len() - 8;
        causes.truncate(8);
        causes.push((format!("{n} other causes"), rest));
    }
    causes
}

fn causes_ui(ui: &mut Ui, out: &RunOutput) {
    ui.label(RichText::new("Interruptions by cause (mean per run)").strong());
    let causes = top_causes(out);
    if causes.is_empty() {
        ui.label(RichText::new("no interruptions").weak());
        return;
    }
    let max = causes.iter().map(|c| c.1).fold(f64::MIN_POSITIVE, f64::max);
    let w = ui.available_width();
    let name_w = (w * 0.45).min(190.0);
    let bar_w = (w - name_w - 56.0).max(40.0);
    let text_color = ui.visuals().text_color();
    for (name, v) in &causes {
        ui.horizontal(|ui| {
            ui.spacing_mut().item_spacing.x = 6.0;
            let (r, _) = ui.allocate_exact_size(vec2(name_w, 16.0), Sense::hover());
            ui.painter().text(
                r.left_center(),
                egui::Align2::LEFT_CENTER,
                name,
                egui::FontId::proportional(12.5),
                if name.ends_with("other causes") { GRAY } else { text_color },
            );
            let (r, _) = ui.allocate_exact_size(vec2(bar_w, 12.0), Sense::hover());
            let frac = (*v / max) as f32;
            ui.painter().rect_filled(egui::Rect::from_min_size(r.min, vec2(r.width() * frac, r.height())), 2.0, RED.gamma_multiply(0.85));
            ui.label(RichText::new(format!("{v:.1}")).small());
        });
    }
}

fn event_log_ui(ui: &mut Ui, out: &RunOutput, height: f32) {
    let id = egui::Id::unique("wanka event log hide checkpoints");
    let mut hide = ui.data_mut(|d| *d.get_persisted_mut_or(id, true));
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Event log, seed {}", out.job.scenario.seed)).strong());
        ui.checkbox(&mut hide, "hide checkpoints");
        ui.label(RichText::new(format!("{} events", super::fmt_count(out.log.len() as u64))).small().weak());
    });
    ui.data_mut(|d| d.insert_persisted(id, hide));
    if out.log.is_empty() {
        ui.label(RichText::new("no event log (see the note above)").weak());
        return;
    }
    let rows: Vec<usize> = (0..out.log.len()).filter(|&i| !(hide && out.log[i].kind == "checkpoint")).collect();
    let row_h = 17.0;
    let work = out.inputs.work_s.max(f64::MIN_POSITIVE);
    egui::ScrollArea::vertical().id_salt("event log").max_height(height - 24.0).auto_shrink([false, false]).show_rows(
        ui,
        row_h,
        rows.len(),
        |ui, range| {
            for &i in &rows[range] {
                let e = &out.log[i];
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 8.0;
                    let cell = |ui: &mut Ui, w: f32, text: RichText| {
                        ui.allocate_ui_with_layout(vec2(w, row_h), Layout::left_to_right(Align::Center), |ui| {
                            ui.set_min_width(w);
                            ui.add(egui::Label::new(text).truncate());
                        });
                    };
                    cell(ui, 64.0, RichText::new(fmt_time(e.t_s)).small());
                    cell(ui, 74.0, RichText::new(&e.kind).small().color(kind_color(&e.kind)));
                    cell(ui, 40.0, RichText::new(format!("{:.1}%", 100.0 * e.work_s / work)).small());
                    ui.add(egui::Label::new(RichText::new(&e.detail).small()).truncate());
                });
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(fmt_time(0.0), "0 d 00:00");
        assert_eq!(fmt_time(86400.0 * 3.0 + 6.0 * 3600.0 + 15.0 * 60.0), "3 d 06:15");
    }
}
