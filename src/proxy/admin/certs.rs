//! `/certs`: one entry per TLS context in service (clusters' first, as Envoy creates them
//! before listeners), each with its trusted CA (`ca_cert`, the first certificate of the
//! bundle) and its own certificates (`cert_chain`, the leaf of each), in Envoy's
//! `CertificateDetails` JSON: serials in hex, SANs as `{uri}`/`{dns}`/`{ip_address}`,
//! `days_until_expiration` as a string, RFC 3339 times. Contexts still waiting for an SDS
//! secret have no material yet and are not listed, as in Envoy.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::Proxy;
use super::super::tls::certs::{CertInfo, San};
use super::super::tls::context::Resolved;
use super::info::pretty;

pub fn render(proxy: &Proxy) -> String {
    let applied = proxy.applied();
    let now = SystemTime::now();
    let mut certificates = Vec::new();
    for c in &applied.clusters {
        if let Some(t) = &c.transport {
            for ctx in t.contexts() {
                if let Some(r) = ctx.resolved() {
                    certificates.push(entry(&r, now));
                }
            }
        }
    }
    for slot in &applied.listeners {
        for ctx in slot.current().tls_contexts() {
            if let Some(r) = ctx.resolved() {
                certificates.push(entry(&r, now));
            }
        }
    }
    pretty(&json!({ "certificates": certificates }))
}

fn entry(r: &Resolved, now: SystemTime) -> Value {
    let ca: Vec<Value> =
        r.ca.as_ref()
            .and_then(|c| c.info())
            .map(|i| details(&i, now))
            .into_iter()
            .collect();
    let chain: Vec<Value> = r
        .certs
        .iter()
        .filter_map(|c| c.info())
        .map(|i| details(&i, now))
        .collect();
    json!({"ca_cert": ca, "cert_chain": chain})
}

/// `envoy.admin.v3.CertificateDetails`, printed with primitive fields always present.
pub fn details(i: &CertInfo, now: SystemTime) -> Value {
    let sans: Vec<Value> = i
        .sans
        .iter()
        .filter_map(|s| match s {
            San::Uri(u) => Some(json!({"uri": u})),
            San::Dns(d) => Some(json!({"dns": d})),
            San::Ip(ip) => Some(json!({"ip_address": ip})),
            // CertificateDetails has no email form.
            San::Email(_) => None,
        })
        .collect();
    json!({
        "path": i.path,
        "serial_number": i.serial_number,
        "subject_alt_names": sans,
        "days_until_expiration": i.days_until_expiration(now).to_string(),
        "valid_from": rfc3339(i.not_before),
        "expiration_time": rfc3339(i.not_after),
    })
}

/// A protobuf JSON Timestamp for whole seconds: `2035-04-16T14:24:16Z`.
fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_have_envoys_shape() {
        let i = CertInfo {
            path: "<inline>".into(),
            serial_number: "27d3".into(),
            sans: vec![San::Uri("spiffe://cluster.local/ns/a/sa/b".into())],
            not_before: 1_744_986_256,
            not_after: 1_745_072_656,
        };
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_744_986_256);
        assert_eq!(
            details(&i, at),
            json!({
                "path": "<inline>",
                "serial_number": "27d3",
                "subject_alt_names": [{"uri": "spiffe://cluster.local/ns/a/sa/b"}],
                "days_until_expiration": "1",
                "valid_from": "2025-04-18T14:24:16Z",
                "expiration_time": "2025-04-19T14:24:16Z",
            })
        );
    }
}
