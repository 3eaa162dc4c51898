//! `mesh lab`: self-checking, step-by-step labs. Lab files (`scenarios/labs/*.yaml`, embedded)
//! are decoded by [`catalog`] into the [`format`] types; [`runner`] starts a lab's sandbox and
//! processes, runs a step's commands (`solve`) and its [`check`]s over [`wire`]; [`progress`]
//! is kept in the state directory. May import `client`, `ca`.

pub mod catalog;
pub mod check;
pub mod format;
pub mod jsonpath;
pub mod progress;
pub mod runner;
pub mod template;
pub mod wire;
