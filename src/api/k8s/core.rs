//! Namespace, ServiceAccount, Secret and ConfigMap.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::base64::{self, Base64Error};
use crate::api::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NamespaceStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<Value>,
}

/// A Secret. `data` holds base64 text as stored; `string_data` plain text as written (the API
/// server folds it into `data` on write: see [`Secret::fold_string_data`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `Opaque`, `kubernetes.io/tls`, `generic`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl Secret {
    /// The decoded value of `key`: `stringData` wins over `data`, as on the API server.
    pub fn get(&self, key: &str) -> Option<Result<Vec<u8>, Base64Error>> {
        if let Some(text) = self.string_data.get(key) {
            return Some(Ok(text.as_bytes().to_vec()));
        }
        self.data.get(key).map(|b64| base64::decode(b64))
    }

    /// The decoded value of `key` as UTF-8 text (PEM certificates and keys are).
    pub fn get_text(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(Result::ok)
            .and_then(|bytes| String::from_utf8(bytes).ok())
    }

    /// Stores `bytes` under `key`, base64-encoded.
    pub fn set(&mut self, key: &str, bytes: &[u8]) {
        self.string_data.remove(key);
        self.data.insert(key.to_owned(), base64::encode(bytes));
    }

    /// Moves `stringData` into `data`, as the API server does before storing a Secret.
    pub fn fold_string_data(&mut self) {
        for (key, text) in std::mem::take(&mut self.string_data) {
            self.data.insert(key, base64::encode(text.as_bytes()));
        }
    }

    /// Every key, from `data` and `stringData`.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .data
            .keys()
            .chain(self.string_data.keys())
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// base64 text, as stored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub binary_data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl ConfigMap {
    /// The value of `key` from `data`, or decoded from `binaryData`.
    pub fn get(&self, key: &str) -> Option<Result<Vec<u8>, Base64Error>> {
        if let Some(text) = self.data.get(key) {
            return Some(Ok(text.as_bytes().to_vec()));
        }
        self.binary_data.get(key).map(|b64| base64::decode(b64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_decode_and_fold() {
        let mut s = Secret::default();
        s.data.insert("tls.crt".into(), "aGVsbG8=".into());
        s.string_data.insert("note".into(), "plain".into());
        assert_eq!(s.get("tls.crt"), Some(Ok(b"hello".to_vec())));
        assert_eq!(s.get_text("note").as_deref(), Some("plain"));
        assert_eq!(s.keys(), vec!["note", "tls.crt"]);
        s.fold_string_data();
        assert!(s.string_data.is_empty());
        assert_eq!(s.data["note"], "cGxhaW4=");
        s.set("k", b"\x00\x01");
        assert_eq!(s.get("k"), Some(Ok(vec![0, 1])));
        assert_eq!(s.get("missing"), None);
    }
}
