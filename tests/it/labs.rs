//! `mesh lab`: every lab is a test. Each lab runs in its own state directory through the real
//! binary: `lab start` (a fresh sandbox with free node ports, or the book's fixed ports under
//! the shared lock), then for every step `lab solve` and `lab check`, then `lab stop`.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{self, TempDir, mesh_bin};

/// A lab run in its own `MESH_HOME`; stopped when dropped (also after a failed assertion).
struct LabRun {
    home: TempDir,
    /// Exclusive for labs on fixed ports, shared for the others (see `sandbox_ports_lock`).
    _lock: Option<util::FixedPortsLock>,
}

impl LabRun {
    fn new(fixed_ports: bool) -> LabRun {
        LabRun {
            _lock: Some(if fixed_ports {
                util::fixed_ports_lock()
            } else {
                util::sandbox_ports_lock()
            }),
            home: TempDir::new("lab"),
        }
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
        let out = Command::new(mesh_bin())
            .args(args)
            .env("MESH_HOME", self.home.path())
            .env_remove("MESH_CONTEXT")
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .current_dir(self.home.path())
            .stdin(Stdio::null())
            .output()
            .expect("run mesh");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_env(args, &[])
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "mesh {args:?} exited {code}:\n{out}\n{err}");
        out
    }
}

impl Drop for LabRun {
    fn drop(&mut self) {
        let _ = self.run(&["lab", "stop"]);
    }
}

/// Whether the lab's commands need a tool that is missing (the test then skips, with a notice).
fn missing_tools(lab: &mesh::labs::format::Lab) -> bool {
    let mut lines: Vec<&str> = lab.setup.run.iter().map(String::as_str).collect();
    for s in &lab.steps {
        lines.extend(s.value.run.iter().map(String::as_str));
        for c in &s.value.checks {
            if let Some(cmd) = &c.value.command {
                lines.push(&cmd.run);
            }
        }
    }
    ["curl", "grep"]
        .iter()
        .any(|t| lines.iter().any(|l| l.contains(t)) && util::tool(t).is_none())
}

/// Every command a step shows the user to look with works (exit 0) after the step is solved:
/// a typo in a shown command fails here. Interactive ones (`nc`) and ones needing a missing
/// tool are skipped.
fn run_observe_commands(run: &LabRun, id: &str, step: usize) {
    let shown: serde_json::Value =
        serde_json::from_str(&run.ok(&["lab", "show", "-o", "json"])).unwrap();
    let workdir = shown["workdir"].as_str().unwrap();
    let path = format!(
        "{}:{}",
        mesh_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for line in shown["observe"].as_array().unwrap() {
        let line = line.as_str().unwrap();
        let first = line.split_whitespace().next().unwrap_or_default();
        if first == "nc" {
            continue;
        }
        if ["curl", "jq", "grep"]
            .iter()
            .any(|t| line.contains(&format!("{t} ")) && util::tool(t).is_none())
        {
            continue;
        }
        let mut cmd = Command::new("sh");
        cmd.args(["-c", line])
            .current_dir(workdir)
            .env("MESH_HOME", run.home.path())
            .env("PATH", &path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        match shown["context"].as_str() {
            Some(c) => cmd.env("MESH_CONTEXT", c),
            None => cmd.env_remove("MESH_CONTEXT"),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "lab {id} step {}: `{line}` exited {:?}:\n{}\n{}",
            step + 1,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Solves and checks every step of a lab on a fresh sandbox.
fn solve_and_check(id: &str) {
    let lab = mesh::labs::catalog::find(id, None).unwrap_or_else(|| panic!("lab {id} loads"));
    if missing_tools(&lab) {
        return;
    }
    let run = LabRun::new(lab.fixed_ports);
    let mut start = vec!["lab", "start", id];
    if !lab.fixed_ports && lab.sandbox != "none" {
        start.push("--random-ports");
    }
    let out = run.ok(&start);
    assert!(
        out.contains(&format!("step 1/{}", lab.steps.len())),
        "{out}"
    );
    for (i, step) in lab.steps.iter().enumerate() {
        let (code, out, err) = run.run(&["lab", "solve"]);
        assert_eq!(
            code,
            0,
            "lab {id} step {} ({}): solve failed:\n{out}\n{err}",
            i + 1,
            step.value.title
        );
        let (code, out, err) = run.run(&["lab", "check"]);
        assert_eq!(
            code,
            0,
            "lab {id} step {} ({}): check failed:\n{out}\n{err}",
            i + 1,
            step.value.title
        );
        assert!(out.contains("Step passed"), "{out}");
        run_observe_commands(&run, id, i);
        run.ok(&["lab", "next"]);
    }
    let list = run.ok(&["lab", "list"]);
    let row = list
        .lines()
        .find(|l| l.contains('▶'))
        .unwrap_or_else(|| panic!("no current lab in:\n{list}"));
    assert!(row.contains("done"), "{row}");
    // `lab stop` ends every process the lab started.
    run.ok(&["lab", "stop"]);
    for addr in ready_addresses(&lab) {
        assert!(
            util::eventually(std::time::Duration::from_secs(5), || {
                std::net::TcpStream::connect(addr).is_err()
            }),
            "lab {id}: something still listens on {addr} after `lab stop`"
        );
    }
}

/// Where the processes a lab starts listen.
fn ready_addresses(lab: &mesh::labs::format::Lab) -> Vec<std::net::SocketAddr> {
    lab.setup
        .start
        .iter()
        .chain(lab.steps.iter().flat_map(|s| s.value.start.iter()))
        .filter_map(|b| b.ready.as_deref()?.parse().ok())
        .collect()
}

macro_rules! lab_tests {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                solve_and_check($id);
            }
        )*
    };
}

lab_tests! {
    lab_3_1 => "3.1",
    lab_3_2 => "3.2",
    lab_3_3 => "3.3",
    lab_3_4 => "3.4",
    lab_3_5 => "3.5",
    lab_4_1 => "4.1",
    lab_4_2 => "4.2",
    lab_4_3 => "4.3",
    lab_4_4 => "4.4",
    lab_4_5 => "4.5",
    lab_4_6 => "4.6",
    lab_4_7 => "4.7",
    lab_4_8 => "4.8",
    lab_4_9 => "4.9",
    lab_4_10 => "4.10",
    lab_4_11 => "4.11",
    lab_4_12 => "4.12",
    lab_4_13 => "4.13",
    lab_4_14 => "4.14",
    lab_4_15 => "4.15",
    lab_4_16 => "4.16",
    lab_4_17 => "4.17",
    lab_c1 => "C1",
    lab_c2 => "C2",
    lab_c5 => "C5",
    lab_t1 => "T1",
    lab_t2 => "T2",
    lab_t3 => "T3",
    lab_t4 => "T4",
    lab_t5 => "T5",
    lab_t6 => "T6",
}

/// A test per lab file: a lab added without its test fails here.
#[test]
fn every_lab_has_a_test_and_a_readme_line() {
    let (labs, problems) = mesh::labs::catalog::load_all();
    assert!(problems.is_empty(), "{problems:?}");
    let this = include_str!("labs.rs");
    let readme = include_str!("../../README.md");
    for lab in labs {
        assert!(
            readme.contains(&format!("| {} | {} |", lab.id, lab.title)),
            "lab {} is not listed in README's Learn section",
            lab.id
        );
        assert!(
            this.contains(&format!("=> \"{}\"", lab.id)),
            "lab {} has no test in tests/it/labs.rs",
            lab.id
        );
    }
}

#[test]
fn a_malformed_lab_file_is_named_with_line_and_field() {
    let run = LabRun::new(false);
    let dir = TempDir::new("mylabs");
    dir.write(
        "9.9-mine.yaml",
        "id: \"9.9\"\ntitle: Mine\nsummary: s\nsandbox: none\nsteps:\n- title: one\n  text: t\n  checks:\n  - name: c\n    http: { url: \"http://localhost:1/\", expect: { status: \"two hundred\" } }\n",
    );
    let (code, out, err) = run.run_env(&["lab", "list"], &[("MESH_LAB_DIR", dir.path())]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("3.1"),
        "the good labs are still listed:\n{out}"
    );
    let line = err
        .lines()
        .find(|l| l.contains("9.9-mine.yaml"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("9.9-mine.yaml:10:"), "{line}");
    assert!(
        line.contains("steps[0].checks[0].http.expect.status"),
        "{line}"
    );
    // Without the bad file, list is clean.
    let (code, out, _) = run.run(&["lab", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("4 steps") || out.contains("steps"), "{out}");
}

/// The user types the commands in their own shell; `check` explains a failure with its hint
/// before that, shows the sandbox's real node ports, and says it cannot run once the sandbox
/// is down (exit code 3) instead of failing the step.
#[test]
fn check_explains_failures_uses_real_ports_and_knows_when_it_cannot_run() {
    let run = LabRun::new(false);
    let out = run.ok(&["lab", "start", "4.2", "--random-ports"]);
    let port = out
        .lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("node port")?.trim();
            let rest = rest.strip_prefix("30000")?;
            rest.rsplit(':').next()?.trim().parse::<u16>().ok()
        })
        .unwrap_or_else(|| panic!("no node port 30000 in:\n{out}"));
    assert!(
        out.contains(&format!("localhost:{port}/")),
        "the shown curl uses the real port:\n{out}"
    );
    assert!(out.contains("export MESH_CONTEXT=lab-4-2"), "{out}");

    let (code, out, _) = run.run(&["lab", "check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✘ a listener on 8080 routed by http.8080"),
        "{out}"
    );
    assert!(
        out.contains("hint: mesh apply -f ch4/coolstore-gw.yaml -n istioinaction"),
        "{out}"
    );
    assert!(
        out.contains(&format!("GET http://localhost:{port}/")),
        "{out}"
    );

    // The user's own command, in the working directory, against the lab's sandbox.
    let workdir = run.home.path().join("labs/4.2");
    let status = Command::new(mesh_bin())
        .args([
            "apply",
            "-f",
            "ch4/coolstore-gw.yaml",
            "-n",
            "istioinaction",
        ])
        .env("MESH_HOME", run.home.path())
        .env("MESH_CONTEXT", "lab-4-2")
        .current_dir(&workdir)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let (code, out, _) = run.run(&["lab", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(run.ok(&["lab", "list"]).contains("done (1/1)"));

    run.ok(&["lab", "stop"]);
    let (code, out, _) = run.run(&["lab", "check"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("no check could run: the lab's sandbox \"lab-4-2\" is not running"),
        "{out}"
    );
    let (code, _, err) = run.run(&["lab", "solve"]);
    assert_eq!(code, 1);
    assert!(err.contains("not running"), "{err}");
    // `start` brings a fresh sandbox back, at the same step.
    let out = run.ok(&["lab", "start", "4.2", "--random-ports"]);
    assert!(out.contains("step 1/1"), "{out}");
    let (code, _, _) = run.run(&["lab", "check"]);
    assert_eq!(code, 1, "a fresh sandbox has no Gateway");
    let (code, out, _) = run.run(&["lab", "start", "nope"]);
    assert_eq!(code, 1, "{out}");
}

/// The README's example lab file is a valid lab.
#[test]
fn the_readme_example_lab_file_loads() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("```yaml\nid: \"4.2\"")
        .expect("the example is in README")
        + 8;
    let end = start + readme[start..].find("```").expect("closing fence");
    let lab = mesh::labs::catalog::parse("scenarios/labs/4.2-example.yaml", &readme[start..end])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(lab.steps[0].value.checks.len(), 1);
}

/// Starting another lab ends the first one's processes (chapter 3's share ports 8000 and
/// 15000/15001); `prev`, `reset` and progress behave.
#[test]
fn switching_labs_resetting_and_moving_between_steps() {
    if util::tool("curl").is_none() {
        return;
    }
    let run = LabRun::new(true);
    run.ok(&["lab", "start", "3.2"]);
    run.ok(&["lab", "solve"]);
    run.ok(&["lab", "check"]);
    run.ok(&["lab", "next"]);
    run.ok(&["lab", "solve"]);
    run.ok(&["lab", "check"]);
    assert!(run.ok(&["lab", "list"]).contains("done (2/2)"));
    // 3.4 starts its own httpbin and proxy on the same ports: 3.2's must have ended.
    let out = run.ok(&["lab", "start", "3.4"]);
    assert!(out.contains("stopping httpbin"), "{out}");
    assert!(out.contains("step 1/3"), "{out}");
    let (code, out, _) = run.run(&["lab", "prev"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("step 1/3"),
        "prev on step 1 stays there:\n{out}"
    );
    run.ok(&["lab", "solve"]);
    run.ok(&["lab", "check"]);
    run.ok(&["lab", "next"]);
    let out = run.ok(&["lab", "show"]);
    assert!(out.contains("step 2/3"), "{out}");
    assert!(run.ok(&["lab", "list"]).contains("1/3 passed"));
    // Reset: back to step 1, nothing passed, a fresh proxy (its counters at zero).
    let out = run.ok(&["lab", "reset"]);
    assert!(out.contains("step 1/3"), "{out}");
    assert!(run.ok(&["lab", "list"]).contains("0/3 passed"));
    let stats = util::get(util::addr(15000), "/stats?filter=upstream_rq_total").text();
    assert!(
        stats.contains("cluster.httpbin_service.upstream_rq_total: 0"),
        "{stats}"
    );
    // A process the lab did not start holds the proxy's port: solve says so.
    run.ok(&["lab", "stop"]);
    let squatter = std::net::TcpListener::bind("127.0.0.1:15001").unwrap();
    let (code, _, err) = run.run(&["lab", "start", "3.4"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("something else answers on 127.0.0.1:15000")
            || err.contains("Address already in use"),
        "{err}"
    );
    drop(squatter);
    // Going back to 3.2 resumes where it was (done): step 1 is replayed (httpbin), so step 2
    // checks out once its proxy runs again.
    let out = run.ok(&["lab", "start", "3.2"]);
    assert!(out.contains("replaying step 1: Run httpbin"), "{out}");
    assert!(
        out.contains("step 2/2: Put Envoy in front of it ✔"),
        "{out}"
    );
    run.ok(&["lab", "solve"]);
    run.ok(&["lab", "check"]);
}

/// The book's node ports taken by something else: `lab start` says so and offers free ports.
#[test]
fn a_taken_node_port_is_explained() {
    let run = LabRun::new(true);
    let Ok(squatter) = std::net::TcpListener::bind("127.0.0.1:30000") else {
        eprintln!("notice: 127.0.0.1:30000 is busy outside this test; skipping");
        return;
    };
    let (code, out, err) = run.run(&["lab", "start", "4.2"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("did not start"), "{err}");
    assert!(err.contains("--random-ports"), "{err}");
    drop(squatter);
    let out = run.ok(&["lab", "start", "4.2", "--random-ports"]);
    assert!(out.contains("step 1/1"), "{out}");
}
