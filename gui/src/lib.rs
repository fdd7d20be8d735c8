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
pub mod files;
pub mod jobs;
pub mod plan_editor;
pub mod view_data;
pub mod views;
pub mod widgets;
pub mod worker;

pub use app::{View, WankaApp};
