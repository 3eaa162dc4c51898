//! A workload's SPIFFE identity, `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
//! with a `FromStr`/`Display` round trip (ztunnel's `Identity::Spiffe`).

use std::fmt;
use std::str::FromStr;

use super::Error;

/// Who a workload certificate is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadId {
    pub trust_domain: String,
    pub namespace: String,
    pub service_account: String,
}

impl WorkloadId {
    pub fn new(
        trust_domain: impl Into<String>,
        namespace: impl Into<String>,
        service_account: impl Into<String>,
    ) -> WorkloadId {
        WorkloadId {
            trust_domain: trust_domain.into(),
            namespace: namespace.into(),
            service_account: service_account.into(),
        }
    }

    /// The SPIFFE URI (same as `to_string()`).
    pub fn uri(&self) -> String {
        self.to_string()
    }

    /// Checks each part is non-empty and free of `/`, whitespace and URI-breaking characters.
    pub fn validate(&self) -> Result<(), Error> {
        for (what, value) in [
            ("trust domain", &self.trust_domain),
            ("namespace", &self.namespace),
            ("service account", &self.service_account),
        ] {
            if value.is_empty() {
                return Err(self.invalid(format!("the {what} is empty")));
            }
            if let Some(c) = value
                .chars()
                .find(|c| matches!(c, '/' | '?' | '#' | '%') || c.is_whitespace() || c.is_control())
            {
                return Err(self.invalid(format!("the {what} {value:?} contains {c:?}")));
            }
        }
        Ok(())
    }

    fn invalid(&self, reason: String) -> Error {
        Error::Identity {
            input: self.to_string(),
            reason,
        }
    }
}

impl fmt::Display for WorkloadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spiffe://{}/ns/{}/sa/{}",
            self.trust_domain, self.namespace, self.service_account
        )
    }
}

impl FromStr for WorkloadId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| Error::Identity {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = s
            .strip_prefix("spiffe://")
            .ok_or_else(|| bad("it must start with spiffe://"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            [td, "ns", ns, "sa", sa] => {
                let id = WorkloadId::new(*td, *ns, *sa);
                id.validate()?;
                Ok(id)
            }
            _ => Err(bad(
                "expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id: WorkloadId = "spiffe://cluster.local/ns/istioinaction/sa/webapp"
            .parse()
            .unwrap();
        assert_eq!(
            id,
            WorkloadId::new("cluster.local", "istioinaction", "webapp")
        );
        assert_eq!(
            id.to_string(),
            "spiffe://cluster.local/ns/istioinaction/sa/webapp"
        );
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "cluster.local/ns/a/sa/b",
            "spiffe://cluster.local/ns/a",
            "spiffe://cluster.local/ns/a/sa/b/c",
            "spiffe://cluster.local/ns//sa/b",
            "spiffe:///ns/a/sa/b",
        ] {
            assert!(bad.parse::<WorkloadId>().is_err(), "{bad}");
        }
        assert!(WorkloadId::new("td", "a b", "c").validate().is_err());
    }
}
