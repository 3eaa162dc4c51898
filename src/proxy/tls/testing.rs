//! Test certificates made with rcgen: a CA and leaves with DNS names or SPIFFE URI SANs.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType,
    SerialNumber,
};

pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub pem: String,
}

/// A leaf: certificate and key PEM, and its serial as `/certs` prints it.
pub struct Leaf {
    pub cert: String,
    pub key: String,
    pub serial: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::OrganizationName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("ca");
        let pem = issuer.pem();
        TestCa { issuer, pem }
    }

    /// A leaf with DNS names (`dns:` prefix-free) and URIs (`spiffe://…`).
    pub fn leaf(&self, names: &[&str], serial: u64) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        for n in names {
            let san = if n.contains("://") {
                SanType::URI((*n).try_into().expect("uri"))
            } else {
                SanType::DnsName((*n).try_into().expect("dns"))
            };
            params.subject_alt_names.push(san);
        }
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
            serial: super::certs::serial_hex(&serial.to_be_bytes()),
        }
    }
}
