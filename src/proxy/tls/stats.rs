//! `<listener or cluster>.ssl.*`: Envoy's `ALL_SSL_STATS` plus the per-handshake
//! `ciphers.<name>`, `versions.<TLSv1.x>` and `curves.<group>` counters. Created only for
//! listeners and clusters that use TLS, so plain ones carry no extra stats.

use rustls::{CipherSuite, CommonState, NamedGroup, ProtocolVersion};

use super::super::stats::{Counter, Scope};

#[derive(Debug)]
pub struct SslStats {
    scope: Scope,
    pub connection_error: Counter,
    pub handshake: Counter,
    pub session_reused: Counter,
    pub no_certificate: Counter,
    pub fail_verify_no_cert: Counter,
    pub fail_verify_error: Counter,
    pub fail_verify_san: Counter,
    pub fail_verify_cert_hash: Counter,
}

impl SslStats {
    /// `parent` is `listener.<address>` or `cluster.<name>`.
    pub fn new(parent: &Scope) -> SslStats {
        let scope = parent.scope("ssl");
        for c in [
            "ocsp_staple_failed",
            "ocsp_staple_omitted",
            "ocsp_staple_responses",
            "ocsp_staple_requests",
            "was_key_usage_invalid",
        ] {
            scope.counter(c);
        }
        SslStats {
            connection_error: scope.counter("connection_error"),
            handshake: scope.counter("handshake"),
            session_reused: scope.counter("session_reused"),
            no_certificate: scope.counter("no_certificate"),
            fail_verify_no_cert: scope.counter("fail_verify_no_cert"),
            fail_verify_error: scope.counter("fail_verify_error"),
            fail_verify_san: scope.counter("fail_verify_san"),
            fail_verify_cert_hash: scope.counter("fail_verify_cert_hash"),
            scope,
        }
    }

    /// Counts a finished handshake: Envoy's `logHandshake`.
    pub fn record_handshake(&self, state: &CommonState) {
        self.handshake.inc();
        if let Some(suite) = state.negotiated_cipher_suite() {
            self.scope
                .counter(&format!("ciphers.{}", cipher_name(suite.suite())))
                .inc();
        }
        if let Some(v) = state.protocol_version() {
            self.scope
                .counter(&format!("versions.{}", version_name(v)))
                .inc();
        }
        if let Some(group) = state.negotiated_key_exchange_group() {
            self.scope
                .counter(&format!("curves.{}", curve_name(group.name())))
                .inc();
        }
    }
}

/// `TLSv1.2`, `TLSv1.3` (OpenSSL's `SSL_get_version`).
pub fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        other => format!("{other:?}"),
    }
}

/// OpenSSL/BoringSSL names of the suites rustls speaks, as Envoy's stats spell them.
pub fn cipher_name(s: CipherSuite) -> String {
    match s {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256".to_owned(),
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384".to_owned(),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256".to_owned(),
        other => match openssl_name(other) {
            Some(n) => n.to_owned(),
            None => format!("{other:?}"),
        },
    }
}

/// The TLS 1.2 suites rustls implements, by their OpenSSL names (what `cipher_suites` lists).
pub const TLS12_SUITES: &[(&str, CipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

fn openssl_name(s: CipherSuite) -> Option<&'static str> {
    TLS12_SUITES.iter().find(|(_, c)| *c == s).map(|(n, _)| *n)
}

/// `X25519`, `P-256`, `P-384` (BoringSSL's curve names).
pub fn curve_name(g: NamedGroup) -> String {
    match g {
        NamedGroup::X25519 => "X25519".to_owned(),
        NamedGroup::secp256r1 => "P-256".to_owned(),
        NamedGroup::secp384r1 => "P-384".to_owned(),
        NamedGroup::secp521r1 => "P-521".to_owned(),
        other => format!("{other:?}"),
    }
}
