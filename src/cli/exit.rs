//! Error → exit code, in one place. A closed stdout (`mesh … | head`) counts as success.

use std::io;
use std::process::ExitCode;

/// Exit code for errors the user can fix in their input (bad config, bad flags).
pub const BAD_INPUT: u8 = 1;

/// Prints a clap parse error (or help/version) and picks its exit code.
pub fn clap_error(err: clap::Error) -> ExitCode {
    let _ = err.print();
    ExitCode::from(err.exit_code().clamp(0, 255) as u8)
}

/// Prints an error chain (`{:#}`) and returns its exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    if let Some(exit) = err.downcast_ref::<Exit>() {
        if !exit.message.is_empty() {
            eprintln!("{}", exit.message);
        }
        return ExitCode::from(exit.code);
    }
    eprintln!("error: {err:#}");
    ExitCode::from(BAD_INPUT)
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// An error that has already been explained to the user (or carries its exact last line), with
/// the exit code the real tool would use.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Exit {
            code,
            message: message.into(),
        }
    }
}
