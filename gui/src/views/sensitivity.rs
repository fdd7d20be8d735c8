//! What moves a candidate's days and cost: a tornado of p50 days and of total cost for each knob moved
//! down and up (failure rate, NIC speed, hot spares, checkpoint interval, devices), swept in the
//! background over a few Monte Carlo seeds ([`crate::jobs::run_sensitivity`]).

use egui::{Align2, FontId, RichText, Sense, Stroke, Ui, pos2, vec2};

use super::legend_item;
use super::palette::{BLUE, ORANGE};
use crate::jobs::{PlanOutput, Sensitivity, SweepPoint};

/// Which figure a tornado shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Days,
    Cost,
}

impl Measure {
    fn of(self, p: &SweepPoint) -> f64 {
        match self {
            Measure::Days => p.days_p50,
            Measure::Cost => p.cost_musd,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Measure::Days => "p50 days",
            Measure::Cost => "total cost, M USD",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Measure::Days => "d",
            Measure::Cost => "M$",
        }
    }
}

/// The text of a bar end: the change and the value it leads to.
pub fn bar_text(m: Measure, base: f64, v: f64) -> String {
    let d = v - base;
    match m {
        Measure::Days => format!("{d:+.1} {} ({v:.1})", m.unit()),
        Measure::Cost => format!("{d:+.2} {} ({v:.2})", m.unit()),
    }
}

/// The sensitivity view of candidate `selected`.
pub fn sensitivity_ui(ui: &mut Ui, out: &PlanOutput, selected: usize, sweep: Option<&Result<Sensitivity, String>>, busy: bool) {
    let name = out.plan.candidates.get(selected).map_or("?", |c| c.name.as_str());
    ui.horizontal_wrapped(|ui| {
        ui.heading("Sensitivity");
        ui.label(RichText::new(format!("of `{name}` (select another candidate in the table or the editor)")).weak());
    });
    match out.result_of(selected) {
        Some((_, r)) if r.feasible => {}
        _ => {
            ui.label("This candidate has no feasible result: nothing to sweep.");
            return;
        }
    }
    let s = match sweep {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            ui.label(RichText::new(format!("{}{e}", crate::widgets::ERROR_MARK)).color(ui.visuals().error_fg_color));
            return;
        }
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(if busy { "sweeping the knobs in the background…" } else { "waiting to sweep…" });
            });
            return;
        }
    };
    ui.label(
        RichText::new(format!(
            "Each knob is moved down and up with everything else as edited; every point is a comparison of this candidate alone over {} Monte Carlo seeds (the table uses the plan's {}), so its baseline is {:.1} days and {:.2} M USD. Knobs are ordered by their swing of days.",
            s.seeds, out.plan.settings.seeds, s.base.days_p50, s.base.cost_musd
        ))
        .weak(),
    );
    ui.horizontal_wrapped(|ui| {
        legend_item(ui, BLUE, "knob down");
        legend_item(ui, ORANGE, "knob up");
    });
    let w = ui.available_width();
    for m in [Measure::Days, Measure::Cost] {
        ui.add_space(6.0);
        ui.label(RichText::new(m.title()).strong());
        tornado_ui(ui, s, m, w);
    }
}

/// The half-width of the scale: the largest change, unless one change dwarfs the rest (a run without
/// spares that waits weeks for repairs): then 1.5 × the next largest, and the larger bars are clipped.
pub fn scale_span(deltas: &[f64]) -> f64 {
    let mut a: Vec<f64> = deltas.iter().map(|d| d.abs()).filter(|d| d.is_finite()).collect();
    a.sort_by(|x, y| y.total_cmp(x));
    match a.as_slice() {
        [] => 1e-9,
        [one] => one.max(1e-9),
        [first, second, ..] if *first > 4.0 * second && *second > 0.0 => 1.5 * second,
        [first, ..] => first.max(1e-9),
    }
}

fn tornado_ui(ui: &mut Ui, s: &Sensitivity, m: Measure, width: f32) {
    let base = m.of(&s.base);
    let deltas: Vec<f64> = s.knobs.iter().flat_map(|k| [&k.low, &k.high]).filter_map(|r| r.as_ref().ok()).map(|p| m.of(p) - base).collect();
    let span = scale_span(&deltas);
    let label_w = 200.0_f32.min(width * 0.25);
    let text_w = 230.0;
    let bar_w = (width - label_w - 2.0 * text_w).max(120.0);
    let row_h = 40.0;
    let text = ui.visuals().text_color();
    let weak = ui.visuals().weak_text_color();
    for k in &s.knobs {
        let (rect, _) = ui.allocate_exact_size(vec2(width, row_h), Sense::hover());
        let p = ui.painter_at(rect);
        let cy = rect.center().y;
        p.text(pos2(rect.left(), cy), Align2::LEFT_CENTER, k.name, FontId::proportional(14.0), text);
        let center = rect.left() + label_w + text_w + bar_w / 2.0;
        let half = bar_w / 2.0;
        p.line_segment([pos2(center, rect.top() + 2.0), pos2(center, rect.bottom() - 2.0)], Stroke::new(1.0, weak));
        // Down on the upper line, up on the lower one: their labels never overlap.
        for (side, color, label, y) in [(&k.low, BLUE, &k.low_label, cy - 9.0), (&k.high, ORANGE, &k.high_label, cy + 9.0)] {
            match side {
                Ok(pt) => {
                    let d = m.of(pt) - base;
                    let clipped = d.abs() > span * 1.0001;
                    let x = center + (d.clamp(-span, span) / span) as f32 * half;
                    let r = egui::Rect::from_min_max(pos2(x.min(center), y - 6.0), pos2(x.max(center).max(x.min(center) + 1.0), y + 6.0));
                    p.rect_filled(r, 2.0, color);
                    let words = format!("{}{label}: {}", if clipped { "» " } else { "" }, bar_text(m, base, m.of(pt)));
                    let (anchor, at) =
                        if d < 0.0 { (Align2::RIGHT_CENTER, x.min(center) - 4.0) } else { (Align2::LEFT_CENTER, x.max(center) + 4.0) };
                    p.text(pos2(at, y), anchor, words, FontId::proportional(13.0), text);
                }
                Err(e) => {
                    p.text(
                        pos2(center + 4.0, y),
                        Align2::LEFT_CENTER,
                        format!("{label}: {}", short_error(e)),
                        FontId::proportional(13.0),
                        weak,
                    );
                }
            }
        }
        // The accessible text of the row (the painter's text is not read out).
        ui.interact(rect, ui.scope_id().with(("tornado", k.name, m.unit())), Sense::hover()).widget_info(|| {
            let side = |r: &Result<SweepPoint, String>, l: &str| match r {
                Ok(pt) => format!("{l}: {}", bar_text(m, base, m.of(pt))),
                Err(e) => format!("{l}: {e}"),
            };
            egui::WidgetInfo::labeled(
                egui::Role::Label,
                true,
                format!("{} {}: {}; {}", k.name, m.title(), side(&k.low, &k.low_label), side(&k.high, &k.high_label)),
            )
        });
    }
    if deltas.iter().any(|d| d.abs() > span * 1.0001) {
        ui.label(RichText::new("» clipped: that change is off this scale (its figure is in the label)").small().weak());
    }
}

fn short_error(e: &str) -> String {
    if e.chars().count() <= 60 { e.to_string() } else { format!("{}…", e.chars().take(59).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_huge_change_does_not_flatten_the_others() {
        assert_eq!(scale_span(&[831.8, 0.0, 4.9, -1.8]), 1.5 * 4.9);
        assert_eq!(scale_span(&[5.0, -3.0, 0.5]), 5.0);
        assert_eq!(scale_span(&[-2.0]), 2.0);
        assert!(scale_span(&[]) > 0.0 && scale_span(&[0.0, 0.0]) > 0.0);
    }
}
