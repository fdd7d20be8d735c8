//! # wanka_gui — desktop front end of the wanka simulator
//!
//! A thin view over [`wanka_sim`]: it loads and edits scenarios, runs the simulator on background
//! threads ([`worker`]) and draws the results ([`views`]). No simulation happens here.
//!
//! The app is [`app::WankaApp`]; [`app::WankaApp::show`] draws one frame into any `egui::Ui`, so tests
//! drive the real application state with `egui_kittest` without a window or renderer.

pub mod app;
pub mod document;
pub mod editor;
pub mod export;
pub mod files;
pub mod jobs;
pub mod plan_editor;
pub mod ron_patch;
pub mod view_data;
pub mod views;
pub mod widgets;
pub mod worker;

pub use app::{View, WankaApp};

use std::sync::OnceLock;
use wanka_sim::Catalog;

static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// Use `catalog` (the built-in one with a calibration overlay applied, `--calibration FILE`) for every
/// job of this process; only the first call counts (`false` after it).
pub fn install_catalog(catalog: Catalog) -> bool {
    CATALOG.set(catalog).is_ok()
}

/// The catalog jobs and editors use: the installed one, else the built-in catalog.
pub fn catalog() -> &'static Catalog {
    CATALOG.get().unwrap_or_else(|| Catalog::builtin())
}
