//! `envoy.config.core.v3` messages shared by listeners, routes and clusters: addresses, header
//! options, node identity, data sources.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::de;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_address: Option<SocketAddress>,
}

impl Address {
    pub fn socket(ip: impl Into<String>, port: u32) -> Address {
        Address {
            socket_address: Some(SocketAddress {
                address: ip.into(),
                port_value: port,
                ..Default::default()
            }),
        }
    }

    /// The IP socket address, when the address is a literal IP (listeners, STATIC endpoints).
    pub fn ip_socket_addr(&self) -> Option<SocketAddr> {
        let sa = self.socket_address.as_ref()?;
        let ip: IpAddr = sa.address.parse().ok()?;
        Some(SocketAddr::new(ip, u16::try_from(sa.port_value).ok()?))
    }

    /// `ip:port` as Envoy prints addresses (`0.0.0.0:15001`, `[::1]:80`).
    pub fn display(&self) -> String {
        match &self.socket_address {
            Some(sa) if sa.address.contains(':') => format!("[{}]:{}", sa.address, sa.port_value),
            Some(sa) => format!("{}:{}", sa.address, sa.port_value),
            None => String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SocketProtocol {
    #[default]
    Tcp,
    Udp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SocketAddress {
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub protocol: SocketProtocol,
    pub address: String,
    #[serde(
        default,
        deserialize_with = "de::int",
        skip_serializing_if = "de::is_zero_u32"
    )]
    pub port_value: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver_name: Option<String>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub ipv4_compat: bool,
}

/// `envoy.config.core.v3.HeaderValue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeaderValue {
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HeaderAppendAction {
    #[default]
    AppendIfExistsOrAdd,
    AddIfAbsent,
    OverwriteIfExistsOrAdd,
    OverwriteIfExists,
}

/// `envoy.config.core.v3.HeaderValueOption`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeaderValueOption {
    pub header: HeaderValue,
    /// Deprecated `append` (BoolValue): true = append, false = overwrite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<bool>,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub append_action: HeaderAppendAction,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub keep_empty_value: bool,
}

impl HeaderValueOption {
    /// The effective action, honouring the deprecated `append` when it is set.
    pub fn action(&self) -> HeaderAppendAction {
        match self.append {
            Some(true) => HeaderAppendAction::AppendIfExistsOrAdd,
            Some(false) => HeaderAppendAction::OverwriteIfExistsOrAdd,
            None => self.append_action,
        }
    }
}

/// `envoy.config.core.v3.Locality`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Locality {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub zone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_zone: String,
}

/// `envoy.config.core.v3.Node`: who this proxy is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Node {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<Locality>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent_build_version: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<serde_json::Value>,
}

/// `envoy.config.core.v3.Metadata`: `filter_metadata` is a map of Structs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub filter_metadata: serde_json::Map<String, serde_json::Value>,
}

/// `envoy.config.core.v3.DataSource`: inline text/bytes or a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Base64 in protobuf JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_bytes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_variable: Option<String>,
}

/// `envoy.type.v3.FractionalPercent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FractionalPercent {
    #[serde(
        default,
        deserialize_with = "de::int",
        skip_serializing_if = "de::is_zero_u32"
    )]
    pub numerator: u32,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub denominator: Denominator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Denominator {
    #[default]
    Hundred,
    TenThousand,
    Million,
}

impl FractionalPercent {
    /// The fraction in [0, 1].
    pub fn fraction(&self) -> f64 {
        let d = match self.denominator {
            Denominator::Hundred => 100.0,
            Denominator::TenThousand => 10_000.0,
            Denominator::Million => 1_000_000.0,
        };
        (self.numerator as f64 / d).min(1.0)
    }
}

/// `envoy.config.core.v3.RuntimeFractionalPercent` (the runtime key is accepted; there is no
/// runtime layer, so the default value applies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RuntimeFractionalPercent {
    pub default_value: FractionalPercent,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime_key: String,
}

/// `envoy.config.core.v3.TypedExtensionConfig` for extensions we only name (e.g. retry host
/// predicates), keeping whatever typed config was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NamedExtension {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typed_config: Option<serde_json::Value>,
}
