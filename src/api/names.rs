//! Object name rules, in the API server's words: most names are RFC 1123 subdomains,
//! Namespaces RFC 1123 labels, Services RFC 1035 labels, RBAC objects path segments.

use super::kinds::KindInfo;

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_1123: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_1035: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// Why `name` is not a valid name for an object of this kind, if it is not.
pub fn name_problem(info: &KindInfo, name: &str) -> Option<String> {
    match (info.group, info.kind) {
        ("", "Namespace") => label_1123_problem(name),
        ("", "Service") => label_1035_problem(name),
        ("rbac.authorization.k8s.io", _) => path_segment_problem(name),
        _ => subdomain_problem(name),
    }
}

/// Why `namespace` is not a valid namespace name, if it is not.
pub fn namespace_problem(namespace: &str) -> Option<String> {
    label_1123_problem(namespace)
}

const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// Why a label key (`app`, `app.kubernetes.io/name`) is invalid, if it is.
pub fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && let Some(problem) = subdomain_problem(prefix)
    {
        return Some(format!("prefix part {problem}"));
    }
    if name.is_empty() {
        return Some("name part must be non-empty".to_owned());
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters".to_owned());
    }
    (!is_qualified_part(name)).then(|| QUALIFIED_NAME.to_owned())
}

/// Why a label value is invalid, if it is.
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.len() > 63 {
        return Some("must be no more than 63 characters".to_owned());
    }
    (!value.is_empty() && !is_qualified_part(value)).then(|| LABEL_VALUE.to_owned())
}

fn is_qualified_part(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A valid name close to `name` (lower case, other characters as `-`), to suggest.
pub fn suggest_name(name: &str) -> String {
    let lowered: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    lowered
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

fn alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

fn subdomain_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("must be no more than 253 characters".to_owned());
    }
    (!name.split('.').all(is_label)).then(|| SUBDOMAIN.to_owned())
}

fn label_1123_problem(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_owned());
    }
    (!is_label(name)).then(|| LABEL_1123.to_owned())
}

fn label_1035_problem(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_owned());
    }
    (!(is_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase())))
        .then(|| LABEL_1035.to_owned())
}

fn path_segment_problem(name: &str) -> Option<String> {
    if name == "." || name == ".." {
        return Some(format!("may not be '{name}'"));
    }
    ["/", "%"]
        .iter()
        .find(|bad| name.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::kinds::lookup;

    #[test]
    fn names_follow_the_api_server_rules() {
        let deploy = lookup("apps/v1", "Deployment").unwrap();
        let svc = lookup("v1", "Service").unwrap();
        let ns = lookup("v1", "Namespace").unwrap();
        let role = lookup("rbac.authorization.k8s.io/v1", "Role").unwrap();
        assert_eq!(name_problem(deploy, "catalog-v2"), None);
        assert_eq!(name_problem(deploy, "simple-sni-1.istioinaction.io"), None);
        assert!(
            name_problem(deploy, "Catalog")
                .unwrap()
                .starts_with("a lowercase RFC 1123 subdomain")
        );
        assert!(name_problem(deploy, "cat_alog").is_some());
        assert!(
            name_problem(svc, "1catalog")
                .unwrap()
                .starts_with("a DNS-1035 label")
        );
        assert!(name_problem(svc, "a.b").is_some());
        assert!(name_problem(ns, "istio-system").is_none());
        assert!(name_problem(ns, "a.b").is_some());
        assert!(name_problem(role, "system:auth-delegator").is_none());
        assert!(name_problem(role, "a/b").is_some());
        assert_eq!(suggest_name("My_Service"), "my-service");
        assert_eq!(label_key_problem("app.kubernetes.io/name"), None);
        assert_eq!(label_key_problem("istio"), None);
        assert!(label_key_problem("bad key").is_some());
        assert!(
            label_key_problem("Bad_Prefix/x")
                .unwrap()
                .starts_with("prefix part")
        );
        assert_eq!(label_value_problem(""), None);
        assert_eq!(label_value_problem("v1.2_x"), None);
        assert!(
            label_value_problem("v1 beta")
                .unwrap()
                .starts_with("a valid label")
        );
    }
}
