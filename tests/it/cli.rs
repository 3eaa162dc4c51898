//! The command line itself: `mesh quickstart` (chapter 3), completions, help.

use std::time::Duration;

use crate::util::{self, Mesh};

#[test]
fn quickstart_runs_httpbin_behind_the_proxy_and_says_what_to_curl() {
    let (hb, proxy, admin) = (util::free_port(), util::free_port(), util::free_port());
    let mut up = Mesh::spawn([
        "quickstart",
        "--httpbin-port",
        &hb.to_string(),
        "--proxy-port",
        &proxy.to_string(),
        "--admin-port",
        &admin.to_string(),
    ]);
    assert!(
        util::eventually(Duration::from_secs(20), || up
            .stdout()
            .contains("Ctrl-C stops")),
        "stdout: {} stderr: {}",
        up.stdout(),
        up.stderr()
    );
    let out = up.stdout();
    assert!(
        out.contains(&format!("curl 127.0.0.1:{proxy}/headers")),
        "{out}"
    );
    let r = util::get(util::addr(proxy), "/headers");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["headers"]["X-Envoy-Expected-Rq-Timeout-Ms"],
        "15000"
    );
    assert_eq!(util::get(util::addr(admin), "/ready").text(), "LIVE\n");
    // SIGTERM stops both cleanly.
    let _ = std::process::Command::new("kill")
        .arg(up.pid().to_string())
        .status();
    let status = up.wait_exit(Duration::from_secs(10)).expect("exits");
    assert!(status.success());
    assert!(up.stdout().contains("stopped"));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = util::mesh_output(["completion", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("envoy") && out.contains("httpbin"),
            "{shell}: {out}"
        );
    }
    let (code, _, err) = util::mesh_output(["completion", "tcsh"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid value"), "{err}");
}

#[test]
fn help_lists_the_commands() {
    let (code, out, _) = util::mesh_output(["--help"]);
    assert_eq!(code, 0);
    for cmd in [
        "up",
        "down",
        "list",
        "apply",
        "get",
        "proxy-status",
        "proxy-config",
        "quickstart",
        "envoy",
        "httpbin",
        "completion",
    ] {
        assert!(out.contains(cmd), "{out}");
    }
    let (code, out, _) = util::mesh_output(["envoy", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--config-path",
        "--config-yaml",
        "--log-level",
        "--component-log-level",
        "--service-node",
        "--service-cluster",
        "--base-id",
        "--resolve",
    ] {
        assert!(out.contains(flag), "{flag} missing from: {out}");
    }
}
