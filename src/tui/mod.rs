//! `mesh tui`: a live, k9s-like view of a running sandbox — pods with their sidecars' sync
//! state, proxy-status, a proxy's config (the rows of `proxy-config`, each item's JSON),
//! resources as YAML, traffic with sparklines and a service graph, and logs.
//!
//! State and drawing are apart: [`app::App`] takes keys and data and says what it needs
//! ([`app::Request`]); [`views::draw`] only reads it; [`run`] owns the terminal, the sandbox
//! connection and the tasks. Reads the sandbox through `client`; may import `client`, `xds`,
//! `api`.

pub mod app;
pub mod fetch;
pub mod graph;
pub mod grid;
pub mod highlight;
pub mod keys;
mod run;
pub mod theme;
pub mod views;

#[cfg(test)]
mod tests;

pub use run::{Connect, Options, TuiError, run};
