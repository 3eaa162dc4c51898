//! `mesh tui` end to end: the real binary in a tmux pane (80×24) against a real sandbox
//! (`mesh up` as a process), driven with `send-keys` and read with `capture-pane`. Skips with a
//! notice when tmux is missing (unless MESH_REQUIRE_TOOLS=1).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::util::*;

const GW: &str = "scenarios/istio-in-action/ch4/coolstore-gw.yaml";
const VS: &str = "scenarios/istio-in-action/ch4/coolstore-vs.yaml";
const CATALOG: &str = "scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml";
const WEBAPP: &str = "scenarios/istio-in-action/services/webapp/kubernetes/webapp.yaml";

/// A tmux server of our own (its socket in a temporary directory), killed on drop.
struct Tmux {
    tmux: PathBuf,
    socket: PathBuf,
    _dir: TempDir,
}

impl Tmux {
    fn start(tmux: PathBuf, command: &str) -> Tmux {
        let dir = TempDir::new("tmux");
        let t = Tmux {
            tmux,
            socket: dir.path().join("tmux.sock"),
            _dir: dir,
        };
        let ok = t
            .cmd(&[
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "tui",
                "-x",
                "80",
                "-y",
                "24",
                command,
            ])
            .status()
            .expect("run tmux")
            .success();
        assert!(ok, "tmux new-session failed");
        // Let the application's OSC 52 set tmux's buffer (what `c` copies).
        let _ = t.cmd(&["set-option", "-g", "set-clipboard", "on"]).status();
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.tmux);
        c.arg("-S").arg(&self.socket).args(args);
        c
    }

    /// Sends keys one at a time (tmux key names: `Enter`, `Escape`, `Down`, or text), with a
    /// pause so an Escape is not read as Alt with the next key.
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let _ = self.cmd(&["send-keys", "-t", "tui", k]).status();
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// tmux's newest paste buffer (what an application copied with OSC 52).
    fn buffer(&self) -> String {
        let out = self.cmd(&["show-buffer"]).output().expect("show-buffer");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "tui"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen passes `check`; panics with the screen otherwise.
    fn wait(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let ok = eventually(Duration::from_secs(20), || {
            last = self.screen();
            check(&last)
        });
        assert!(ok, "waiting for {what}; the screen:\n{last}");
        last
    }

    fn wait_for(&self, needle: &str) -> String {
        self.wait(needle, |s| s.contains(needle))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn tui_under_tmux_against_a_running_sandbox() {
    let Some(tmux) = tool("tmux") else { return };
    let mut sb = SandboxProcess::start(&[]);
    sb.ok(&["apply", "-f", GW, "-f", VS, "-n", "istioinaction"]);
    sb.ok(&["apply", "-f", CATALOG, "-f", WEBAPP, "-n", "istioinaction"]);
    sb.synced();

    // $EDITOR: a script whose edit the test chooses by writing `mode` (bad: an unknown field;
    // good: a second host).
    let dir = TempDir::new("tui-editor");
    let mode = dir.write("mode", "bad");
    let editor = dir.write(
        "editor.sh",
        &format!(
            "#!/bin/sh\nif [ \"$(cat {m})\" = bad ]; then sed -i 's/^spec:$/spec:\\n  bogus: 1/' \"$1\"; \
             else sed -i 's/^  - webapp.istioinaction.io$/  - webapp.istioinaction.io\\n  - shop.istioinaction.io/' \"$1\"; fi\n",
            m = shell_quote(&mode.display().to_string())
        ),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let command = format!(
        "env MESH_HOME={} EDITOR={} {} tui --name {}; echo TUI-EXIT=$?; sleep 600",
        shell_quote(&sb.home.path().display().to_string()),
        shell_quote(&editor.display().to_string()),
        shell_quote(&mesh_bin().display().to_string()),
        sb.name
    );
    let t = Tmux::start(tmux, &command);

    // Workloads: pods with their sidecar and sync state.
    t.wait("the pods with sidecars, synced", |s| {
        s.contains(" 1 Workloads ")
            && s.lines()
                .any(|l| l.contains("catalog-") && l.contains("yes") && l.contains("SYNCED"))
            && s.contains("webapp-")
    });

    // The watch stream refreshes the screen with no key pressed.
    sb.ok(&[
        "scale",
        "deploy/catalog",
        "--replicas",
        "2",
        "-n",
        "istioinaction",
    ]);
    t.wait("two catalog pods", |s| s.matches("catalog-").count() == 2);

    // Proxies, then the gateway's config: listeners, routes, one route's JSON.
    t.keys(&["2"]);
    t.wait_for("ECDS");
    t.keys(&["/", "ingress", "Enter", "Enter"]);
    t.wait("the gateway's listeners", |s| {
        s.contains(" listeners ") && s.contains("8080")
    });
    t.keys(&[":", "routes", "Enter"]);
    t.wait_for("http.8080");
    t.keys(&["/", "http.8080", "Enter", "Enter"]);
    t.wait("the route's JSON", |s| {
        s.contains("(JSON)") && s.contains("\"name\": \"http.8080\"")
    });
    // `c` copies (OSC 52, which tmux keeps as a buffer) the command that prints the same.
    t.keys(&["c"]);
    t.wait_for("copied: mesh proxy-config routes");
    let copied = t.buffer();
    let args: Vec<&str> = copied.split_whitespace().collect();
    assert_eq!(args[..3], ["mesh", "proxy-config", "routes"], "{copied}");
    let json = sb.ok(&args[1..]);
    assert!(json.contains("\"name\": \"http.8080\""), "{copied}: {json}");
    t.keys(&["Escape"]);

    // `l`: the gateway's log level, through its admin API.
    t.keys(&["l", "debug", "Enter"]);
    t.wait_for("log level debug");
    let levels = sb.ok(&[
        "proxy-config",
        "log",
        "deploy/istio-ingressgateway",
        "-n",
        "istio-system",
    ]);
    assert!(
        levels.contains("  admin: debug") && !levels.contains(": warning"),
        "{levels}"
    );

    // Resources: the VirtualService, a bad edit (file:line:column, nothing applied), a good one.
    t.keys(&["4", ":", "vs", "Enter"]);
    t.wait_for("webapp-vs-from-gw");
    t.keys(&["e"]);
    // file:line:column of the bad line, the object and the reason.
    t.wait("the apply error", |s| {
        s.contains("Error (any key)")
            && s.lines()
                .any(|l| l.contains("mesh-edit-") && l.contains(".yaml:11:3"))
            && s.contains("unknown field \"spec.bogus\"")
    });
    let vs = sb.ok(&[
        "get",
        "vs",
        "webapp-vs-from-gw",
        "-n",
        "istioinaction",
        "-o",
        "yaml",
    ]);
    assert!(
        !vs.contains("shop.istioinaction.io") && !vs.contains("bogus"),
        "{vs}"
    );
    std::fs::write(&mode, "good").unwrap();
    t.keys(&["x", "e"]);
    t.wait_for("configured");
    let ok = eventually(Duration::from_secs(5), || {
        sb.ok(&[
            "get",
            "vs",
            "webapp-vs-from-gw",
            "-n",
            "istioinaction",
            "-o",
            "yaml",
        ])
        .contains("shop.istioinaction.io")
    });
    assert!(ok, "the edit was applied");

    // `s`: scale a deployment back to one replica.
    t.keys(&[
        ":", "deploy", "Enter", "/", "catalog", "Enter", "s", "1", "Enter",
    ]);
    t.wait_for("deployment.apps/catalog scaled");
    t.keys(&["1"]);
    t.wait("one catalog pod", |s| s.matches("catalog-").count() == 1);

    // Traffic: rates, sparklines and the service graph while requests flow.
    t.keys(&["5"]);
    let gw = sb.node_port(30000);
    let s = t.wait("the service graph", |s| {
        for _ in 0..5 {
            let _ = request(
                gw,
                "GET",
                "/api/catalog",
                &[("Host", "webapp.istioinaction.io")],
                b"",
            );
        }
        s.contains("istio-ingressgateway ─") && s.contains("▶ webapp ─") && s.contains("▶ catalog")
    });
    assert!(s.contains("RPS") && s.contains("P99"), "{s}");

    // Logs of webapp, following, with a filter.
    t.keys(&["1", "/", "webapp", "Enter", "Enter"]);
    t.wait_for("[webapp] following");
    t.keys(&["/", "api/catalog", "Enter"]);
    t.wait("filtered log lines", |s| {
        let _ = request(
            gw,
            "GET",
            "/api/catalog",
            &[("Host", "webapp.istioinaction.io")],
            b"",
        );
        // Lines wrap at 80 columns: as many requests for it as log lines on screen.
        let starts = s.lines().filter(|l| l.starts_with("│20")).count();
        starts > 0 && s.matches("/api/catalog").count() >= starts
    });

    // Delete, confirmed, through the API.
    t.keys(&["4", ":", "vs", "Enter", "d"]);
    t.wait_for("[y/N]");
    t.keys(&["y"]);
    t.wait_for("deleted");
    let (_, out, err) = sb.run(&["get", "vs", "-n", "istioinaction"]);
    assert!(
        out.is_empty() && err.contains("No resources found"),
        "{out}{err}"
    );

    // The help overlay lists the keys.
    t.keys(&["?"]);
    t.wait("the help", |s| {
        s.contains("Keys (any key closes)") && s.contains("Ctrl-C") && s.contains("log level")
    });
    t.keys(&["x"]);

    // A resize redraws at the new size.
    let _ = t
        .cmd(&["resize-window", "-t", "tui", "-x", "100", "-y", "30"])
        .status();
    t.wait("a 100-column frame", |s| {
        s.lines()
            .any(|l| l.starts_with('└') && l.chars().count() == 100)
    });

    // The sandbox goes away: a banner; it comes back (same name and state): the banner goes.
    let home = sb.home.path().display().to_string();
    let (code, _, _) = sb.run(&["down"]);
    assert_eq!(code, 0);
    let _ = sb.up.wait_exit(Duration::from_secs(10));
    t.wait_for("reconnecting");
    let up = Mesh::spawn_env(
        ["up", "--random-ports", "--name", &sb.name],
        &[("MESH_HOME", &home)],
    );
    assert!(
        eventually(Duration::from_secs(30), || up.stdout().contains("Ready in")),
        "{}",
        up.stderr()
    );
    t.wait("the banner to go", |s| {
        !s.contains("reconnecting") && s.contains("webapp-")
    });

    // Ctrl-C (raw mode: a key, not a signal) quits and gives the terminal back.
    t.keys(&["C-c"]);
    let s = t.wait_for("TUI-EXIT=0");
    assert!(
        !s.contains(" 1 Workloads "),
        "the alternate screen is gone: {s}"
    );
    drop(up);
}

/// `GET /v1/watch` (what the TUI refreshes on): at once when `since` is not the current
/// version, at the timeout when nothing changed, and as soon as the store changes.
#[test]
fn watch_long_poll_answers_on_change() {
    let sb = SandboxProcess::start(&[]);
    sb.synced();
    let api = std::fs::read(sb.home.path().join(&sb.name).join("api.json")).unwrap();
    let endpoint: mesh::client::Endpoint = serde_json::from_slice(&api).unwrap();
    let client = mesh::client::Client::new(&endpoint);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let version = |v: serde_json::Value| v["version"].as_u64().expect("version");
    let v0 = version(rt.block_on(client.get("/v1/watch")).unwrap());
    let other = version(
        rt.block_on(client.get(&format!("/v1/watch?since={}", v0 + 1000)))
            .unwrap(),
    );
    assert_eq!(other, v0);
    let same = version(
        rt.block_on(client.get(&format!("/v1/watch?since={v0}&timeout=1")))
            .unwrap(),
    );
    assert_eq!(same, v0, "nothing changed");
    let waiting = {
        let c = client.clone();
        rt.spawn(async move { c.get(&format!("/v1/watch?since={v0}&timeout=60")).await })
    };
    sb.ok(&["apply", "-f", GW, "-n", "istioinaction"]);
    let v1 = version(rt.block_on(waiting).unwrap().unwrap());
    assert!(v1 > v0, "{v1} after {v0}");
}

#[test]
fn tui_needs_a_terminal() {
    let (code, _, err) = mesh_output(["tui"]);
    assert_ne!(code, 0);
    assert!(err.contains("mesh tui needs a terminal"), "{err}");
}
