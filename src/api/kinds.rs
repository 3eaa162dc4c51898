//! The registry of every kind the sandbox knows: group, served versions, plural, singular and
//! short names, scope, and whether mesh acts on it yet. Resolves what users type after
//! `mesh get` (like kubectl's RESTMapper) and what manifests say in `apiVersion`/`kind`.
//!
//! Name clash: Istio and the Gateway API both have a kind `Gateway` (plural `gateways`). kubectl
//! picks whichever API group discovery lists first; we always pick Istio's
//! (`networking.istio.io`), as the book does. The Gateway API one is `gtw`, or written in full:
//! `gateways.gateway.networking.k8s.io`.

use std::fmt;

use super::suggest;

/// What the sandbox knows about one kind.
#[derive(Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// `VirtualService`
    pub kind: &'static str,
    /// `networking.istio.io`; empty for the Kubernetes core group (`apiVersion: v1`).
    pub group: &'static str,
    /// Served versions, the preferred one first (`v1`, `v1beta1`, `v1alpha3`).
    pub versions: &'static [&'static str],
    /// `virtualservices`
    pub plural: &'static str,
    /// `virtualservice`
    pub singular: &'static str,
    /// `vs`
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    /// Whether mesh does something with it (pods run, routes change); others are validated,
    /// stored and shown, and nothing more yet.
    pub acted_on: bool,
}

impl KindInfo {
    /// `networking.istio.io/v1` for a version, `v1` in the core group.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// The apiVersion mesh writes when it has to choose one.
    pub fn preferred_api_version(&self) -> String {
        self.api_version(self.versions.first().copied().unwrap_or("v1"))
    }

    /// Every apiVersion this kind is served in, preferred first.
    pub fn api_versions(&self) -> Vec<String> {
        self.versions.iter().map(|v| self.api_version(v)).collect()
    }

    pub fn serves(&self, api_version: &str) -> bool {
        let (group, version) = split_api_version(api_version);
        group == self.group && self.versions.contains(&version)
    }

    /// `virtualservices.networking.istio.io`, or just `pods` in the core group.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        [self.kind, self.plural, self.singular]
            .into_iter()
            .chain(self.short_names.iter().copied())
    }

    fn answers_to(&self, name: &str) -> bool {
        self.names().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

const K8S: &str = "";
const APPS: &str = "apps";
const RBAC: &str = "rbac.authorization.k8s.io";
const NETWORKING: &str = "networking.istio.io";
const SECURITY: &str = "security.istio.io";
const TELEMETRY: &str = "telemetry.istio.io";
const EXTENSIONS: &str = "extensions.istio.io";
const INSTALL: &str = "install.istio.io";
const GATEWAY_API: &str = "gateway.networking.k8s.io";

const V1: &[&str] = &["v1"];
const ISTIO_NETWORKING: &[&str] = &["v1", "v1beta1", "v1alpha3"];
const ISTIO_SECURITY: &[&str] = &["v1", "v1beta1"];

#[allow(clippy::too_many_arguments)]
const fn kind(
    kind: &'static str,
    group: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
    acted_on: bool,
) -> KindInfo {
    KindInfo {
        kind,
        group,
        versions,
        plural,
        singular,
        short_names,
        namespaced,
        acted_on,
    }
}

/// Every kind, in resolution order: an unqualified name means the first kind that answers to it.
pub static KINDS: &[KindInfo] = &[
    // Kubernetes
    kind(
        "Namespace",
        K8S,
        V1,
        "namespaces",
        "namespace",
        &["ns"],
        false,
        true,
    ),
    kind("Pod", K8S, V1, "pods", "pod", &["po"], true, true),
    kind(
        "Service",
        K8S,
        V1,
        "services",
        "service",
        &["svc"],
        true,
        true,
    ),
    kind(
        "Endpoints",
        K8S,
        V1,
        "endpoints",
        "endpoints",
        &["ep"],
        true,
        true,
    ),
    kind(
        "ServiceAccount",
        K8S,
        V1,
        "serviceaccounts",
        "serviceaccount",
        &["sa"],
        true,
        true,
    ),
    kind("Secret", K8S, V1, "secrets", "secret", &[], true, true),
    kind(
        "ConfigMap",
        K8S,
        V1,
        "configmaps",
        "configmap",
        &["cm"],
        true,
        true,
    ),
    kind(
        "Deployment",
        APPS,
        V1,
        "deployments",
        "deployment",
        &["deploy"],
        true,
        true,
    ),
    kind(
        "ReplicaSet",
        APPS,
        V1,
        "replicasets",
        "replicaset",
        &["rs"],
        true,
        true,
    ),
    kind("Role", RBAC, V1, "roles", "role", &[], true, false),
    kind(
        "RoleBinding",
        RBAC,
        V1,
        "rolebindings",
        "rolebinding",
        &[],
        true,
        false,
    ),
    kind(
        "ClusterRole",
        RBAC,
        V1,
        "clusterroles",
        "clusterrole",
        &[],
        false,
        false,
    ),
    kind(
        "ClusterRoleBinding",
        RBAC,
        V1,
        "clusterrolebindings",
        "clusterrolebinding",
        &[],
        false,
        false,
    ),
    // Istio networking
    kind(
        "Gateway",
        NETWORKING,
        ISTIO_NETWORKING,
        "gateways",
        "gateway",
        &["gw"],
        true,
        true,
    ),
    kind(
        "VirtualService",
        NETWORKING,
        ISTIO_NETWORKING,
        "virtualservices",
        "virtualservice",
        &["vs"],
        true,
        true,
    ),
    kind(
        "DestinationRule",
        NETWORKING,
        ISTIO_NETWORKING,
        "destinationrules",
        "destinationrule",
        &["dr"],
        true,
        true,
    ),
    kind(
        "ServiceEntry",
        NETWORKING,
        ISTIO_NETWORKING,
        "serviceentries",
        "serviceentry",
        &["se"],
        true,
        true,
    ),
    kind(
        "Sidecar",
        NETWORKING,
        ISTIO_NETWORKING,
        "sidecars",
        "sidecar",
        &[],
        true,
        false,
    ),
    kind(
        "EnvoyFilter",
        NETWORKING,
        &["v1alpha3"],
        "envoyfilters",
        "envoyfilter",
        &[],
        true,
        true,
    ),
    kind(
        "WorkloadEntry",
        NETWORKING,
        ISTIO_NETWORKING,
        "workloadentries",
        "workloadentry",
        &["we"],
        true,
        false,
    ),
    kind(
        "WorkloadGroup",
        NETWORKING,
        ISTIO_NETWORKING,
        "workloadgroups",
        "workloadgroup",
        &["wg"],
        true,
        false,
    ),
    kind(
        "ProxyConfig",
        NETWORKING,
        &["v1beta1"],
        "proxyconfigs",
        "proxyconfig",
        &[],
        true,
        false,
    ),
    // Istio security, telemetry, extensions, install
    kind(
        "PeerAuthentication",
        SECURITY,
        ISTIO_SECURITY,
        "peerauthentications",
        "peerauthentication",
        &["pa"],
        true,
        true,
    ),
    kind(
        "AuthorizationPolicy",
        SECURITY,
        ISTIO_SECURITY,
        "authorizationpolicies",
        "authorizationpolicy",
        &["ap"],
        true,
        false,
    ),
    kind(
        "RequestAuthentication",
        SECURITY,
        ISTIO_SECURITY,
        "requestauthentications",
        "requestauthentication",
        &["ra"],
        true,
        false,
    ),
    kind(
        "Telemetry",
        TELEMETRY,
        &["v1", "v1alpha1"],
        "telemetries",
        "telemetry",
        &["telemetry"],
        true,
        true,
    ),
    kind(
        "WasmPlugin",
        EXTENSIONS,
        &["v1alpha1"],
        "wasmplugins",
        "wasmplugin",
        &[],
        true,
        false,
    ),
    kind(
        "IstioOperator",
        INSTALL,
        &["v1alpha1"],
        "istiooperators",
        "istiooperator",
        &["iop", "io"],
        true,
        false,
    ),
    // Gateway API
    kind(
        "GatewayClass",
        GATEWAY_API,
        &["v1", "v1beta1"],
        "gatewayclasses",
        "gatewayclass",
        &["gc"],
        false,
        false,
    ),
    kind(
        "Gateway",
        GATEWAY_API,
        &["v1", "v1beta1"],
        "gateways",
        "gateway",
        &["gtw"],
        true,
        false,
    ),
    kind(
        "HTTPRoute",
        GATEWAY_API,
        &["v1", "v1beta1"],
        "httproutes",
        "httproute",
        &[],
        true,
        false,
    ),
    kind(
        "TLSRoute",
        GATEWAY_API,
        &["v1", "v1alpha3", "v1alpha2"],
        "tlsroutes",
        "tlsroute",
        &[],
        true,
        false,
    ),
    kind(
        "TCPRoute",
        GATEWAY_API,
        &["v1", "v1alpha2"],
        "tcproutes",
        "tcproute",
        &[],
        true,
        false,
    ),
    kind(
        "GRPCRoute",
        GATEWAY_API,
        &["v1"],
        "grpcroutes",
        "grpcroute",
        &[],
        true,
        false,
    ),
    kind(
        "ReferenceGrant",
        GATEWAY_API,
        &["v1beta1", "v1"],
        "referencegrants",
        "referencegrant",
        &["refgrant"],
        true,
        false,
    ),
];

/// Every kind the sandbox knows.
pub fn all() -> &'static [KindInfo] {
    KINDS
}

/// A resource type name that no kind answers to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownKind {
    pub name: String,
    /// Close names that do exist (plural names, qualified when two groups share one).
    pub suggestions: Vec<String>,
}

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server doesn't have a resource type \"{}\"",
            self.name
        )?;
        match self.suggestions.as_slice() {
            [] => Ok(()),
            [one] => write!(f, "; did you mean \"{one}\"?"),
            many => write!(f, "; did you mean one of: {}?", many.join(", ")),
        }
    }
}

/// Resolves a resource type as kubectl does: kind, plural, singular or short name, optionally
/// followed by `.group` or `.version.group`, ignoring case. `gateway` is Istio's Gateway.
pub fn resolve(name: &str) -> Result<&'static KindInfo, UnknownKind> {
    let wanted = name.trim();
    // `pods`, `virtualservices.networking.istio.io`, `deployments.v1.apps`
    let (head, rest) = match wanted.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (wanted, None),
    };
    let found = KINDS.iter().find(|k| {
        k.answers_to(head)
            && match rest {
                None => true,
                Some(rest) => {
                    rest.eq_ignore_ascii_case(k.group)
                        || rest.split_once('.').is_some_and(|(version, group)| {
                            group.eq_ignore_ascii_case(k.group) && k.versions.contains(&version)
                        })
                        || (k.group.is_empty() && k.versions.contains(&rest))
                }
            }
    });
    found.ok_or_else(|| UnknownKind {
        name: name.to_owned(),
        suggestions: suggestions(head),
    })
}

fn suggestions(head: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let candidates: Vec<&'static str> = KINDS.iter().flat_map(KindInfo::names).collect();
    if let Some(best) = suggest::closest(head, candidates.iter().copied()) {
        for k in KINDS.iter().filter(|k| k.answers_to(best)) {
            let shared = KINDS
                .iter()
                .filter(|other| other.plural == k.plural)
                .count()
                > 1;
            let name = if shared {
                k.qualified_plural()
            } else {
                k.plural.to_owned()
            };
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// A manifest's `apiVersion`/`kind` that no served kind matches, in kubectl's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no matches for kind \"{kind}\" in version \"{api_version}\"")]
pub struct NoMatch {
    pub api_version: String,
    pub kind: String,
    /// Which field is wrong: `kind` when no group has that kind, else `apiVersion`.
    pub wrong_field: &'static str,
    /// What to write instead, when we can tell.
    pub fix: Option<String>,
}

/// The kind a manifest means by its `apiVersion` and `kind` (case-sensitive, as the API server).
pub fn lookup(api_version: &str, kind: &str) -> Result<&'static KindInfo, NoMatch> {
    if let Some(found) = KINDS
        .iter()
        .find(|k| k.kind == kind && k.serves(api_version))
    {
        return Ok(found);
    }
    let (group, _) = split_api_version(api_version);
    let same_kind: Vec<&KindInfo> = KINDS.iter().filter(|k| k.kind == kind).collect();
    let no_match = |wrong_field, fix| NoMatch {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        wrong_field,
        fix,
    };
    if same_kind.is_empty() {
        // A misspelt or miscased kind: prefer one in the group the manifest names.
        let in_group: Vec<&'static str> = KINDS
            .iter()
            .filter(|k| k.group == group)
            .map(|k| k.kind)
            .collect();
        let anywhere: Vec<&'static str> = KINDS.iter().map(|k| k.kind).collect();
        let best = suggest::closest(kind, in_group.iter().copied())
            .or_else(|| suggest::closest(kind, anywhere.iter().copied()));
        let fix = best.map(|best| {
            let info = KINDS.iter().find(|k| k.kind == best && k.group == group);
            match info {
                Some(_) => format!("did you mean {best}?"),
                None => {
                    let other = KINDS.iter().find(|k| k.kind == best);
                    match other {
                        Some(o) => format!(
                            "did you mean {best}? it is served as {}",
                            o.preferred_api_version()
                        ),
                        None => format!("did you mean {best}?"),
                    }
                }
            }
        });
        return Err(no_match("kind", fix));
    }
    // The kind exists, but not in this group/version.
    let in_group: Vec<&&KindInfo> = same_kind.iter().filter(|k| k.group == group).collect();
    let fix = match in_group.first() {
        Some(k) => format!("{kind} is served as {}", k.api_versions().join(", ")),
        None => {
            let all: Vec<String> = same_kind.iter().flat_map(|k| k.api_versions()).collect();
            format!("{kind} is served as {}", all.join(", "))
        }
    };
    Err(no_match("apiVersion", Some(fix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_kubectl() {
        let table = [
            ("po", "Pod", ""),
            ("pods", "Pod", ""),
            ("Pod", "Pod", ""),
            ("POD", "Pod", ""),
            ("deploy", "Deployment", "apps"),
            ("deployments.apps", "Deployment", "apps"),
            ("deployments.v1.apps", "Deployment", "apps"),
            ("svc", "Service", ""),
            ("ns", "Namespace", ""),
            ("cm", "ConfigMap", ""),
            ("sa", "ServiceAccount", ""),
            ("ep", "Endpoints", ""),
            ("rs", "ReplicaSet", "apps"),
            ("secret", "Secret", ""),
            ("gw", "Gateway", NETWORKING),
            ("gateway", "Gateway", NETWORKING),
            ("gateways", "Gateway", NETWORKING),
            ("vs", "VirtualService", NETWORKING),
            ("VirtualService", "VirtualService", NETWORKING),
            (
                "virtualservices.networking.istio.io",
                "VirtualService",
                NETWORKING,
            ),
            (
                "virtualservice.networking.istio.io",
                "VirtualService",
                NETWORKING,
            ),
            ("dr", "DestinationRule", NETWORKING),
            ("se", "ServiceEntry", NETWORKING),
            ("we", "WorkloadEntry", NETWORKING),
            ("wg", "WorkloadGroup", NETWORKING),
            ("ap", "AuthorizationPolicy", SECURITY),
            ("pa", "PeerAuthentication", SECURITY),
            ("ra", "RequestAuthentication", SECURITY),
            ("gtw", "Gateway", GATEWAY_API),
            ("gateways.gateway.networking.k8s.io", "Gateway", GATEWAY_API),
            ("gateway.gateway.networking.k8s.io", "Gateway", GATEWAY_API),
            ("gc", "GatewayClass", GATEWAY_API),
            ("httproutes", "HTTPRoute", GATEWAY_API),
            ("httproute", "HTTPRoute", GATEWAY_API),
            ("refgrant", "ReferenceGrant", GATEWAY_API),
            ("istiooperators.install.istio.io", "IstioOperator", INSTALL),
        ];
        for (name, kind, group) in table {
            let info = resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((info.kind, info.group), (kind, group), "{name}");
        }
    }

    #[test]
    fn unknown_names_suggest_close_ones() {
        let err = resolve("virtualservice2").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the server doesn't have a resource type \"virtualservice2\"; did you mean \"virtualservices\"?"
        );
        let err = resolve("gatway").unwrap_err();
        assert_eq!(
            err.suggestions,
            vec![
                "gateways.networking.istio.io".to_owned(),
                "gateways.gateway.networking.k8s.io".to_owned()
            ]
        );
        assert!(resolve("frobnicators").unwrap_err().suggestions.is_empty());
        assert!(resolve("pods.networking.istio.io").is_err());
    }

    #[test]
    fn looks_up_manifest_kinds_in_every_served_version() {
        for v in ["v1", "v1beta1", "v1alpha3"] {
            let info = lookup(&format!("networking.istio.io/{v}"), "VirtualService").unwrap();
            assert_eq!(info.plural, "virtualservices");
        }
        assert_eq!(
            lookup("gateway.networking.k8s.io/v1", "Gateway")
                .unwrap()
                .short_names,
            ["gtw"]
        );
        assert_eq!(
            lookup("networking.istio.io/v1", "Gateway")
                .unwrap()
                .short_names,
            ["gw"]
        );

        let err = lookup("networking.istio.io/v1alpha3", "VirtualSrvice").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no matches for kind \"VirtualSrvice\" in version \"networking.istio.io/v1alpha3\""
        );
        assert_eq!(err.wrong_field, "kind");
        assert_eq!(err.fix.as_deref(), Some("did you mean VirtualService?"));

        let err = lookup("v1", "Deployment").unwrap_err();
        assert_eq!(err.wrong_field, "apiVersion");
        assert_eq!(err.fix.as_deref(), Some("Deployment is served as apps/v1"));

        let err = lookup("networking.istio.io/v2", "DestinationRule").unwrap_err();
        assert_eq!(
            err.fix.as_deref(),
            Some(
                "DestinationRule is served as networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3"
            )
        );
    }

    #[test]
    fn names_are_unique_within_a_group() {
        for (i, a) in KINDS.iter().enumerate() {
            for b in &KINDS[i + 1..] {
                if a.group == b.group {
                    assert_ne!(a.kind, b.kind);
                    assert_ne!(a.plural, b.plural);
                }
                for s in a.short_names {
                    assert!(!b.short_names.contains(s), "short name {s} is taken twice");
                }
            }
        }
    }
}
