//! The `ca` module's one error type; each message says what is wrong and, where it helps, what
//! to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not PEM, or a PEM block is broken.
    #[error("malformed PEM: {0}")]
    Pem(String),

    /// The input holds no PEM block at all.
    #[error("no PEM data found (expected -----BEGIN CERTIFICATE----- or a private key block)")]
    NoPem,

    /// A certificate was expected and something else was found.
    #[error("PEM block {index} is a {label}, not a CERTIFICATE")]
    NotACertificate { index: usize, label: String },

    /// A PEM bundle that should hold certificates holds none.
    #[error("no certificate in the PEM data")]
    NoCertificate,

    /// The DER inside a CERTIFICATE block does not parse as X.509.
    #[error("certificate {index} does not parse as X.509: {reason}")]
    BadCertificate { index: usize, reason: String },

    /// A certificate is past its notAfter.
    #[error("certificate {index} ({subject}) expired at {not_after}")]
    Expired {
        index: usize,
        subject: String,
        not_after: String,
    },

    /// A certificate's notBefore is in the future.
    #[error("certificate {index} ({subject}) is not valid before {not_before}")]
    NotYetValid {
        index: usize,
        subject: String,
        not_before: String,
    },

    /// A private key block that cannot be read or used.
    #[error("private key: {0}")]
    Key(String),

    /// No private key block where one was expected.
    #[error(
        "no private key in the PEM data (expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
    )]
    NoKey,

    /// The private key does not belong to the certificate it came with.
    #[error("the private key does not match the public key of {what}")]
    KeyMismatch { what: String },

    /// A signing certificate that is not a CA.
    #[error("{what} ({subject}) is not a CA certificate (basicConstraints CA:TRUE is missing)")]
    NotACa { what: String, subject: String },

    /// The CA's certificates do not chain up to its root.
    #[error("{0}")]
    ChainBroken(String),

    /// A workload identity that is not `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`.
    #[error("invalid workload identity {input:?}: {reason}")]
    Identity { input: String, reason: String },

    /// A host name that cannot go into a DNS SAN.
    #[error("invalid host name {0:?}: expected a DNS name such as webapp.istioinaction.io")]
    Host(String),

    /// A requested lifetime out of range.
    #[error("{0}")]
    Validity(String),

    /// rcgen refused to build or sign a certificate.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),

    /// Writing would replace an existing private key.
    #[error("refusing to overwrite existing key {}: pass --force to replace it", .path.display())]
    WouldOverwrite { path: PathBuf },

    /// A problem inside one of the CA's files (`ca-cert.pem`, `ca-key.pem`…).
    #[error("{file}: {source}")]
    InFile {
        file: String,
        #[source]
        source: Box<Error>,
    },

    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
