//! Decoding tests: the book's own manifests, a table of bad inputs with their exact
//! diagnostics, and round trips through the stored JSON form.

use std::path::{Path, PathBuf};

use super::*;

/// `../shared/reference/istio-in-action` beside the repository, when it is there.
fn book_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/istio-in-action");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} is missing", dir.display());
        None
    }
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn book_files() -> Vec<PathBuf> {
    let Some(book) = book_dir() else {
        return Vec::new();
    };
    let mut files = yaml_files(&book.join("ch4"));
    files.extend(yaml_files(&book.join("ch4/sni")));
    for service in ["catalog", "webapp"] {
        files.extend(yaml_files(
            &book.join("services").join(service).join("kubernetes"),
        ));
    }
    files
}

#[test]
fn the_books_manifests_decode_cleanly() {
    let files = book_files();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        match decode(&file.display().to_string(), &text) {
            Ok(decoded) => {
                assert!(!decoded.is_empty(), "{}: no objects", file.display());
                count += decoded.len();
            }
            Err(diags) => failures.extend(diags.iter().map(ToString::to_string)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if !files.is_empty() {
        assert!(count >= 40, "only {count} objects in {} files", files.len());
    }
}

/// Decodes `text` as `f.yaml` and returns every diagnostic as printed.
fn problems(text: &str) -> Vec<String> {
    match decode("f.yaml", text) {
        Ok(decoded) => panic!("expected problems, decoded {} objects", decoded.len()),
        Err(diags) => diags.iter().map(ToString::to_string).collect(),
    }
}

const DEPLOYMENT_TYPO: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: catalog
spec:
  selector:
    matchLabels: {app: catalog}
  template:
    metadata:
      labels: {app: catalog}
    spec:
      containers:
      - name: catalog
        image: istioinaction/catalog:latest
        imagePullPolcy: IfNotPresent
";

const GATEWAY_SIMPLEX: &str = "\
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: coolstore-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    tls:
      mode: SIMPLEX
      credentialName: webapp-credential
    hosts:
    - \"webapp.istioinaction.io\"
";

const VS_FIFTY: &str = "\
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: catalog
spec:
  hosts: [catalog]
  http:
  - route:
    - destination:
        host: catalog
        subset: v1
      weight: fifty
";

#[test]
fn bad_inputs_get_located_kubectl_style_diagnostics() {
    let table: &[(&str, &str, &[&str])] = &[
        (
            "typo'd field",
            DEPLOYMENT_TYPO,
            &[
                "f.yaml:15:9: Deployment/catalog: spec.template.spec.containers[0].imagePullPolcy: strict decoding error: unknown field \"spec.template.spec.containers[0].imagePullPolcy\" (did you mean \"imagePullPolicy\"?)",
            ],
        ),
        (
            "enum",
            GATEWAY_SIMPLEX,
            &[
                "f.yaml:14:13: Gateway/coolstore-gateway: spec.servers[0].tls.mode: Unsupported value: \"SIMPLEX\": supported values: \"PASSTHROUGH\", \"SIMPLE\", \"MUTUAL\", \"AUTO_PASSTHROUGH\", \"ISTIO_MUTUAL\", \"OPTIONAL_MUTUAL\" (did you mean \"SIMPLE\"?)",
            ],
        ),
        (
            "wrong type",
            VS_FIFTY,
            &[
                "f.yaml:12:15: VirtualService/catalog: spec.http[0].route[0].weight: must be of type integer, got string \"fifty\"",
            ],
        ),
        (
            "unknown kind",
            "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualSrvice\nmetadata:\n  name: x\nspec: {}\n",
            &[
                "f.yaml:2:7: VirtualSrvice/x: kind: no matches for kind \"VirtualSrvice\" in version \"networking.istio.io/v1alpha3\" (did you mean VirtualService?)",
            ],
        ),
        (
            "kind in another group",
            "apiVersion: v1\nkind: Deployment\nmetadata: {name: x}\n",
            &[
                "f.yaml:1:13: Deployment/x: apiVersion: no matches for kind \"Deployment\" in version \"v1\" (Deployment is served as apps/v1)",
            ],
        ),
        (
            "version not served",
            "apiVersion: networking.istio.io/v1alpha1\nkind: Gateway\nmetadata: {name: x}\n",
            &[
                "f.yaml:1:13: Gateway/x: apiVersion: no matches for kind \"Gateway\" in version \"networking.istio.io/v1alpha1\" (Gateway is served as networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3)",
            ],
        ),
        (
            "second document bad",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ok\n---\n# second\napiVersion: v1\nkind: Service\nmetadata:\n  name: catalog\nspec:\n  ports:\n  - port: 80\n    targetPrt: 3000\n",
            &[
                "f.yaml:14:5: Service/catalog: spec.ports[0].targetPrt: strict decoding error: unknown field \"spec.ports[0].targetPrt\" (did you mean \"targetPort\"?)",
            ],
        ),
        (
            "YAML syntax error, later documents still checked",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: [catalog\nspec: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {n: 1}\n",
            &[
                "f.yaml:5:5: illegal placement of ':' indicator (check the YAML syntax: indentation, quoting, `key: value` pairs)",
                "f.yaml:10:11: ConfigMap/ok: data.n: must be of type string, got integer 1",
            ],
        ),
        (
            "tabs",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n",
            &[
                "f.yaml:4:2: tabs disallowed within this context (block indentation) (check the YAML syntax: indentation, quoting, `key: value` pairs)",
            ],
        ),
        (
            "missing name",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n",
            &[
                "f.yaml:4:3: ConfigMap: metadata.name: resource name may not be empty (add `metadata: {name: …}`)",
            ],
        ),
        (
            "missing apiVersion and kind",
            "metadata:\n  name: x\n",
            &[
                "f.yaml:1:1: x: apiVersion: apiVersion not set (add the object's API version, e.g. `apiVersion: apps/v1`)",
                "f.yaml:1:1: x: kind: kind not set (add the object's kind, e.g. `kind: Deployment`)",
            ],
        ),
        (
            "invalid name",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: Catalog_Svc\n",
            &[
                "f.yaml:4:9: Service/Catalog_Svc: metadata.name: Invalid value: \"Catalog_Svc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?') (try \"catalog-svc\")",
            ],
        ),
        (
            "duplicate key",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n  a: c\n",
            &[
                "f.yaml:7:3: ConfigMap/x: mapping key \"a\" already defined at line 6 (remove one of the two)",
            ],
        ),
        (
            "not a mapping",
            "just a string\n",
            &[
                "f.yaml:1:1: expected an object with apiVersion and kind, got string \"just a string\" (a manifest document is a YAML mapping: `apiVersion: v1`, `kind: …`, `metadata: …`)",
            ],
        ),
        (
            "exactly one of",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [a]\n  http:\n  - match:\n    - uri: {exact: /a, prefix: /}\n    route:\n    - destination: {host: a}\n",
            &[
                "f.yaml:8:12: VirtualService/x: spec.http[0].match[0].uri: Invalid value: only one of `exact`, `prefix`, `regex` may be set, found `exact` and `prefix`",
            ],
        ),
        (
            "required field and bad duration",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  http:\n  - timeout: 5\n    route:\n    - weight: 100\n",
            &[
                "f.yaml:6:14: VirtualService/x: spec.http[0].timeout: must be of type string, got integer 5",
                "f.yaml:8:7: VirtualService/x: spec.http[0].route[0].destination: Required value (add `destination`)",
            ],
        ),
        (
            "free-form spec, strict metadata and top level",
            "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: x, labls: {}}\nspec: {anything: [1, 2]}\nspecs: {}\n",
            &[
                "f.yaml:3:21: IstioOperator/x: metadata.labls: strict decoding error: unknown field \"metadata.labls\" (did you mean \"labels\"?)",
                "f.yaml:5:1: IstioOperator/x: specs: strict decoding error: unknown field \"specs\" (did you mean \"spec\"?)",
            ],
        ),
        (
            "bad item of a List",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n  data: {x: 1}\n",
            &["f.yaml:10:13: ConfigMap/b: data.x: must be of type string, got integer 1"],
        ),
        (
            "label values",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  labels: {app: catalog, version: v1 beta}\nspec:\n  selector: {matchLabels: {app: catalog}}\n  template:\n    metadata:\n      labels: {app/: catalog}\n    spec: {containers: [{name: c}]}\n",
            &[
                "f.yaml:5:35: Deployment/d: metadata.labels.version: Invalid value: \"v1 beta\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "f.yaml:10:16: Deployment/d: spec.template.metadata.labels: Invalid value: \"app/\": name part must be non-empty",
            ],
        ),
        (
            "metadata of the wrong type",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: catalog\n",
            &["f.yaml:3:11: ConfigMap: metadata: must be of type object, got string \"catalog\""],
        ),
        (
            "Gateway API listeners are a map keyed by name",
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n  - {name: http, port: 8080, protocol: HTTP}\n",
            &["f.yaml:8:5: Gateway/gw: spec.listeners[1]: Duplicate value: {\"name\":\"http\"}"],
        ),
        (
            "bad base64 in a Secret",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: not-base64!\n",
            &[
                "f.yaml:6:12: Secret/s: data.tls.crt: Invalid value: \"not-base64!\": illegal base64 data at input byte 3",
            ],
        ),
    ];
    for (what, text, want) in table {
        assert_eq!(problems(text), *want, "{what}");
    }
}

#[test]
fn every_bad_document_is_reported() {
    let text = format!("{GATEWAY_SIMPLEX}---\n{VS_FIFTY}---\n{DEPLOYMENT_TYPO}");
    let found = problems(&text);
    let lines: Vec<&str> = found
        .iter()
        .map(|d| d.split(": ").next().unwrap_or_default())
        .collect();
    // 17 lines of Gateway, a `---`, 12 of VirtualService, a `---`, then the Deployment.
    assert_eq!(lines, vec!["f.yaml:14:13", "f.yaml:30:15", "f.yaml:46:9"]);
}

#[test]
fn documents_split_like_kubectl() {
    let text = "# leading comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n# only a comment\n---   \napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n...\n--- {apiVersion: v1, kind: Namespace, metadata: {name: c}}\n";
    let decoded = decode("-", text).unwrap();
    let names: Vec<(&str, usize)> = decoded
        .iter()
        .map(|d| (d.resource.name(), d.line))
        .collect();
    assert_eq!(names, vec![("a", 3), ("b", 10), ("c", 14)]);
    assert!(decode("-", "").unwrap().is_empty());
    assert!(decode("-", "---\n# nothing\n---\n").unwrap().is_empty());
}

#[test]
fn lists_and_json_decode() {
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n";
    let decoded = decode("f.yaml", list).unwrap();
    assert_eq!(decoded.len(), 2);
    assert_eq!(decoded[1].line, 7);
    let json = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "targetPort": "http"}]}}"#;
    let Resource::Service(svc) = &decode("f.json", json).unwrap()[0].resource else {
        panic!("not a Service")
    };
    assert_eq!(
        svc.spec.ports[0].target(),
        k8s::IntOrString::String("http".into())
    );
}

#[test]
fn typed_kinds_expose_their_fields() {
    let Some(book) = book_dir() else { return };
    let read = |p: &str| std::fs::read_to_string(book.join(p)).unwrap();

    let decoded = decode(
        "catalog.yaml",
        &read("services/catalog/kubernetes/catalog.yaml"),
    )
    .unwrap();
    let kinds: Vec<&str> = decoded.iter().map(|d| d.resource.kind()).collect();
    assert_eq!(kinds, ["ServiceAccount", "Service", "Deployment"]);
    assert_eq!(
        decoded.iter().map(|d| d.line).collect::<Vec<_>>(),
        [1, 6, 21]
    );
    let Resource::Deployment(deploy) = &decoded[2].resource else {
        panic!()
    };
    let pod = &deploy.spec.template.spec;
    assert_eq!(pod.service_account(), "catalog");
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("istioinaction/catalog:latest"));
    assert_eq!(c.ports[0].container_port, 3000);
    let field = c.env[0]
        .value_from
        .as_ref()
        .unwrap()
        .field_ref
        .as_ref()
        .unwrap();
    assert_eq!(field.field_path, "metadata.namespace");
    assert_eq!(c.rest["imagePullPolicy"], "IfNotPresent");
    assert!(
        deploy
            .spec
            .selector
            .matches(&deploy.spec.template.metadata.labels)
    );

    let gw = decode("gw.yaml", &read("ch4/coolstore-gw-tls-redirect.yaml")).unwrap();
    let Resource::Gateway(gw) = &gw[0].resource else {
        panic!()
    };
    assert_eq!(gw.spec.selector["istio"], "ingressgateway");
    let http = &gw.spec.servers[0];
    assert!(http.tls.as_ref().unwrap().https_redirect);
    let https = gw.spec.servers[1].tls.as_ref().unwrap();
    assert_eq!(https.mode, Some(istio::ServerTlsMode::Simple));
    assert_eq!(https.credential_name.as_deref(), Some("webapp-credential"));

    let vs = decode("vs.yaml", &read("ch4/sni/passthrough-sni-vs-1.yaml")).unwrap();
    let Resource::VirtualService(vs) = &vs[0].resource else {
        panic!()
    };
    assert_eq!(
        vs.spec.tls[0].match_[0].sni_hosts,
        ["simple-sni-1.istioinaction.io"]
    );
    assert_eq!(vs.spec.tls[0].route[0].destination.port_number(), Some(80));

    let secret = decode("s.yaml", &read("ch4/sni/simple-tls-service-1.yaml")).unwrap();
    let Resource::Secret(secret) = &secret[2].resource else {
        panic!()
    };
    assert!(
        secret
            .get_text("tls.crt")
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
}

fn round_trip(r: &Resource) {
    let value = r.to_value();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(&keys[..3], ["apiVersion", "kind", "metadata"], "{value}");
    let back = Resource::from_value(value.clone()).unwrap_or_else(|d| panic!("{d}\n{value:#}"));
    assert_eq!(&back, r);
    assert_eq!(back.to_value(), value);
}

const MORE_KINDS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: istioinaction, labels: {istio-injection: enabled}}
status: {phase: Active}
---
apiVersion: v1
kind: Pod
metadata:
  name: catalog-6cf4b97d-abcde
  namespace: istioinaction
  uid: 0f0e6a86-1c63-4d8c-9a64-5a1a2b3c4d5e
  resourceVersion: "12"
  generation: 1
  creationTimestamp: "2024-05-01T10:00:00Z"
  labels: {app: catalog, version: v1}
  annotations: {sidecar.istio.io/status: "{}"}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: catalog-6cf4b97d, uid: abc, controller: true}
spec:
  nodeName: mesh
  serviceAccountName: catalog
  containers:
  - name: catalog
    image: istioinaction/catalog:latest
    args: ["--port", "3000"]
    ports: [{containerPort: 3000, name: http, protocol: TCP}]
    env:
    - {name: A, value: "1"}
    - name: S
      valueFrom: {secretKeyRef: {name: s, key: k}}
    - name: C
      valueFrom: {configMapKeyRef: {name: c, key: k, optional: true}}
    volumeMounts: [{name: certs, mountPath: /etc/certs, readOnly: true}]
    readinessProbe: {httpGet: {path: /ready, port: 3000}}
  volumes:
  - {name: certs, secret: {secretName: s}}
  - {name: cfg, configMap: {name: c}}
  - {name: tmp, emptyDir: {}}
status:
  phase: Running
  podIP: 127.10.0.15
  podIPs: [{ip: 127.10.0.15}]
  hostIP: 127.0.0.1
  startTime: "2024-05-01T10:00:01Z"
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: catalog, ready: true, restartCount: 0, image: istioinaction/catalog:latest, imageID: "", started: true, state: {running: {startedAt: "2024-05-01T10:00:02Z"}}}
---
apiVersion: v1
kind: Endpoints
metadata: {name: catalog, namespace: istioinaction}
subsets:
- addresses: [{ip: 127.10.0.15, targetRef: {kind: Pod, name: catalog-6cf4b97d-abcde}}]
  notReadyAddresses: [{ip: 127.10.0.16}]
  ports: [{name: http, port: 3000, protocol: TCP}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {k: v}
binaryData: {b: AAE=}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
type: Opaque
data: {k: aGVsbG8=}
stringData: {t: text}
---
apiVersion: v1
kind: Service
metadata: {name: gw}
spec:
  type: NodePort
  clusterIP: 127.96.0.10
  clusterIPs: [127.96.0.10]
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080, nodePort: 30000, appProtocol: http}]
status: {loadBalancer: {}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: catalog-6cf4b97d}
spec:
  replicas: 2
  selector: {matchLabels: {app: catalog}, matchExpressions: [{key: version, operator: In, values: [v1]}]}
  template:
    metadata: {labels: {app: catalog, version: v1}}
    spec: {containers: [{name: catalog, image: istioinaction/catalog:latest}]}
status: {replicas: 2, readyReplicas: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalog, generation: 3}
spec:
  replicas: 2
  strategy: {type: RollingUpdate}
  selector: {matchLabels: {app: catalog}}
  template:
    metadata: {labels: {app: catalog}}
    spec: {containers: [{name: catalog, image: istioinaction/catalog:latest}]}
status:
  observedGeneration: 3
  replicas: 2
  readyReplicas: 2
  conditions: [{type: Available, status: "True", reason: MinimumReplicasAvailable}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog}
spec:
  host: catalog.istioinaction.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 1, connectTimeout: 30ms}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1, http2MaxRequests: 1}
    outlierDetection: {consecutive5xxErrors: 1, interval: 5s, baseEjectionTime: 5s, maxEjectionPercent: 100}
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings: [{port: {number: 80}, loadBalancer: {simple: LEAST_REQUEST}}]
  subsets:
  - {name: version-v1, labels: {version: v1}}
  - name: version-v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: jsonplaceholder}
spec:
  hosts: [jsonplaceholder.typicode.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  location: MESH_EXTERNAL
  endpoints: [{address: 127.0.0.1, ports: {http: 8080}, labels: {a: b}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: catalog}
spec:
  hosts: [catalog]
  gateways: [mesh, istioinaction/coolstore-gateway]
  http:
  - name: dark-launch
    match:
    - headers: {x-istio-cohort: {exact: internal}, x-present: {}}
      uri: {prefix: /items}
      queryParams: {debug: {regex: "[0-9]+"}}
      sourceLabels: {app: webapp}
      ignoreUriCase: true
    route:
    - destination: {host: catalog, subset: version-v2, port: {number: 80}}
      weight: 10
      headers: {request: {set: {x-a: "1"}, remove: [x-b]}}
    - destination: {host: catalog, subset: version-v1}
      weight: 90
    timeout: 0.5s
    retries: {attempts: 2, perTryTimeout: 300ms, retryOn: "5xx,connect-failure"}
    fault: {abort: {httpStatus: 500, percentage: {value: 50}}, delay: {fixedDelay: 1s, percentage: {value: 10.5}}}
    mirror: {host: catalog, subset: version-v2}
    mirrorPercentage: {value: 50}
    rewrite: {uri: /, authority: catalog}
    corsPolicy: {allowOrigins: [{exact: "https://example.com"}]}
  - redirect: {uri: /new, redirectCode: 301}
  tcp:
  - match: [{port: 31400}]
    route: [{destination: {host: tcp-echo}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-webapp, namespace: istioinaction}
spec:
  selector: {matchLabels: {app: catalog}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/istioinaction/sa/webapp"]}}]
    to: [{operation: {methods: [GET]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: catalog}
spec:
  parentRefs: [{name: gw}]
  hostnames: [catalog.istioinaction.io]
  rules:
  - matches: [{path: {type: PathPrefix, value: /items}}]
    backendRefs: [{name: catalog, port: 80}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:reader"}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
"#;

#[test]
fn every_kind_round_trips_through_its_stored_form() {
    let mut all: Vec<Resource> = decode("more.yaml", MORE_KINDS)
        .unwrap_or_else(|d| panic!("{}", Diagnostics(d)))
        .into_iter()
        .map(|d| d.resource)
        .collect();
    for file in book_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        all.extend(
            decode("book", &text)
                .unwrap()
                .into_iter()
                .map(|d| d.resource),
        );
    }
    let mut seen: Vec<String> = all.iter().map(|r| r.kind().to_owned()).collect();
    seen.sort();
    seen.dedup();
    for kind in [
        "Namespace",
        "Pod",
        "Service",
        "Endpoints",
        "ConfigMap",
        "Secret",
        "ReplicaSet",
        "Deployment",
        "DestinationRule",
        "ServiceEntry",
        "VirtualService",
        "AuthorizationPolicy",
        "HTTPRoute",
        "ClusterRole",
    ] {
        assert!(seen.iter().any(|k| k == kind), "no {kind} tested");
    }
    for r in &all {
        round_trip(r);
    }
}

#[test]
fn resources_know_their_kind_and_key() {
    let decoded = decode("more.yaml", MORE_KINDS).unwrap();
    let mut vs = decoded
        .into_iter()
        .map(|d| d.resource)
        .find(|r| r.kind() == "VirtualService")
        .unwrap();
    assert_eq!(vs.api_version(), "networking.istio.io/v1");
    assert_eq!(vs.info().unwrap().short_names, ["vs"]);
    vs.default_namespace("istioinaction");
    let key = vs.key();
    assert_eq!(key.namespace.as_deref(), Some("istioinaction"));
    assert_eq!(
        key.to_string(),
        "virtualservice.networking.istio.io/catalog"
    );
    vs.meta_mut().labels.insert("a".into(), "b".into());
    assert_eq!(vs.meta().label("a"), Some("b"));
    let Resource::VirtualService(vs) = vs else {
        panic!()
    };
    let route = &vs.spec.http[0];
    assert_eq!(
        parse_duration(route.timeout.as_deref().unwrap()),
        Ok(std::time::Duration::from_millis(500))
    );
    assert_eq!(
        route.match_[0].uri,
        Some(istio::StringMatch::Prefix("/items".into()))
    );
    assert_eq!(
        route.match_[0].headers["x-present"],
        istio::StringMatch::Present
    );
    assert_eq!(route.route[0].weight, Some(10));

    let mut ns = Resource::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}
    }))
    .unwrap();
    ns.default_namespace("ignored");
    assert_eq!(ns.namespace(), None);
    assert_eq!(ns.key().to_string(), "namespace/x");
}

#[test]
fn from_value_reports_the_first_problem() {
    let err = Resource::from_value(serde_json::json!({
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": "g"}, "spec": {"servers": [{"port": {"number": "x"}}]}
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "<stored object>: Gateway/g: spec.servers[0].hosts: Required value (add `hosts`)"
    );
}

#[test]
fn yaml_scalars_keep_kubernetes_types() {
    // Quoted numbers are strings, bare ones numbers: `value: 2701` in an env var is an error.
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {version: 1.0}\ndata: {port: \"80\", on: \"yes\"}\n";
    assert_eq!(
        problems(text),
        [
            "f.yaml:5:21: ConfigMap/c: metadata.labels.version: must be of type string, got number 1.0"
        ]
    );
}
