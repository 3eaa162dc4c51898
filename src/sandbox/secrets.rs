//! Checks on Secrets that carry TLS material, at apply time: every certificate and key must
//! parse, a key must belong to the certificate it comes with, and a CA bundle must not be
//! expired — so a bad credential is refused with its file position instead of breaking a
//! gateway later. Certificates that are merely expired are accepted (expiry is a lesson too).

use std::collections::BTreeMap;

use crate::api::k8s::Secret;
use crate::ca;

/// One problem: the data key it concerns and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub reason: String,
}

/// The keys Kubernetes and Istio use for certificates, keys and CA bundles
/// (`kubernetes.io/tls`, Istio's generic `cert`/`key`/`cacert`, the plug-in CA `cacerts`).
const CERTS: &[&str] = &["tls.crt", "cert", "ca-cert.pem", "cert-chain.pem"];
const KEYS: &[(&str, &str)] = &[
    ("tls.key", "tls.crt"),
    ("key", "cert"),
    ("ca-key.pem", "ca-cert.pem"),
];
const CAS: &[&str] = &["ca.crt", "cacert", "root-cert.pem"];

/// The secret's data, decoded (`stringData` wins, as the API server merges it).
fn data(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = s
        .data
        .iter()
        .filter_map(|(k, v)| crate::api::base64::decode(v).ok().map(|b| (k.clone(), b)))
        .collect();
    out.extend(
        s.string_data
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec())),
    );
    out
}

fn is_validity(e: &ca::Error) -> bool {
    matches!(e, ca::Error::Expired { .. } | ca::Error::NotYetValid { .. })
}

pub fn check(secret: &Secret) -> Vec<Problem> {
    let data = data(secret);
    let tls_type = secret.type_.as_deref() == Some("kubernetes.io/tls");
    let mut problems = Vec::new();
    let mut problem = |key: &str, reason: String| {
        problems.push(Problem {
            key: key.to_owned(),
            reason,
        })
    };
    if tls_type {
        for required in ["tls.crt", "tls.key"] {
            if !data.contains_key(required) {
                problem(
                    required,
                    format!("a kubernetes.io/tls secret needs {required}"),
                );
            }
        }
    }
    for key in CERTS {
        let Some(pem) = data.get(*key) else { continue };
        match ca::parse_pem_chain(pem) {
            Ok(_) => {}
            Err(e) if is_validity(&e) => {}
            Err(e) => problem(key, e.to_string()),
        }
    }
    for (key, cert) in KEYS {
        let (Some(k), Some(c)) = (data.get(*key), data.get(*cert)) else {
            continue;
        };
        let (k, c) = (String::from_utf8_lossy(k), String::from_utf8_lossy(c));
        match ca::key_matches_cert(&k, &c) {
            Ok(true) => {}
            Ok(false) => problem(
                key,
                format!("the private key does not match the certificate in {cert}"),
            ),
            // A certificate that does not parse is reported once, above.
            Err(_) if ca::parse_pem_chain(c.as_bytes()).is_err_and(|e| !is_validity(&e)) => {}
            Err(e) => problem(key, e.to_string()),
        }
    }
    for key in CAS {
        let Some(pem) = data.get(*key) else { continue };
        if let Err(e) = ca::parse_pem_chain(pem) {
            problem(key, format!("CA bundle: {e}"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(kind: &str, pairs: &[(&str, &str)]) -> Secret {
        Secret {
            api_version: "v1".into(),
            kind: "Secret".into(),
            type_: Some(kind.into()),
            string_data: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn book(path: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/istio-in-action/ch4/certs");
        std::fs::read_to_string(root.join(path)).unwrap()
    }

    #[test]
    fn the_books_credential_passes_and_a_foreign_key_does_not() {
        let cert = book("3_application/certs/webapp.istioinaction.io.cert.pem");
        let key = book("3_application/private/webapp.istioinaction.io.key.pem");
        assert_eq!(
            check(&secret(
                "kubernetes.io/tls",
                &[("tls.crt", &cert), ("tls.key", &key)]
            )),
            []
        );
        let other = book("4_client/private/webapp.istioinaction.io.key.pem");
        let p = check(&secret(
            "kubernetes.io/tls",
            &[("tls.crt", &cert), ("tls.key", &other)],
        ));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "tls.key");
        assert!(p[0].reason.contains("does not match"), "{p:?}");
    }

    #[test]
    fn malformed_pem_and_missing_keys_are_named() {
        let p = check(&secret(
            "kubernetes.io/tls",
            &[("tls.crt", "-----BEGIN CERTIFICATE-----\nnot base64\n")],
        ));
        assert!(p.iter().any(|p| p.key == "tls.crt"), "{p:?}");
        assert!(
            p.iter()
                .any(|p| p.key == "tls.key" && p.reason.contains("needs tls.key")),
            "{p:?}"
        );
        let p = check(&secret("Opaque", &[("ca.crt", "junk")]));
        assert_eq!(p[0].key, "ca.crt");
        assert!(p[0].reason.starts_with("CA bundle: "), "{p:?}");
        // Secrets without TLS material are not looked at.
        assert_eq!(check(&secret("Opaque", &[("password", "x")])), []);
    }
}
