#!/usr/bin/env python3
"""Regenerates the compact schema files embedded by `src/api/schema/` (run from the repo root).

    python3 src/api/schemas/extract.py \
        --istio ../shared/reference/schemas/istio-crd-all.gen.yaml \
        --gateway-api ../shared/reference/schemas/gateway-api-crd.yaml \
        --k8s /path/to/kubernetes-json-schema/v1.33.0-local/_definitions.json

Sources:
- Istio and Gateway API: the CRDs in shared/reference/schemas (see its README): for every kind
  mesh knows, each served version's `schema.openAPIV3Schema`.
- Kubernetes: the OpenAPI definitions of Kubernetes v1.33, as JSON Schema, shipped in the PyPI
  package `kubernetes-validate` (1.37.0, Apache-2.0):
      pip download --no-deps kubernetes-validate==1.37.0 && unzip kubernetes_validate-*.whl
  then `kubernetes_validate/kubernetes-json-schema/v1.33.0-local/_definitions.json`. That file is
  the cluster's own OpenAPI v2 document converted to JSON Schema; we convert it back to the
  OpenAPI v3 subset our validator reads (`type: [string, null]` -> `type: string`, IntOrString -> `x-kubernetes-int-or-string`, `$ref` -> short names) and keep
  only the definitions reachable from the kinds mesh knows.

Both outputs drop descriptions, defaults, examples and patch hints; CEL rules
(`x-kubernetes-validations`) are dropped except the few whose rule text the Rust side implements
(KNOWN_RULES below, mirrored in src/api/schema/rules.rs).
"""
import argparse, json, pathlib, sys

import yaml  # PyYAML

HERE = pathlib.Path(__file__).resolve().parent

CRD_KINDS = {
    "networking.istio.io": ["Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "Sidecar",
                            "EnvoyFilter", "WorkloadEntry", "WorkloadGroup", "ProxyConfig"],
    "security.istio.io": ["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"],
    "telemetry.istio.io": ["Telemetry"],
    "extensions.istio.io": ["WasmPlugin"],
    "gateway.networking.k8s.io": ["GatewayClass", "Gateway", "HTTPRoute", "TLSRoute", "TCPRoute",
                                  "GRPCRoute", "ReferenceGrant"],
}

K8S_KINDS = {  # apiVersion/kind -> definition
    "v1/Namespace": "io.k8s.api.core.v1.Namespace",
    "v1/Pod": "io.k8s.api.core.v1.Pod",
    "v1/Service": "io.k8s.api.core.v1.Service",
    "v1/Endpoints": "io.k8s.api.core.v1.Endpoints",
    "v1/ServiceAccount": "io.k8s.api.core.v1.ServiceAccount",
    "v1/Secret": "io.k8s.api.core.v1.Secret",
    "v1/ConfigMap": "io.k8s.api.core.v1.ConfigMap",
    "apps/v1/Deployment": "io.k8s.api.apps.v1.Deployment",
    "apps/v1/ReplicaSet": "io.k8s.api.apps.v1.ReplicaSet",
    "rbac.authorization.k8s.io/v1/Role": "io.k8s.api.rbac.v1.Role",
    "rbac.authorization.k8s.io/v1/RoleBinding": "io.k8s.api.rbac.v1.RoleBinding",
    "rbac.authorization.k8s.io/v1/ClusterRole": "io.k8s.api.rbac.v1.ClusterRole",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "io.k8s.api.rbac.v1.ClusterRoleBinding",
}
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Values Kubernetes' Go validation accepts, which its OpenAPI document does not list as enums.
K8S_ENUMS = {
    ("io.k8s.api.core.v1.Container", "imagePullPolicy"): ["Always", "IfNotPresent", "Never"],
    ("io.k8s.api.core.v1.Container", "terminationMessagePolicy"): ["File", "FallbackToLogsOnError"],
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): ["TCP", "UDP", "SCTP"],
    ("io.k8s.api.core.v1.ServicePort", "protocol"): ["TCP", "UDP", "SCTP"],
    ("io.k8s.api.core.v1.EndpointPort", "protocol"): ["TCP", "UDP", "SCTP"],
    ("io.k8s.api.core.v1.ServiceSpec", "type"): ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
    ("io.k8s.api.core.v1.ServiceSpec", "sessionAffinity"): ["None", "ClientIP"],
    ("io.k8s.api.core.v1.ServiceSpec", "externalTrafficPolicy"): ["Cluster", "Local"],
    ("io.k8s.api.core.v1.ServiceSpec", "internalTrafficPolicy"): ["Cluster", "Local"],
    ("io.k8s.api.core.v1.PodSpec", "restartPolicy"): ["Always", "OnFailure", "Never"],
    ("io.k8s.api.core.v1.PodSpec", "dnsPolicy"): ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    ("io.k8s.api.apps.v1.DeploymentStrategy", "type"): ["Recreate", "RollingUpdate"],
}

# CEL rules whose meaning src/api/schema/rules.rs implements; every other rule is dropped.
KNOWN_RULES = {
    "duration(self) >= duration('1ms')",
    "0 < self && self <= 65535",
    "self != \"*\"",
    "(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1",
    "(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates) ? 1 : 0) <= 1",
    "(has(self.tlsCertificates) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1",
    "(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1",
}

DROP = {"description", "default", "example", "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key",
        "x-kubernetes-group-version-kind", "x-kubernetes-unions", "x-kubernetes-map-type",
        "x-kubernetes-embedded-resource", "$schema", "$id"}


def strip_crd(node):
    if isinstance(node, list):
        return [strip_crd(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in DROP:
            continue
        if key == "x-kubernetes-validations":
            kept = [{"rule": r["rule"], "message": r.get("message", "")} for r in value if r["rule"] in KNOWN_RULES]
            if kept:
                out[key] = kept
        elif key == "properties":
            out[key] = {name: strip_crd(sub) for name, sub in value.items()}
        else:
            out[key] = strip_crd(value)
    return out


def short(ref_name):
    for prefix in ("io.k8s.api.", "io.k8s.apimachinery.pkg.apis.", "io.k8s.apimachinery.pkg."):
        if ref_name.startswith(prefix):
            return ref_name[len(prefix):]
    return ref_name


def convert_k8s(node, defs, reached, owner=None):
    """JSON Schema (kubernetes-validate's form) back to the OpenAPI v3 subset."""
    if isinstance(node, list):
        return [convert_k8s(x, defs, reached) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = node["$ref"].split("/")[-1]
        reached.add(target)
        return {"$ref": short(target)}
    out = {}
    for key, value in node.items():
        if key in DROP or key.startswith("x-kubernetes-list") or key == "enum":
            continue
        if key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            # Go decodes JSON null into the zero value, so null is "not set" for built-in kinds;
            # the validator prunes nulls of non-nullable fields, as the API server does for CRDs.
            out["type"] = kinds[0] if len(kinds) == 1 else kinds
        elif key == "properties":
            props = {}
            for name, sub in value.items():
                conv = convert_k8s(sub, defs, reached)
                if owner and (owner, name) in K8S_ENUMS:
                    conv["enum"] = K8S_ENUMS[(owner, name)]
                props[name] = conv
            out[key] = props
        else:
            out[key] = convert_k8s(value, defs, reached)
    return out


def k8s_schemas(path):
    defs = json.loads(pathlib.Path(path).read_text())["$defs"]
    special = {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"x-kubernetes-int-or-string": True},
        "io.k8s.apimachinery.pkg.api.resource.Quantity": {"anyOf": [{"type": "string"}, {"type": "number"}]},
        "io.k8s.apimachinery.pkg.runtime.RawExtension": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    }
    todo = list(K8S_KINDS.values()) + [OBJECT_META]
    out, reached = {}, set()
    while todo:
        name = todo.pop()
        if short(name) in out:
            continue
        if name in special:
            out[short(name)] = special[name]
            continue
        before = set(reached)
        out[short(name)] = convert_k8s(defs[name], defs, reached, owner=name)
        todo.extend(reached - before)
    # The decoder checks apiVersion and kind itself; keep them plain strings.
    for name in K8S_KINDS.values():
        props = out[short(name)]["properties"]
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
    return {
        "kinds": {gvk: short(d) for gvk, d in sorted(K8S_KINDS.items())},
        "definitions": dict(sorted(out.items())),
    }


def crd_schemas(paths):
    kinds, schemas, index = {}, [], {}
    for path in paths:
        for doc in yaml.safe_load_all(pathlib.Path(path).read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            if kind not in CRD_KINDS.get(group, []):
                continue
            versions = {}
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = strip_crd(version["schema"]["openAPIV3Schema"])
                props = schema.setdefault("properties", {})
                props["apiVersion"] = {"type": "string"}
                props["kind"] = {"type": "string"}
                props["metadata"] = {"$ref": short(OBJECT_META)}
                text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
                if text not in index:
                    index[text] = len(schemas)
                    schemas.append(schema)
                versions[version["name"]] = index[text]
            kinds[f"{group}/{kind}"] = versions
    # IstioOperator (install.istio.io) has no CRD schema worth the name: its spec and status are
    # free-form, as the operator's own CRD declares them; only the object's shape is checked.
    free_form = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    operator = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"$ref": short(OBJECT_META)}, "spec": free_form, "status": free_form}}
    schemas.append(operator)
    kinds["install.istio.io/IstioOperator"] = {"v1alpha1": len(schemas) - 1}
    missing = [f"{g}/{k}" for g, ks in CRD_KINDS.items() for k in ks if f"{g}/{k}" not in kinds]
    if missing:
        sys.exit(f"CRDs not found: {missing}")
    return {"kinds": dict(sorted(kinds.items())), "schemas": schemas}


def write(name, data):
    path = HERE / name
    path.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{path}: {path.stat().st_size} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--istio", required=True)
    ap.add_argument("--gateway-api", required=True)
    ap.add_argument("--k8s", required=True, help="kubernetes-json-schema/v1.33.0-local/_definitions.json")
    args = ap.parse_args()
    write("crds.json", crd_schemas([args.istio, args.gateway_api]))
    write("k8s.json", k8s_schemas(args.k8s))


if __name__ == "__main__":
    main()
