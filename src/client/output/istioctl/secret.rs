//! `istioctl proxy-config secret` (`writer/compare/sds/`): `RESOURCE NAME  TYPE  STATUS
//! VALID CERT  SERIAL NUMBER  NOT AFTER  NOT BEFORE` (+ `TRUST DOMAIN` when every secret has
//! one, as with SPIRE), warming secrets first. `-o json|yaml` print the whole
//! `SecretsConfigDump` with jsonpb's layout.
//!
//! Serial numbers print as istioctl 1.26 does (`%x`: no leading zeros); 1.29 pads them to 32
//! digits (`%032x`). VALID CERT depends on the clock, so the time is a parameter. Besides
//! `inline_bytes` (what Istio's SDS sends and istioctl reads), certificates in `inline_string`
//! are read too (istioctl would show an empty row for those).

use std::time::{SystemTime, UNIX_EPOCH};

use super::dump::{ConfigDump, SECRETS};
use super::x509::{CertInfo, base64_decode, parse_pem_certificate};
use super::{Node, Output, RenderError};
use crate::client::output::table::Table;
use crate::client::output::{gojson, goyaml};

const SPIFFE_VALIDATOR: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig";

/// One row: istioctl's `SecretItem`.
struct Item {
    name: String,
    state: &'static str,
    meta: Option<CertInfo>,
    /// From the SPIFFE validator config (trust bundles), else the certificate's URI SAN.
    trust_domain: String,
}

/// The secret table at `now` (which decides VALID CERT).
pub fn secret(dump: &ConfigDump, now: SystemTime) -> Result<String, RenderError> {
    render(dump, now, false)
}

/// `-o json` / `-o yaml`: the `SecretsConfigDump` (`Output::Short` renders the table at the
/// current time).
pub fn secret_dump(dump: &ConfigDump, output: Output) -> Result<String, RenderError> {
    let section = dump.section(SECRETS)?.without("@type");
    let mut out = match output {
        Output::Json => gojson::jsonpb_indent(&section, "    "),
        Output::Yaml => goyaml::json_to_yaml(&section),
        Output::Short => return secret(dump, SystemTime::now()),
    };
    out.push('\n');
    Ok(out)
}

/// The table; `with_type` prefixes names with `secret/` for `proxy-config all`.
/// The table as text.
pub(super) fn render(
    dump: &ConfigDump,
    now: SystemTime,
    with_type: bool,
) -> Result<String, RenderError> {
    secret_table(dump, now, with_type).map(|t| t.render())
}

/// The table's rows (header first), for views that lay them out themselves (the TUI).
pub fn secret_table(
    dump: &ConfigDump,
    now: SystemTime,
    with_type: bool,
) -> Result<Table, RenderError> {
    let section = dump.section(SECRETS)?;
    let warming = section.get("dynamicWarmingSecrets").items();
    let active = section.get("dynamicActiveSecrets").items();
    if warming.is_empty() && active.is_empty() {
        return Ok(message("No active or warming secrets found."));
    }
    let items: Vec<Item> = warming
        .iter()
        .flat_map(|s| items(s, "WARMING"))
        .chain(active.iter().flat_map(|s| items(s, "ACTIVE")))
        .collect();
    if items.is_empty() {
        return Ok(message("No secret items to show."));
    }
    let all_have_trust_domain = items.iter().all(|item| !trust_domain(item).is_empty());
    let mut header = vec![
        "RESOURCE NAME",
        "TYPE",
        "STATUS",
        "VALID CERT",
        "SERIAL NUMBER",
        "NOT AFTER",
        "NOT BEFORE",
    ];
    if all_have_trust_domain {
        header.push("TRUST DOMAIN");
    }
    let now = unix_now(now);
    let mut table = Table::new(5);
    table.row(header);
    for item in &items {
        let name = if with_type {
            format!("secret/{}", item.name)
        } else {
            item.name.clone()
        };
        let mut row = match &item.meta {
            Some(cert) => {
                let valid =
                    (now.0, now.1) > (cert.not_before.unix(), 0) && now.0 < cert.not_after.unix();
                let kind = if cert.is_ca { "CA" } else { "Cert Chain" };
                vec![
                    name,
                    kind.to_string(),
                    item.state.to_string(),
                    valid.to_string(),
                    cert.serial_hex(),
                    cert.not_after.rfc3339(),
                    cert.not_before.rfc3339(),
                ]
            }
            None => vec![
                name,
                String::new(),
                item.state.to_string(),
                "false".to_string(),
                String::new(),
                String::new(),
                String::new(),
            ],
        };
        if all_have_trust_domain {
            row.push(trust_domain(item).to_string());
        }
        table.row(row);
    }
    Ok(table)
}

/// The trust domain istioctl prints (`SecretMeta.TrustDomain`: empty when the certificate could
/// not be read).
fn trust_domain(item: &Item) -> &str {
    match &item.meta {
        Some(_) => &item.trust_domain,
        None => "",
    }
}

/// The rows of one dynamic secret: its certificate chain, else its CA, else one row per
/// SPIFFE trust bundle.
fn items(dynamic: &Node, state: &'static str) -> Vec<Item> {
    let name = dynamic.get("name").as_str().to_string();
    let secret = dynamic.get("secret");
    let chain = data(secret.at(&["tlsCertificate", "certificateChain"]));
    let ca = data(secret.at(&["validationContext", "trustedCa"]));
    if let Some(pem) = chain.or(ca) {
        return vec![item(name, state, &pem, String::new())];
    }
    let validator = secret.at(&["validationContext", "customValidatorConfig", "typedConfig"]);
    if validator.get("@type").as_str() == SPIFFE_VALIDATOR {
        return validator
            .get("trustDomains")
            .items()
            .iter()
            .map(|td| {
                let pem = data(td.get("trustBundle")).unwrap_or_default();
                item(
                    name.clone(),
                    state,
                    &pem,
                    td.get("name").as_str().to_string(),
                )
            })
            .collect();
    }
    vec![item(name, state, &[], String::new())]
}

fn item(name: String, state: &'static str, pem: &[u8], trust_domain: String) -> Item {
    let meta = if pem.is_empty() {
        None
    } else {
        parse_pem_certificate(pem)
    };
    let trust_domain = match &meta {
        Some(cert) if trust_domain.is_empty() => cert.trust_domain.clone(),
        _ => trust_domain,
    };
    Item {
        name,
        state,
        meta,
        trust_domain,
    }
}

/// A `DataSource`'s bytes: `inline_bytes` (base64 in JSON) or `inline_string`; `None` if empty.
fn data(source: &Node) -> Option<Vec<u8>> {
    let bytes = base64_decode(source.get("inlineBytes").as_str()).unwrap_or_default();
    let bytes = if bytes.is_empty() {
        source.get("inlineString").as_str().as_bytes().to_vec()
    } else {
        bytes
    };
    (!bytes.is_empty()).then_some(bytes)
}

fn unix_now(now: SystemTime) -> (i64, u32) {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(err) => {
            let d = err.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() == 0 {
                (-secs, 0)
            } else {
                (-secs - 1, 1_000_000_000 - d.subsec_nanos())
            }
        }
    }
}

/// A one-line "table": istioctl's message where the table would be.
fn message(text: &str) -> Table {
    let mut t = Table::new(5);
    t.row([text]);
    t
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dump_is_the_secrets_config_dump_in_jsonpb_layout() {
        let dump = ConfigDump::from_json(&json!({"configs": [{"@type": SECRETS,
            "dynamic_active_secrets": [{"name": "ROOTCA", "version_info": "1",
                "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
                    "name": "ROOTCA", "validation_context": {"trusted_ca": {"inline_bytes": "eA=="}}}}]}]}));
        let expected = concat!(
            "{\n",
            "    \"dynamicActiveSecrets\": [\n",
            "        {\n",
            "            \"name\": \"ROOTCA\",\n",
            "            \"versionInfo\": \"1\",\n",
            "            \"secret\": {\n",
            "                \"@type\": \"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\",\n",
            "                \"name\": \"ROOTCA\",\n",
            "                \"validationContext\": {\n",
            "                    \"trustedCa\": {\n",
            "                        \"inlineBytes\": \"eA==\"\n",
            "                    }\n",
            "                }\n",
            "            }\n",
            "        }\n",
            "    ]\n",
            "}\n",
        );
        assert_eq!(secret_dump(&dump, Output::Json).unwrap(), expected);
        // "eA==" is not a certificate: the row is empty but for the name and state.
        let header = "RESOURCE NAME     TYPE     STATUS     VALID CERT     SERIAL NUMBER     NOT AFTER     NOT BEFORE";
        let row = format!(
            "ROOTCA{}ACTIVE     false{}",
            " ".repeat(12 + 9),
            " ".repeat(10 + 18 + 14)
        );
        assert_eq!(
            secret(&dump, SystemTime::UNIX_EPOCH).unwrap(),
            format!("{header}\n{row}\n")
        );
    }
}
