//! `mesh`: a service mesh sandbox in one binary.
//!
//! Modules are listed in DESIGN.md's layer order; imports only go down this list.

pub mod cli;

pub mod labs;
pub mod tui;

pub mod client;

pub mod sandbox;

pub mod pilot;

pub mod ca;

pub mod proxy;

pub mod apps;

pub mod api;

pub mod xds;

pub mod net;
