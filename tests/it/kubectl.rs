//! kubectl-like commands against a running sandbox (`mesh up` as a process): get's tables,
//! create, label, delete, logs, injection rules, kinds stored but not acted on.

use std::time::Duration;

use serde_json::Value;

use crate::util::*;

const CATALOG: &str = "scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml";
const WEBAPP: &str = "scenarios/istio-in-action/services/webapp/kubernetes/webapp.yaml";
const CERTS: &str = "scenarios/istio-in-action/ch4/certs";

fn header(out: &str) -> Vec<&str> {
    out.lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

#[test]
fn kubectl_commands_against_a_running_sandbox() {
    let sb = SandboxProcess::start(&[]);

    // get: kubectl's tables, short names, -A, -l, -o.
    let out = sb.ok(&["get", "pods", "-A"]);
    assert_eq!(
        header(&out),
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("istio-system")
            && l.contains("istio-ingressgateway-")
            && l.contains("1/1     Running   0")),
        "{out}"
    );
    let (code, out, err) = sb.run(&["get", "po", "-n", "istioinaction"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "", "No resources found in istioinaction namespace.\n")
    );
    let out = sb.ok(&["get", "ns", "istioinaction", "-o", "json"]);
    let ns: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["metadata"]["labels"]["istio-injection"], "enabled");
    let (code, _, err) = sb.run(&["get", "pods", "nope", "-n", "istio-system"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error from server (NotFound): pods \"nope\" not found\n"
    );
    let (code, _, err) = sb.run(&["get", "virtualservics"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("the server doesn't have a resource type \"virtualservics\"")
            && err.contains("virtualservices"),
        "{err}"
    );

    // create namespace, label it, apply into it (from stdin), injection follows the label.
    assert_eq!(
        sb.ok(&["create", "namespace", "shop"]),
        "namespace/shop created\n"
    );
    let (code, _, err) = sb.run(&["create", "ns", "shop"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error from server (AlreadyExists): namespaces \"shop\" already exists\n"
    );
    assert_eq!(
        sb.ok(&["label", "ns", "shop", "istio-injection=enabled"]),
        "namespace/shop labeled\n"
    );
    let (code, _, err) = sb.run(&["label", "namespace/shop", "istio-injection=disabled"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("'istio-injection' already has a value (enabled), and --overwrite is false"),
        "{err}"
    );
    let catalog = std::fs::read_to_string(repo_root().join(CATALOG)).unwrap();
    let (code, out, err) = sb.run_stdin(&["apply", "-n", "shop", "-f", "-"], &catalog);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "serviceaccount/catalog created\nservice/catalog created\ndeployment.apps/catalog created\n"
    );
    let pods: Value =
        serde_json::from_str(&sb.ok(&["get", "pods", "-n", "shop", "-o", "json"])).unwrap();
    let containers: Vec<&str> = pods["items"][0]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(containers, ["catalog", "istio-proxy"]);
    assert_eq!(
        pods["items"][0]["spec"]["initContainers"][0]["name"],
        "istio-init"
    );
    assert_eq!(
        pods["items"][0]["metadata"]["labels"]["security.istio.io/tlsMode"],
        "istio"
    );
    // The pod's annotation wins over the namespace label.
    let webapp = std::fs::read_to_string(repo_root().join(WEBAPP)).unwrap().replace(
        "    metadata:\n      labels:\n        app: webapp\n",
        "    metadata:\n      annotations:\n        sidecar.istio.io/inject: \"false\"\n      labels:\n        app: webapp\n",
    );
    sb.run_stdin(&["apply", "-n", "shop", "-f", "-"], &webapp);
    let out = sb.ok(&["get", "pods", "-n", "shop", "-l", "app=webapp"]);
    assert!(
        out.lines().nth(1).is_some_and(|l| l.contains(" 1/1 ")),
        "{out}"
    );
    let out = sb.ok(&["get", "deploy,svc", "-n", "shop"]);
    assert!(
        out.contains("deployment.apps/catalog   1/1") && out.contains("service/webapp "),
        "{out}"
    );

    // logs: the app's own lines, the sidecar's, and -c errors in kubectl's words.
    let ok = eventually(Duration::from_secs(10), || {
        !sb.ok(&["logs", "deploy/catalog", "-n", "shop"]).is_empty()
    });
    assert!(ok, "catalog logged nothing");
    let (code, _, err) = sb.run(&["logs", "deploy/catalog", "-n", "shop", "-c", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("container nope is not valid for pod catalog-"),
        "{err}"
    );

    // Secrets from files and literals.
    let key = format!("{CERTS}/3_application/private/webapp.istioinaction.io.key.pem");
    let cert = format!("{CERTS}/3_application/certs/webapp.istioinaction.io.cert.pem");
    assert_eq!(
        sb.ok(&[
            "create",
            "secret",
            "tls",
            "webapp-credential",
            "--key",
            &key,
            "--cert",
            &cert,
            "-n",
            "istio-system"
        ]),
        "secret/webapp-credential created\n"
    );
    let ca = format!("{CERTS}/2_intermediate/certs/ca-chain.cert.pem");
    let from_file = format!("--from-file=ca.crt={ca}");
    assert_eq!(
        sb.ok(&[
            "create",
            "secret",
            "generic",
            "webapp-credential-mtls",
            &from_file,
            "--from-literal=mode=x",
            "-n",
            "istio-system"
        ]),
        "secret/webapp-credential-mtls created\n"
    );
    let out = sb.ok(&["get", "secret", "-n", "istio-system"]);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..3]
                == ["webapp-credential", "kubernetes.io/tls", "2"]),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..3]
                == ["webapp-credential-mtls", "Opaque", "2"]),
        "{out}"
    );
    let secret: Value = serde_json::from_str(&sb.ok(&[
        "get",
        "secret",
        "webapp-credential",
        "-n",
        "istio-system",
        "-o",
        "json",
    ]))
    .unwrap();
    let crt = mesh::api::base64::decode(secret["data"]["tls.crt"].as_str().unwrap()).unwrap();
    assert_eq!(crt, std::fs::read(repo_root().join(&cert)).unwrap());

    // Kinds mesh stores without acting on them say so.
    let policy = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: deny-all\n  namespace: istio-system\nspec: {}\n";
    let (code, out, err) = sb.run_stdin(&["apply", "-f", "-"], policy);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "authorizationpolicy.security.istio.io/deny-all created\n"
    );
    assert!(
        err.contains("Warning: authorizationpolicy.security.istio.io/deny-all is stored, but mesh does not act on AuthorizationPolicy yet"),
        "{err}"
    );
    assert!(
        sb.ok(&["get", "ap", "-n", "istio-system"])
            .contains("deny-all")
    );

    // delete by file and by name; a namespace takes its objects along.
    let out = sb.ok(&["delete", "-f", WEBAPP, "-n", "shop"]);
    assert_eq!(
        out,
        "serviceaccount \"webapp\" deleted\nservice \"webapp\" deleted\ndeployment.apps \"webapp\" deleted\n"
    );
    let (code, _, err) = sb.run(&["delete", "deploy", "webapp", "-n", "shop"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error from server (NotFound): deployments.apps \"webapp\" not found\n"
    );
    assert_eq!(
        sb.ok(&["delete", "ns", "shop"]),
        "namespace \"shop\" deleted\n"
    );
    let (_, out, err) = sb.run(&["get", "all", "-n", "shop"]);
    assert_eq!(out, "");
    assert!(err.starts_with("No resources found"), "{err}");
    // `mesh list` shows the running sandbox.
    let out = sb.ok(&["list"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&sb.name) && l.contains("Running")),
        "{out}"
    );
}
