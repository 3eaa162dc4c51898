//! `{{port N}}` in a lab's commands and checks: the host port where the sandbox publishes node
//! port N. On the book's fixed ports that is N itself; with `--random-ports` it is whatever the
//! sandbox bound, read from its API (`/v1/info` → `nodePorts`), so what the user is shown and
//! what the checks dial are always the sandbox's real addresses.

use std::collections::BTreeMap;

/// Node port → host port.
pub type PortMap = BTreeMap<u16, u16>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{{` at byte {0} has no closing `}}}}`")]
    Unclosed(usize),
    #[error("unknown placeholder `{{{{{0}}}}}` (the only one is `{{{{port N}}}}`)")]
    Unknown(String),
    #[error(
        "node port {0} is not published by this sandbox (it publishes: {1}); is the lab's sandbox running?"
    )]
    NoSuchPort(u16, String),
}

/// The node ports a text refers to (also validates it).
pub fn ports(text: &str) -> Result<Vec<u16>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(TemplateError::Unclosed(offset + i));
        };
        let inner = after[..j].trim();
        let port = inner
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .ok_or_else(|| TemplateError::Unknown(inner.to_owned()))?;
        out.push(port);
        offset += i + 2 + j + 2;
        rest = &after[j + 2..];
    }
    Ok(out)
}

/// Replaces every `{{port N}}`; `None` for the map means the book's fixed ports.
pub fn render(text: &str, map: Option<&PortMap>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(TemplateError::Unclosed(offset + i));
        };
        let inner = after[..j].trim();
        let port = inner
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .ok_or_else(|| TemplateError::Unknown(inner.to_owned()))?;
        let host = match map {
            None => port,
            Some(m) => *m.get(&port).ok_or_else(|| {
                let known: Vec<String> = m.keys().map(u16::to_string).collect();
                TemplateError::NoSuchPort(port, known.join(", "))
            })?,
        };
        out.push_str(&host.to_string());
        offset += i + 2 + j + 2;
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_node_ports() {
        let map = PortMap::from([(30000, 41234)]);
        assert_eq!(
            render("curl localhost:{{port 30000}}/x", Some(&map)).as_deref(),
            Ok("curl localhost:41234/x")
        );
        assert_eq!(
            render("curl localhost:{{ port 30000 }}/x", None).as_deref(),
            Ok("curl localhost:30000/x")
        );
        assert!(matches!(
            render("{{port 30005}}", Some(&map)),
            Err(TemplateError::NoSuchPort(30005, _))
        ));
        assert!(matches!(
            render("{{host}}", None),
            Err(TemplateError::Unknown(_))
        ));
        assert!(matches!(
            render("a {{port 1", None),
            Err(TemplateError::Unclosed(2))
        ));
        assert_eq!(ports("{{port 1}} {{port 2}}"), Ok(vec![1, 2]));
    }
}
