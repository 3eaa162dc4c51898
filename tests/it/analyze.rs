//! `mesh analyze` (istioctl analyze's codes, levels, words and exit code 79) on files alone and
//! on a running sandbox, and istiod's webhook rules refusing a VirtualService at apply.

use crate::util::{SandboxProcess, TempDir, mesh_output};

const K8S: &str = "scenarios/istio-in-action/services/catalog/kubernetes";

const RULES: &str = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: catalog
spec:
  host: catalog
  subsets:
  - name: version-v1
    labels: {version: v1}
  - name: version-v2
    labels: {version: v2}
";

#[test]
fn files_alone_report_unknown_hosts_with_their_place() {
    let dir = TempDir::new("analyze");
    let vs = dir.write(
        "vs.yaml",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: catalog
spec:
  hosts: [catalog]
  http:
  - route:
    - destination:
        host: catalog2
",
    );
    let (code, out, err) = mesh_output([
        "analyze",
        "--use-kube=false",
        "-n",
        "istioinaction",
        vs.to_str().unwrap(),
    ]);
    assert_eq!(code, 79, "{out}\n{err}");
    let want = format!(
        "Error [IST0101] (VirtualService istioinaction/catalog {}:10:15) Referenced host not found: \"catalog2\"",
        vs.display()
    );
    assert!(out.lines().any(|l| l == want), "want {want}\n{out}");
    assert!(
        err.contains("Analyzers found issues when analyzing namespace: istioinaction."),
        "{err}"
    );

    // A document istiod's webhook refuses is reported as a schema error at its place.
    let bad = dir.write(
        "bad.yaml",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: split}
spec:
  hosts: [catalog]
  http:
  - route:
    - destination: {host: catalog, subset: a}
    - destination: {host: catalog, subset: b}
",
    );
    let (code, out, _) = mesh_output(["analyze", "--use-kube=false", bad.to_str().unwrap()]);
    assert_eq!(code, 79, "{out}");
    assert!(
        out.contains(&format!(
            "Error [IST0106] (VirtualService default/split {}:7:5) Schema validation error: total destination weight = 0",
            bad.display()
        )),
        "{out}"
    );
}

#[test]
fn the_sandbox_is_analyzed_with_the_files_applied_over_it() {
    let sb = SandboxProcess::start(&[]);
    let (code, out, err) = sb.run(&[
        "apply",
        "-f",
        &format!("{K8S}/catalog.yaml"),
        "-n",
        "istioinaction",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let dir = TempDir::new("analyze");
    let dr = dir.write("dr.yaml", RULES);

    // Only catalog v1 runs: the v2 subset selects no pod (from the file, with its place).
    let (code, out, err) = sb.run(&["analyze", "-n", "istioinaction", dr.to_str().unwrap()]);
    assert_eq!(code, 79, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "Error [IST0173] (DestinationRule istioinaction/catalog {}:10:11) The Subset version-v2 defined in the DestinationRule does not select any pods.",
            dr.display()
        )),
        "{out}"
    );
    assert!(!out.contains("version-v1"), "{out}");

    // Applied, then v2 deployed: the namespace is clean (the JSON form is empty too).
    let (code, out, err) = sb.run(&["apply", "-f", dr.to_str().unwrap(), "-n", "istioinaction"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = sb.run(&["analyze", "-n", "istioinaction", "-o", "json"]);
    assert_eq!(code, 79, "{out}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["code"], "IST0173", "{out}");
    assert_eq!(
        list[0]["origin"], "DestinationRule istioinaction/catalog",
        "{out}"
    );
    let (code, out, err) = sb.run(&[
        "apply",
        "-f",
        &format!("{K8S}/catalog-deployment-v2.yaml"),
        "-n",
        "istioinaction",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = sb.run(&["analyze", "-n", "istioinaction"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains(
            "\u{2714} No validation issues found when analyzing namespace: istioinaction."
        ),
        "{out}\n{err}"
    );

    // A namespace without injection is an Info: shown, but not a failure.
    let (code, out, _) = sb.run(&["analyze", "-n", "default"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(
            "Info [IST0102] (Namespace default) The namespace is not enabled for Istio injection."
        ),
        "{out}"
    );

    // istiod's webhook refuses two unweighted destinations; nothing is applied.
    let bad = dir.write(
        "split.yaml",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: split}
spec:
  hosts: [catalog]
  http:
  - route:
    - destination: {host: catalog, subset: version-v1}
    - destination: {host: catalog, subset: version-v2}
",
    );
    let (code, out, err) = sb.run(&["apply", "-f", bad.to_str().unwrap(), "-n", "istioinaction"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains(&format!(
            "{}:7:5: VirtualService/split: spec.http[0].route: admission webhook \"validation.istio.io\" denied the request: configuration is invalid: total destination weight = 0",
            bad.display()
        )),
        "{err}"
    );
    let (_, out, err) = sb.run(&["get", "vs", "-n", "istioinaction"]);
    assert!(!out.contains("split"), "{out}{err}");
}
