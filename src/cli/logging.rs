//! mesh's own diagnostics: tracing-subscriber on stderr, `RUST_LOG`/`--log` filter, colour only on
//! a terminal and never with `NO_COLOR`. (Proxies write Envoy-format logs through `proxy::log`.)

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(filter: Option<&str>) {
    let filter = filter
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "warn".to_owned());
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
