//! Memory: per-device breakdown per pipeline stage against the chip's capacity.

use egui::{RichText, Stroke, Ui};
use egui_plot::{Bar, BarChart, GridMark, HLine, LineStyle, Plot, PlotPoint, Text};
use wanka_sim::step::memory::MemoryBreakdown;

use super::palette::{BLUE, GRAY, GREEN, ORANGE, RED};
use super::{legend_item, shade};
use crate::jobs::StepOutput;

/// The parts of a device's memory, with colours.
pub fn parts(m: &MemoryBreakdown) -> [(&'static str, f64, egui::Color32); 5] {
    [
        ("weights", m.weights_gb, BLUE),
        ("gradients", m.gradients_gb, ORANGE),
        ("optimizer states", m.optimizer_gb, GREEN),
        ("activations", m.activations_gb, RED),
        ("buffers / reserve", m.buffers_gb, GRAY),
    ]
}

pub fn memory_ui(ui: &mut Ui, out: &StepOutput) {
    let r = &out.result;
    let cap = r.memory_capacity_gb;
    let stages = &r.memory_per_stage;
    let worst = stages.iter().enumerate().max_by(|a, b| a.1.total_gb.total_cmp(&b.1.total_gb)).map_or(0, |(i, _)| i);
    ui.horizontal(|ui| {
        ui.heading("Device memory per pipeline stage");
        ui.label(
            RichText::new(format!(
                "worst: stage {worst}, {:.1} of {:.1} GB ({:.0}%) on {}",
                r.memory.total_gb,
                cap,
                100.0 * r.memory.total_gb / cap,
                out.chip_name
            ))
            .weak(),
        );
    });
    ui.horizontal_wrapped(|ui| {
        for (name, _, c) in parts(&MemoryBreakdown::default()) {
            legend_item(ui, c, name);
        }
        legend_item(ui, ui.visuals().strong_text_color(), "capacity (dashed line)");
    });

    // Stacked bars, one per stage.
    let mut charts: Vec<BarChart> = Vec::new();
    for (k, (name, _, color)) in parts(&MemoryBreakdown::default()).into_iter().enumerate() {
        let bars: Vec<Bar> = stages
            .iter()
            .enumerate()
            .map(|(s, m)| {
                let v = parts(m)[k].1;
                Bar::new(s as f64, v)
                    .width(0.6)
                    .fill(color)
                    .stroke(Stroke::new(0.5, shade(color, -0.4)))
                    .name(format!("stage {s} {name}: {v:.1} GB"))
            })
            .collect();
        let mut chart = BarChart::new(name, bars).color(color).element_formatter(Box::new(|b: &Bar, _: &BarChart| b.name.clone()));
        let below: Vec<&BarChart> = charts.iter().collect();
        if !below.is_empty() {
            chart = chart.stack_on(&below);
        }
        charts.push(chart);
    }
    let n = stages.len();
    let top = stages.iter().map(|m| m.total_gb).fold(cap, f64::max) * 1.12;
    let plot_h = (ui.available_height() * 0.58).max(220.0);
    let cap_color = ui.visuals().strong_text_color();
    Plot::new("memory")
        .height(plot_h)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_y(top)
        .include_x(-0.6)
        .include_x(n as f64 - 0.4)
        .y_axis_label("GB per device")
        .x_grid_spacer(move |_| (0..n).map(|s| GridMark { value: s as f64, step_size: 1.0 }).collect())
        .x_axis_formatter(|m, _| format!("stage {}", m.value.round() as i64))
        .label_formatter(|_| None)
        .show(ui, move |p| {
            for c in charts {
                p.bar_chart(c);
            }
            p.hline(HLine::new("capacity", cap).color(cap_color).width(2.0).style(LineStyle::dashed_loose()));
            p.text(
                Text::new(
                    "capacity label",
                    PlotPoint::new(n as f64 - 0.45, cap),
                    RichText::new(format!("capacity {cap:.1} GB")).color(cap_color).size(14.0),
                )
                .anchor(egui::Align2::RIGHT_BOTTOM),
            );
        });

    ui.add_space(6.0);
    egui::ScrollArea::vertical().id_salt("memory table").auto_shrink([false, true]).show(ui, |ui| {
        egui::Grid::new("memory grid").striped(true).num_columns(8).min_col_width(70.0).show(ui, |ui| {
            for h in ["stage", "weights GB", "gradients GB", "optimizer GB", "activations GB", "buffers GB", "total GB", "of capacity"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for (s, m) in stages.iter().enumerate() {
                ui.label(if s == worst { RichText::new(format!("{s} (worst)")).strong() } else { RichText::new(s.to_string()) });
                for (_, v, _) in parts(m) {
                    ui.label(format!("{v:.1}"));
                }
                ui.label(format!("{:.1}", m.total_gb));
                let frac = m.total_gb / cap;
                let txt = RichText::new(format!("{:.0}%", 100.0 * frac));
                ui.label(if frac > 1.0 { txt.color(ui.visuals().error_fg_color) } else { txt });
                ui.end_row();
            }
        });
    });
}
