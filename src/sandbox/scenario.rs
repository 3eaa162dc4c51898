//! Scenario files: plain multi-document Kubernetes/Istio YAML, optionally led by a header of
//! mesh's own kind (`mesh.dev/v1alpha1` `Sandbox`: the sandbox's name and the node ports it
//! publishes, in kind's `extraPortMappings` shape).

use std::net::{IpAddr, Ipv4Addr};

use serde::Deserialize;

use crate::api::{Decoded, Diagnostic};

/// The embedded default scenario (`scenarios/default.yaml`).
pub const DEFAULT: &str = include_str!("../../scenarios/default.yaml");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortMapping {
    pub container_port: u16,
    pub host_port: u16,
    #[serde(default)]
    pub listen_address: Option<IpAddr>,
    #[serde(default)]
    pub protocol: Option<String>,
}

impl PortMapping {
    pub fn listen(&self) -> IpAddr {
        self.listen_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeaderMeta {
    #[serde(default)]
    pub name: Option<String>,
}

/// The optional first document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: HeaderMeta,
    #[serde(default)]
    pub extra_port_mappings: Vec<PortMapping>,
    /// Workload certificate lifetime (istio-agent's `SECRET_TTL`), e.g. `24h`, `90s`.
    #[serde(default)]
    pub workload_cert_ttl: Option<String>,
    /// Hosts outside the mesh the sandbox simulates (it has no internet).
    #[serde(default)]
    pub external_hosts: Vec<ExternalHostSpec>,
}

/// An external host: pods resolve `host` to an address of its own, where an httpbin answers
/// plain HTTP on each of `ports` (default 80) and HTTPS on each of `tlsPorts` (a self-signed
/// certificate for `host`: `curl -k`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalHostSpec {
    pub host: String,
    #[serde(default = "http_port")]
    pub ports: Vec<u16>,
    #[serde(default)]
    pub tls_ports: Vec<u16>,
}

fn http_port() -> Vec<u16> {
    vec![80]
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub header: Header,
    pub resources: Vec<Decoded>,
    /// IstioOperator documents: installed (as `mesh install -f` does) when the sandbox starts
    /// from this scenario.
    pub operators: Vec<super::install::operator::Operator>,
}

/// Parses a scenario; every bad document is reported with `file:line:column`.
pub fn parse(source: &str, text: &str) -> Result<Scenario, Vec<Diagnostic>> {
    let (header, rest) = split_header(source, text)?;
    let resources = crate::api::decode(source, &rest)?;
    let operators = super::install::operator::operators_in(source, &rest)?;
    Ok(Scenario {
        header: header.unwrap_or_default(),
        resources,
        operators,
    })
}

/// Takes the header document out, blanking its lines so later line numbers stay right.
fn split_header(source: &str, text: &str) -> Result<(Option<Header>, String), Vec<Diagnostic>> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.trim_end() == "---")
        .unwrap_or(lines.len());
    let first: String = lines[..end].join("\n");
    let is_header = first
        .lines()
        .any(|l| l.trim_start().starts_with("apiVersion:") && l.contains("mesh.dev/"));
    if !is_header {
        return Ok((None, text.to_owned()));
    }
    let header: Header = serde_saphyr::from_str(&first).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((1, 1));
        let reason = e.to_string().lines().next().unwrap_or("").to_owned();
        vec![Diagnostic::new(
            source,
            line,
            column,
            format!("Sandbox header: {reason}"),
        )]
    })?;
    if header.kind != "Sandbox" || header.api_version != "mesh.dev/v1alpha1" {
        return Err(vec![Diagnostic::new(
            source,
            1,
            1,
            format!(
                "unknown header {}/{}: mesh's scenario header is apiVersion mesh.dev/v1alpha1, kind Sandbox",
                header.api_version, header.kind
            ),
        )]);
    }
    let blanked: Vec<&str> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| if i < end { "" } else { l })
        .collect();
    Ok((Some(header), blanked.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_parses() {
        let s = parse("default.yaml", DEFAULT).unwrap();
        assert_eq!(s.header.metadata.name.as_deref(), Some("mesh"));
        assert_eq!(s.header.extra_port_mappings.len(), 4);
        assert_eq!(s.header.extra_port_mappings[0].container_port, 30000);
        let kinds: Vec<&str> = s.resources.iter().map(|d| d.resource.kind()).collect();
        assert!(kinds.contains(&"Deployment") && kinds.contains(&"Namespace"));
    }

    #[test]
    fn external_hosts_in_the_header() {
        let text = "apiVersion: mesh.dev/v1alpha1\nkind: Sandbox\nexternalHosts:\n- host: httpbin.org\n- host: api.example.com\n  ports: [80, 8080]\n  tlsPorts: [443]\n";
        let s = parse("s.yaml", text).unwrap();
        let hosts = &s.header.external_hosts;
        assert_eq!(hosts[0].host, "httpbin.org");
        assert_eq!(hosts[0].ports, [80]);
        assert_eq!(hosts[1].ports, [80, 8080]);
        assert_eq!(hosts[1].tls_ports, [443]);
        assert!(hosts[0].tls_ports.is_empty());
    }

    #[test]
    fn errors_after_the_header_keep_their_line() {
        let text = "apiVersion: mesh.dev/v1alpha1\nkind: Sandbox\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  bogus: 1\n";
        let errs = parse("s.yaml", text).unwrap_err();
        assert_eq!(errs[0].line, 8, "{}", errs[0]);
        let bad = "apiVersion: mesh.dev/v1alpha1\nkind: Sandbox\nextraPortMapings: []\n";
        let errs = parse("s.yaml", bad).unwrap_err();
        assert!(
            errs[0].to_string().contains("extraPortMapings"),
            "{}",
            errs[0]
        );
    }
}
