//! `mesh certs gen`: the book's openssl-made chains (root → intermediate → server and client
//! leaves, `1_root/ … 4_client/`) and Istio's plug-in CA files, planned in memory and then
//! written all at once (private keys 0600, existing keys never replaced without `force`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

use super::Error;
use super::keys::KeyType;
use super::mesh::{now_seconds, random_serial};

/// The chapter-4 chains: folder (under `--out`) and host, as in the book's repository.
pub const CH4_CHAINS: [(&str, &str); 4] = [
    ("certs", "webapp.istioinaction.io"),
    ("certs2", "catalog.istioinaction.io"),
    ("sni/simple-sni-1", "simple-sni-1.istioinaction.io"),
    ("sni/simple-sni-2", "simple-sni-2.istioinaction.io"),
];

/// Key type and lifetimes for generated chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookChainOptions {
    pub key_type: KeyType,
    pub days_root: u32,
    pub days_intermediate: u32,
    pub days_leaf: u32,
}

impl Default for BookChainOptions {
    /// The book's chains: every level valid for 7300 days (20 years).
    fn default() -> Self {
        BookChainOptions {
            key_type: KeyType::EcP256,
            days_root: 7300,
            days_intermediate: 7300,
            days_leaf: 7300,
        }
    }
}

/// What a planned file holds (private keys are written 0600 and never silently replaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Certificate,
    PrivateKey,
}

/// One file to write, relative to the output directory.
#[derive(Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub contents: String,
    pub kind: FileKind,
}

impl std::fmt::Debug for PlannedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlannedFile")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .finish()
    }
}

/// Files generated in memory, not yet written.
#[derive(Debug, Clone, Default)]
pub struct GenPlan {
    pub files: Vec<PlannedFile>,
}

impl GenPlan {
    fn add(&mut self, path: impl Into<PathBuf>, contents: String, kind: FileKind) {
        self.files.push(PlannedFile {
            path: path.into(),
            contents,
            kind,
        });
    }

    /// The contents of the file at `path` (relative), if planned.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.path == Path::new(path))
            .map(|f| f.contents.as_str())
    }

    fn prefixed(self, dir: &str) -> GenPlan {
        GenPlan {
            files: self
                .files
                .into_iter()
                .map(|f| PlannedFile {
                    path: Path::new(dir).join(f.path),
                    ..f
                })
                .collect(),
        }
    }
}

fn days(n: u32) -> time::Duration {
    time::Duration::days(i64::from(n))
}

fn check_days(opts: &BookChainOptions) -> Result<(), Error> {
    for (what, n) in [
        ("root", opts.days_root),
        ("intermediate", opts.days_intermediate),
        ("leaf", opts.days_leaf),
    ] {
        if n == 0 {
            return Err(Error::Validity(format!(
                "the {what} certificate needs a validity of at least 1 day"
            )));
        }
    }
    Ok(())
}

/// Checks a host for a DNS SAN / file name: a DNS name (an optional leading `*.`) or an IP.
fn check_host(host: &str) -> Result<(), Error> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    let ok = !name.is_empty()
        && host.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Host(host.to_owned()))
    }
}

/// The book's subjects: `C=US, ST=Denial, [L=Springfield,] O=Dis, CN=<host>`.
fn book_dn(host: &str, with_locality: bool) -> Result<DistinguishedName, Error> {
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        DnValue::PrintableString("US".try_into()?),
    );
    dn.push(DnType::StateOrProvinceName, "Denial");
    if with_locality {
        dn.push(DnType::LocalityName, "Springfield");
    }
    dn.push(DnType::OrganizationName, "Dis");
    dn.push(DnType::CommonName, host);
    Ok(dn)
}

fn ca_params(
    dn: DistinguishedName,
    path_len: Option<u8>,
    key_usages: Vec<KeyUsagePurpose>,
    now: OffsetDateTime,
    valid_days: u32,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = key_usages;
    p.use_authority_key_identifier_extension = true;
    p.serial_number = Some(random_serial());
    p.not_before = now;
    p.not_after = now + days(valid_days);
    p
}

/// A root and an intermediate, with their keys.
struct TwoTier {
    root_pem: String,
    root_key_pem: String,
    intermediate_pem: String,
    intermediate_key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn two_tier(
    root_dn: DistinguishedName,
    root_usages: Vec<KeyUsagePurpose>,
    intermediate: CertificateParams,
    opts: &BookChainOptions,
    now: OffsetDateTime,
) -> Result<TwoTier, Error> {
    let root_params = ca_params(root_dn, None, root_usages, now, opts.days_root);
    let root_key = opts.key_type.generate()?;
    let root_cert = root_params.self_signed(&root_key)?;
    let root_key_pem = root_key.serialize_pem();
    let root_issuer = Issuer::new(root_params, root_key);
    let int_key = opts.key_type.generate()?;
    let int_cert = intermediate.signed_by(&int_key, &root_issuer)?;
    Ok(TwoTier {
        root_pem: root_cert.pem(),
        root_key_pem,
        intermediate_pem: int_cert.pem(),
        intermediate_key_pem: int_key.serialize_pem(),
        issuer: Issuer::new(intermediate, int_key),
    })
}

fn leaf(
    host: &str,
    server: bool,
    opts: &BookChainOptions,
    issuer: &Issuer<'static, KeyPair>,
    now: OffsetDateTime,
) -> Result<(String, String), Error> {
    let mut p = CertificateParams::default();
    p.distinguished_name = book_dn(host, true)?;
    p.is_ca = IsCa::ExplicitNoCa;
    p.use_authority_key_identifier_extension = true;
    p.serial_number = Some(random_serial());
    p.not_before = now;
    p.not_after = now + days(opts.days_leaf);
    if server {
        p.subject_alt_names = vec![match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.try_into()?),
        }];
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::EmailProtection,
        ];
    }
    let key = opts.key_type.generate()?;
    let cert = p.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// One chain in the book's layout: a root and an intermediate named after the first host,
/// then a server leaf (`3_application`, SAN DNS:HOST, serverAuth) and a client leaf
/// (`4_client`, clientAuth) per host. `2_intermediate/certs/ca-chain.cert.pem` is intermediate
/// + root, as the book's.
pub fn book_chain(hosts: &[String], opts: &BookChainOptions) -> Result<GenPlan, Error> {
    check_days(opts)?;
    let first = hosts.first().ok_or_else(|| Error::Host(String::new()))?;
    for h in hosts {
        check_host(h)?;
    }
    let now = now_seconds();
    // The book's CA usages: Digital Signature, Certificate Sign, CRL Sign (critical).
    let usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let int_params = ca_params(
        book_dn(first, false)?,
        Some(0),
        usages.clone(),
        now,
        opts.days_intermediate,
    );
    let tier = two_tier(book_dn(first, true)?, usages, int_params, opts, now)?;
    let mut plan = GenPlan::default();
    plan.add(
        "1_root/certs/ca.cert.pem",
        tier.root_pem.clone(),
        FileKind::Certificate,
    );
    plan.add(
        "1_root/private/ca.key.pem",
        tier.root_key_pem,
        FileKind::PrivateKey,
    );
    plan.add(
        "2_intermediate/certs/intermediate.cert.pem",
        tier.intermediate_pem.clone(),
        FileKind::Certificate,
    );
    plan.add(
        "2_intermediate/certs/ca-chain.cert.pem",
        format!("{}{}", tier.intermediate_pem, tier.root_pem),
        FileKind::Certificate,
    );
    plan.add(
        "2_intermediate/private/intermediate.key.pem",
        tier.intermediate_key_pem,
        FileKind::PrivateKey,
    );
    for host in hosts {
        for (dir, server) in [("3_application", true), ("4_client", false)] {
            let (cert, key) = leaf(host, server, opts, &tier.issuer, now)?;
            plan.add(
                format!("{dir}/certs/{host}.cert.pem"),
                cert,
                FileKind::Certificate,
            );
            plan.add(
                format!("{dir}/private/{host}.key.pem"),
                key,
                FileKind::PrivateKey,
            );
        }
    }
    Ok(plan)
}

/// Every chain the chapter-4 labs use, each in its book folder ([`CH4_CHAINS`]).
pub fn ch4_chains(opts: &BookChainOptions) -> Result<GenPlan, Error> {
    let mut plan = GenPlan::default();
    for (dir, host) in CH4_CHAINS {
        plan.files
            .extend(book_chain(&[host.to_owned()], opts)?.prefixed(dir).files);
    }
    Ok(plan)
}

/// Istio's plug-in CA files (`kubectl create secret generic cacerts -n istio-system
/// --from-file=…`), shaped like istio's `tools/certs` Makefiles: root `O=Istio, CN=Root CA`,
/// intermediate `O=Istio, CN=Intermediate CA` (pathlen 0, SAN DNS:istiod.istio-system.svc).
/// Writes `ca-cert.pem`, `ca-key.pem`, `root-cert.pem` and `cert-chain.pem` (intermediate +
/// root).
pub fn istio_cacerts(opts: &BookChainOptions) -> Result<GenPlan, Error> {
    check_days(opts)?;
    let now = now_seconds();
    let usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    let mut root_dn = DistinguishedName::new();
    root_dn.push(DnType::OrganizationName, "Istio");
    root_dn.push(DnType::CommonName, "Root CA");
    let mut int_dn = DistinguishedName::new();
    int_dn.push(DnType::OrganizationName, "Istio");
    int_dn.push(DnType::CommonName, "Intermediate CA");
    let mut int_params = ca_params(int_dn, Some(0), usages.clone(), now, opts.days_intermediate);
    int_params.subject_alt_names = vec![SanType::DnsName("istiod.istio-system.svc".try_into()?)];
    // Istio's root-ca.conf gives the root the same key usages as the intermediate.
    let tier = two_tier(root_dn, usages, int_params, opts, now)?;
    let mut plan = GenPlan::default();
    plan.add(
        "ca-cert.pem",
        tier.intermediate_pem.clone(),
        FileKind::Certificate,
    );
    plan.add(
        "ca-key.pem",
        tier.intermediate_key_pem,
        FileKind::PrivateKey,
    );
    plan.add(
        "root-cert.pem",
        tier.root_pem.clone(),
        FileKind::Certificate,
    );
    plan.add(
        "cert-chain.pem",
        format!("{}{}", tier.intermediate_pem, tier.root_pem),
        FileKind::Certificate,
    );
    Ok(plan)
}

/// Writes a plan under `out`. Checks every target first: an existing private key is an
/// error unless `force` (nothing is written then), as is a target that is a directory.
/// Keys are written 0600. Returns the written paths in plan order.
pub fn write_plan(out: &Path, plan: &GenPlan, force: bool) -> Result<Vec<PathBuf>, Error> {
    for file in &plan.files {
        let target = out.join(&file.path);
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if meta.is_dir() => {
                return Err(Error::Io {
                    path: target,
                    source: std::io::Error::other("is a directory"),
                });
            }
            Ok(_) if file.kind == FileKind::PrivateKey && !force => {
                return Err(Error::WouldOverwrite { path: target });
            }
            _ => {}
        }
    }
    let mut written = Vec::with_capacity(plan.files.len());
    for file in &plan.files {
        let target = out.join(&file.path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        write_file(&target, &file.contents, file.kind == FileKind::PrivateKey).map_err(
            |source| Error::Io {
                path: target.clone(),
                source,
            },
        )?;
        written.push(target);
    }
    Ok(written)
}

/// Writes through a temporary file in the same directory and renames it into place; a
/// private key's temporary file is created 0600 so the key is never readable by others.
fn write_file(target: &Path, contents: &str, private: bool) -> std::io::Result<()> {
    use std::io::Write as _;

    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt as _;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{MeshCa, San, WorkloadId, inspect_pem, key_matches_cert};

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn book_chain_has_the_books_files_and_shapes() {
        let plan = book_chain(&hosts(&["webapp.istioinaction.io"]), &Default::default()).unwrap();
        let paths: Vec<String> = plan
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "1_root/certs/ca.cert.pem",
                "1_root/private/ca.key.pem",
                "2_intermediate/certs/intermediate.cert.pem",
                "2_intermediate/certs/ca-chain.cert.pem",
                "2_intermediate/private/intermediate.key.pem",
                "3_application/certs/webapp.istioinaction.io.cert.pem",
                "3_application/private/webapp.istioinaction.io.key.pem",
                "4_client/certs/webapp.istioinaction.io.cert.pem",
                "4_client/private/webapp.istioinaction.io.key.pem",
            ]
        );
        let chain = inspect_pem(
            format!(
                "{}{}",
                plan.get("3_application/certs/webapp.istioinaction.io.cert.pem")
                    .unwrap(),
                plan.get("2_intermediate/certs/ca-chain.cert.pem").unwrap()
            )
            .as_bytes(),
        )
        .unwrap();
        assert!(chain.chain.as_ref().unwrap().ok, "{:?}", chain.chain);
        let [leaf, int, root] = &chain.certificates[..] else {
            panic!("3 certificates expected")
        };
        assert_eq!(
            root.info.subject,
            "C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io"
        );
        assert_eq!(root.role, "Root CA");
        assert_eq!(
            root.key_usage,
            ["Digital Signature", "Certificate Sign", "CRL Sign"]
        );
        assert_eq!(
            int.info.subject,
            "C=US, ST=Denial, O=Dis, CN=webapp.istioinaction.io"
        );
        assert_eq!(int.path_len, Some(0));
        assert_eq!(int.role, "Intermediate CA");
        assert_eq!(leaf.info.sans, [San::Dns("webapp.istioinaction.io".into())]);
        assert_eq!(leaf.extended_key_usage, ["TLS Web Server Authentication"]);
        assert_eq!(leaf.key_usage, ["Digital Signature", "Key Encipherment"]);
        assert_eq!(leaf.days_left, 7299);
        assert_eq!(leaf.key, "ECDSA P-256");

        let client = inspect_pem(
            plan.get("4_client/certs/webapp.istioinaction.io.cert.pem")
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            client.certificates[0].extended_key_usage,
            ["TLS Web Client Authentication", "E-mail Protection"]
        );
        assert!(
            key_matches_cert(
                plan.get("4_client/private/webapp.istioinaction.io.key.pem")
                    .unwrap(),
                plan.get("4_client/certs/webapp.istioinaction.io.cert.pem")
                    .unwrap(),
            )
            .unwrap()
        );
        assert!(
            !key_matches_cert(
                plan.get("3_application/private/webapp.istioinaction.io.key.pem")
                    .unwrap(),
                plan.get("4_client/certs/webapp.istioinaction.io.cert.pem")
                    .unwrap(),
            )
            .unwrap()
        );
    }

    #[test]
    fn ch4_uses_the_books_folders() {
        let plan = ch4_chains(&Default::default()).unwrap();
        for want in [
            "certs/3_application/certs/webapp.istioinaction.io.cert.pem",
            "certs2/3_application/private/catalog.istioinaction.io.key.pem",
            "sni/simple-sni-1/2_intermediate/certs/ca-chain.cert.pem",
            "sni/simple-sni-2/4_client/certs/simple-sni-2.istioinaction.io.cert.pem",
        ] {
            assert!(plan.get(want).is_some(), "{want} missing");
        }
        assert_eq!(plan.files.len(), 36);
    }

    #[test]
    fn bad_hosts_and_days_are_refused() {
        for bad in ["", "a/b", "-x.io", "a..b", "héllo.io"] {
            assert!(
                book_chain(&hosts(&[bad]), &Default::default()).is_err(),
                "{bad}"
            );
        }
        assert!(
            book_chain(
                &hosts(&["*.istioinaction.io", "127.0.0.1"]),
                &Default::default()
            )
            .is_ok()
        );
        let opts = BookChainOptions {
            days_leaf: 0,
            ..Default::default()
        };
        assert!(book_chain(&hosts(&["a.io"]), &opts).is_err());
    }

    #[test]
    fn istio_cacerts_load_as_a_plug_in_ca() {
        for key_type in KeyType::ALL {
            let opts = BookChainOptions {
                key_type,
                ..Default::default()
            };
            let plan = istio_cacerts(&opts).unwrap();
            let ca = MeshCa::from_pem(
                plan.get("ca-cert.pem").unwrap(),
                plan.get("ca-key.pem").unwrap(),
                plan.get("cert-chain.pem").unwrap(),
                plan.get("root-cert.pem").unwrap(),
            )
            .unwrap();
            assert!(!ca.is_self_signed());
            let wc = ca
                .issue_workload(
                    &WorkloadId::new("cluster.local", "default", "sleep"),
                    crate::ca::DEFAULT_WORKLOAD_TTL,
                )
                .unwrap();
            let chain = inspect_pem(wc.cert_chain_pem.as_bytes()).unwrap();
            assert_eq!(chain.certificates.len(), 3, "leaf, intermediate, root");
            assert!(chain.chain.unwrap().ok);
            assert_eq!(
                chain.certificates[1].info.subject,
                "O=Istio, CN=Intermediate CA"
            );
            assert_eq!(chain.certificates[2].info.subject, "O=Istio, CN=Root CA");
            // Without cert-chain.pem (or with only the root in it) the chain is the same.
            for chain_pem in ["", plan.get("root-cert.pem").unwrap()] {
                let ca = MeshCa::from_pem(
                    plan.get("ca-cert.pem").unwrap(),
                    plan.get("ca-key.pem").unwrap(),
                    chain_pem,
                    plan.get("root-cert.pem").unwrap(),
                )
                .unwrap();
                let id = WorkloadId::new("cluster.local", "default", "sleep");
                let wc = ca
                    .issue_workload(&id, crate::ca::DEFAULT_WORKLOAD_TTL)
                    .unwrap();
                let chain = inspect_pem(wc.cert_chain_pem.as_bytes()).unwrap();
                assert_eq!(chain.certificates.len(), 3);
                assert!(chain.chain.unwrap().ok);
            }
        }
    }

    #[test]
    fn write_plan_refuses_to_replace_keys_and_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("mesh-ca-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let plan = book_chain(&hosts(&["a.example"]), &Default::default()).unwrap();
        let written = write_plan(&dir, &plan, false).unwrap();
        assert_eq!(written.len(), plan.files.len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for (f, p) in plan.files.iter().zip(&written) {
                let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
                if f.kind == FileKind::PrivateKey {
                    assert_eq!(mode, 0o600, "{}", p.display());
                }
            }
        }
        let before = std::fs::read_to_string(dir.join("1_root/certs/ca.cert.pem")).unwrap();
        let again = book_chain(&hosts(&["a.example"]), &Default::default()).unwrap();
        let err = write_plan(&dir, &again, false).unwrap_err();
        assert!(
            err.to_string().contains("1_root/private/ca.key.pem"),
            "{err}"
        );
        let after = std::fs::read_to_string(dir.join("1_root/certs/ca.cert.pem")).unwrap();
        assert_eq!(before, after, "nothing written on refusal");
        write_plan(&dir, &again, true).unwrap();
        let forced = std::fs::read_to_string(dir.join("1_root/certs/ca.cert.pem")).unwrap();
        assert_ne!(before, forced);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
