//! The keymap as data: the help overlay (`?`) and the hint bar are generated from it, so what
//! the screen promises is what [`super::app::App::on_key`] does.

/// Where a key works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    /// Views with a table.
    Tables,
    Workloads,
    Proxies,
    Config,
    Resources,
    Logs,
    /// The JSON/YAML pane.
    Detail,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Everywhere => "everywhere",
            Scope::Tables => "tables",
            Scope::Workloads => "workloads",
            Scope::Proxies => "proxies",
            Scope::Config => "proxy config",
            Scope::Resources => "resources",
            Scope::Logs => "logs",
            Scope::Detail => "JSON/YAML pane",
        }
    }
}

/// One line of help: the keys, what they do, where, and its word in the hint bar ("" for
/// none).
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static str,
    pub does: &'static str,
    pub scope: Scope,
    pub hint: &'static str,
}

const fn b(keys: &'static str, does: &'static str, scope: Scope, hint: &'static str) -> Binding {
    Binding {
        keys,
        does,
        scope,
        hint,
    }
}

pub const BINDINGS: &[Binding] = &[
    b("q Ctrl-C", "quit", Scope::Everywhere, "quit"),
    b("?", "this help", Scope::Everywhere, "help"),
    b("1-6 Tab", "switch view", Scope::Everywhere, ""),
    b(":", "command (:pods :vs :q …)", Scope::Everywhere, "cmd"),
    b("/", "filter rows (Esc clears)", Scope::Everywhere, "filter"),
    b("c", "copy as a `mesh` command", Scope::Everywhere, "copy"),
    b("j k ↑ ↓", "move", Scope::Tables, ""),
    b("PgUp PgDn g G", "page, first, last", Scope::Tables, ""),
    b("Enter", "follow the pod's logs", Scope::Workloads, "logs"),
    b("p", "the pod's proxy config", Scope::Workloads, "config"),
    b("y", "the pod as YAML", Scope::Workloads, "yaml"),
    b("s", "scale its deployment", Scope::Workloads, "scale"),
    b("d", "delete (asks first)", Scope::Workloads, "delete"),
    b("Enter", "the proxy's config", Scope::Proxies, "config"),
    b("l", "the proxy's log level", Scope::Proxies, "log level"),
    b("← → [ ]", "listeners … secrets", Scope::Config, "tabs"),
    b("Enter", "the item as JSON", Scope::Config, "json"),
    b("l", "the proxy's log level", Scope::Config, "log level"),
    b("← → [ ]", "previous, next kind", Scope::Resources, "kinds"),
    b("Enter", "the object as YAML", Scope::Resources, "yaml"),
    b("e", "edit in $EDITOR, apply", Scope::Resources, "edit"),
    b("d", "delete (asks first)", Scope::Resources, "delete"),
    b("s", "scale (deployments)", Scope::Resources, "scale"),
    b("f", "follow on/off", Scope::Logs, "follow"),
    b("t", "app / istio-proxy", Scope::Logs, "container"),
    b("↑ ↓ PgUp PgDn", "scroll", Scope::Logs, ""),
    b("↑ ↓ PgUp PgDn", "scroll", Scope::Detail, ""),
    b("Esc", "back", Scope::Detail, "back"),
    b("e", "edit (resources)", Scope::Detail, ""),
];

/// The hint bar for the scopes in force: `q quit · ? help · …`.
pub fn hints(scopes: &[Scope]) -> String {
    BINDINGS
        .iter()
        .filter(|b| !b.hint.is_empty() && scopes.contains(&b.scope))
        .map(|b| format!("{} {}", b.keys.split(' ').next().unwrap_or(b.keys), b.hint))
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_come_from_the_table() {
        let h = hints(&[Scope::Everywhere, Scope::Proxies]);
        assert_eq!(
            h,
            "q quit · ? help · : cmd · / filter · c copy · Enter config · l log level"
        );
        assert!(!h.contains("scale"), "{h}");
    }
}
