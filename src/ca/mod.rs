//! The mesh's certificate authority and certificate toolkit: a self-signed or plug-in
//! (`cacerts`) CA that issues SPIFFE workload certificates as istiod does, the `certs gen`
//! layouts of the book's labs, and certificate inspection (x509-parser).
//!
//! Imports nothing of ours (DESIGN.md's table); rcgen + ring generate and sign, x509-parser
//! reads, rustls-pki-types splits PEM.

mod der;
mod error;
mod identity;
mod inspect;
mod keys;
mod layout;
mod mesh;
mod pem;

pub use error::Error;
pub use identity::WorkloadId;
pub use inspect::{
    CertInfo, CertSummary, ChainCheck, Inspection, KeySummary, San, cert_info, inspect_pem,
    inspect_pem_at, key_matches_cert, parse_pem_chain, parse_pem_chain_at,
};
pub use keys::{KeyAlgorithm, KeyType};
pub use layout::{
    BookChainOptions, CH4_CHAINS, FileKind, GenPlan, PlannedFile, book_chain, ch4_chains,
    istio_cacerts, write_plan,
};
pub use mesh::{
    CLOCK_SKEW_GRACE, CaPem, DEFAULT_TRUST_DOMAIN, DEFAULT_WORKLOAD_TTL, MAX_WORKLOAD_TTL, MeshCa,
    ROOT_VALIDITY, WorkloadCert,
};
