//! Shared test helpers: free ports, the real `mesh` binary as a child process, a tiny blocking
//! HTTP/1.1 client (also good for malformed requests), external tools that may be missing, and
//! the lock that serialises tests using the book's fixed ports.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Polls `check` until it returns true or `timeout` passes (never sleep-and-hope).
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until something accepts connections on `addr`.
pub fn wait_for_port(addr: SocketAddr) {
    let ok = eventually(Duration::from_secs(20), || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    });
    assert!(ok, "nothing listens on {addr} after 20s");
}

/// The `mesh` binary under test, killed when dropped; its stdout and stderr are collected.
pub struct Mesh {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

pub fn mesh_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mesh"))
}

impl Mesh {
    /// Starts `mesh ARGS…` in the background.
    pub fn spawn<I, S>(args: I) -> Mesh
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Mesh::spawn_env(args, &[])
    }

    /// Starts `mesh ARGS…` in the background with extra environment variables.
    pub fn spawn_env<I, S>(args: I, env: &[(&str, &str)]) -> Mesh
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut child = Command::new(mesh_bin())
            .args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mesh");
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        pump(child.stdout.take().expect("stdout"), out.clone());
        pump(child.stderr.take().expect("stderr"), err.clone());
        Mesh { child, out, err }
    }

    pub fn stdout(&self) -> String {
        self.out.lock().expect("stdout buffer").clone()
    }

    pub fn stderr(&self) -> String {
        self.err.lock().expect("stderr buffer").clone()
    }

    /// Waits until stderr contains `needle`.
    pub fn wait_stderr(&self, needle: &str) -> bool {
        eventually(Duration::from_secs(20), || self.stderr().contains(needle))
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // let the pumps drain
                std::thread::sleep(Duration::from_millis(50));
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pump(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .expect("output buffer")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

/// Runs `mesh ARGS…` to completion: (exit code, stdout, stderr).
pub fn mesh_output<I, S>(args: I) -> (i32, String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(mesh_bin())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run mesh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A response read by [`request`].
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    /// Lower-cased names; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one HTTP/1.1 request (`Connection: close`) and reads the whole response.
/// `headers` are sent as given, after `Host` (set to `addr` unless `headers` has one).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" || method == "PATCH" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw_request(addr, &raw)
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"").unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"))
}

/// Writes raw bytes and parses what comes back as one HTTP/1.1 response.
pub fn raw_request(addr: SocketAddr, raw: &[u8]) -> std::io::Result<Response> {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(raw)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.trim_end().splitn(3, ' ');
    let _version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let reason = parts.next().unwrap_or_default().to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().to_owned();
            headers
                .entry(k)
                .and_modify(|old: &mut String| {
                    old.push_str(", ");
                    old.push_str(&v)
                })
                .or_insert(v);
        }
    }
    let mut body = Vec::new();
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"));
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(std::io::Error::other)?;
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            let mut chunk = vec![0; n];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = headers.get("content-length").and_then(|v| v.parse().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    } else if status != 204 && status != 304 && method_has_body(raw) {
        reader.read_to_end(&mut body)?;
    }
    Ok(Response {
        status,
        reason,
        headers,
        body,
        elapsed: started.elapsed(),
    })
}

fn method_has_body(raw: &[u8]) -> bool {
    !raw.starts_with(b"HEAD ")
}

/// An external tool (curl, openssl, nc, promtool…). Missing: a printed notice and `None`, or a
/// failure when `MESH_REQUIRE_TOOLS=1` (CI installs them).
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("MESH_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!("{name} is required (MESH_REQUIRE_TOOLS=1) but not on PATH");
        }
        eprintln!("notice: {name} not installed; skipping the part of this test that uses it");
    }
    found
}

/// Serialises tests that use fixed ports (the book's files, unchanged) across test processes.
pub struct FixedPortsLock(File);

pub fn fixed_ports_lock() -> FixedPortsLock {
    let path = std::env::temp_dir().join("mesh-tests-fixed-ports.lock");
    let file = File::create(&path).expect("create lock file");
    file.lock().expect("lock fixed ports");
    FixedPortsLock(file)
}

/// The same lock, shared: tests that start sandboxes (whose sidecars bind 127.x.y.z:15000 and
/// 15001) run beside each other but never beside a test holding it exclusively, such as one
/// binding the book's 0.0.0.0:15000 (which fails while any address holds that port).
pub fn sandbox_ports_lock() -> FixedPortsLock {
    let path = std::env::temp_dir().join("mesh-tests-fixed-ports.lock");
    let file = File::create(&path).expect("create lock file");
    file.lock_shared().expect("lock fixed ports (shared)");
    FixedPortsLock(file)
}

impl Drop for FixedPortsLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// A fresh directory under the system temp dir, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("mesh-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Root of the repository (for `scenarios/`), and the book's files when they are around.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn book_dir() -> Option<PathBuf> {
    let p = repo_root().join("../shared/reference/istio-in-action");
    p.is_dir().then_some(p)
}

/// What a [`Upstream`] received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// A tiny HTTP/1.1 upstream for proxy tests: answers with its name (or scripted statuses and
/// delays), keeps connections alive, and records every request.
pub struct Upstream {
    pub addr: SocketAddr,
    pub name: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<std::collections::VecDeque<(u16, Duration)>>>,
}

impl Upstream {
    pub fn start(name: &str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let (s, sc, n) = (seen.clone(), script.clone(), name.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, sc, n) = (s.clone(), sc.clone(), n.clone());
                std::thread::spawn(move || serve_upstream(stream, &n, &s, &sc));
            }
        });
        Upstream {
            addr,
            name: name.to_owned(),
            seen,
            script,
        }
    }

    /// The next requests get these statuses after these delays (then 200 at once).
    pub fn script(&self, answers: &[(u16, Duration)]) {
        self.script
            .lock()
            .expect("script")
            .extend(answers.iter().copied());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().expect("seen").len()
    }
}

fn serve_upstream(
    stream: TcpStream,
    name: &str,
    seen: &Mutex<Vec<Seen>>,
    script: &Mutex<std::collections::VecDeque<(u16, Duration)>>,
) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().expect("seen").push(Seen {
            method,
            path,
            headers,
            body,
        });
        let (status, delay) = script
            .lock()
            .expect("script")
            .pop_front()
            .unwrap_or((200, Duration::ZERO));
        std::thread::sleep(delay);
        let reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nx-upstream: {name}\r\n\r\n{name}",
            name.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// A sandbox running in this test process on its own runtime, with free node ports and a
/// throw-away state directory; stopped when dropped.
pub struct TestSandbox {
    pub rt: tokio::runtime::Runtime,
    pub sandbox: Arc<mesh::sandbox::Sandbox>,
    state: Option<TempDir>,
}

impl TestSandbox {
    /// Starts `scenario` (a file's text; `None` for the embedded default).
    pub fn start(scenario: Option<&str>) -> TestSandbox {
        Self::start_in(scenario, TempDir::new("sandbox"), true).expect("sandbox starts")
    }

    /// Starts in a given state directory (kept across restarts by the caller).
    pub fn start_in(
        scenario: Option<&str>,
        state: TempDir,
        fresh: bool,
    ) -> Result<TestSandbox, (TempDir, String)> {
        Self::start_with(scenario, state, fresh, mesh::ca::DEFAULT_WORKLOAD_TTL)
    }

    /// With a workload certificate lifetime (short ones make rotations watchable).
    pub fn start_with(
        scenario: Option<&str>,
        state: TempDir,
        fresh: bool,
        workload_cert_ttl: Duration,
    ) -> Result<TestSandbox, (TempDir, String)> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let text = scenario.unwrap_or(mesh::sandbox::scenario::DEFAULT);
        let scenario =
            mesh::sandbox::scenario::parse("scenario.yaml", text).expect("scenario parses");
        let config = mesh::sandbox::SandboxConfig {
            name: "test".to_owned(),
            state_root: mesh::sandbox::state_dir::StateRoot(state.path().to_path_buf()),
            scenario,
            ephemeral_ports: true,
            resolver: Default::default(),
            fresh,
            workload_cert_ttl,
        };
        match rt.block_on(mesh::sandbox::Sandbox::start(config)) {
            Ok(sandbox) => Ok(TestSandbox {
                rt,
                sandbox,
                state: Some(state),
            }),
            Err(e) => Err((state, e.to_string())),
        }
    }

    /// Stops the sandbox and hands back its state directory (for a restart).
    pub fn stop(mut self) -> TempDir {
        self.rt.block_on(self.sandbox.stop());
        self.state.take().expect("state directory")
    }

    /// Where node port `node_port` is published on the host.
    pub fn node_port(&self, node_port: u16) -> SocketAddr {
        self.sandbox
            .published_ports()
            .into_iter()
            .find(|(n, _)| *n == node_port)
            .map(|(_, h)| h)
            .unwrap_or_else(|| panic!("node port {node_port} is not published"))
    }

    /// Applies files (paths relative to the repository).
    pub fn apply(&self, files: &[&str], namespace: Option<&str>) -> Result<Vec<String>, String> {
        let docs: Vec<mesh::sandbox::ops::Document> = files
            .iter()
            .map(|f| mesh::sandbox::ops::Document {
                source: f.to_string(),
                text: std::fs::read_to_string(repo_root().join(f))
                    .unwrap_or_else(|e| panic!("{f}: {e}")),
            })
            .collect();
        self.rt
            .block_on(self.sandbox.apply(&docs, namespace))
            .map(|v| v.iter().map(ToString::to_string).collect())
            .map_err(|e| e.to_string())
    }

    pub fn apply_text(&self, text: &str, namespace: Option<&str>) -> Result<Vec<String>, String> {
        let docs = [mesh::sandbox::ops::Document {
            source: "-".into(),
            text: text.into(),
        }];
        self.rt
            .block_on(self.sandbox.apply(&docs, namespace))
            .map(|v| v.iter().map(ToString::to_string).collect())
            .map_err(|e| e.to_string())
    }

    /// Waits until every proxy ACKed its latest push.
    pub fn synced(&self) {
        let ok = self
            .rt
            .block_on(self.sandbox.wait_synced(Duration::from_secs(20)));
        assert!(ok.is_some(), "proxies not SYNCED after 20s");
    }

    /// The named proxy's admin address (resolved like `proxy-config` targets).
    pub fn admin(&self, target: &str, namespace: Option<&str>) -> SocketAddr {
        let p = self
            .rt
            .block_on(self.sandbox.resolve_proxy(target, namespace))
            .expect("proxy found");
        p.admin.expect("proxy has an admin address")
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        // Idempotent: `stop()` may have run already.
        self.rt.block_on(self.sandbox.stop());
    }
}

/// `mesh up` as a child process with its own state directory and free node ports; commands
/// run against it with [`SandboxProcess::run`]. Stopped when dropped.
pub struct SandboxProcess {
    pub up: Mesh,
    pub home: TempDir,
    pub name: String,
    /// node port → host address, from `mesh up`'s summary.
    pub node_ports: BTreeMap<u16, SocketAddr>,
}

impl SandboxProcess {
    pub fn start(extra: &[&str]) -> SandboxProcess {
        let home = TempDir::new("home");
        let name = format!("t{}", std::process::id() % 100000);
        let mut args: Vec<String> = vec![
            "up".into(),
            "--random-ports".into(),
            "--name".into(),
            name.clone(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let up = Mesh::spawn_env(&args, &[("MESH_HOME", home.path().to_str().unwrap_or(""))]);
        let ok = eventually(Duration::from_secs(30), || {
            up.stdout().contains("Ready in") || up.stderr().contains("error")
        });
        assert!(
            ok && up.stdout().contains("Ready in"),
            "mesh up did not start:\n{}\n{}",
            up.stdout(),
            up.stderr()
        );
        let mut node_ports = BTreeMap::new();
        for line in up.stdout().lines() {
            if let Some(rest) = line.trim().strip_prefix("node port") {
                let mut parts = rest.split_whitespace();
                let np: u16 = parts
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("node port");
                let host: SocketAddr = parts
                    .nth(1)
                    .and_then(|h| h.strip_prefix("http://"))
                    .and_then(|h| h.parse().ok())
                    .expect("host address");
                node_ports.insert(np, host);
            }
        }
        SandboxProcess {
            up,
            home,
            name,
            node_ports,
        }
    }

    /// Runs `mesh ARGS…` against this sandbox: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_stdin(args, "")
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let mut child = Command::new(mesh_bin())
            .args(args)
            .env_remove("RUST_LOG")
            .env("MESH_HOME", self.home.path())
            .env("MESH_CONTEXT", &self.name)
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mesh");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin.as_bytes());
        }
        let out = child.wait_with_output().expect("mesh output");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "mesh {args:?} failed:\n{out}\n{err}");
        out
    }

    /// Waits until `mesh proxy-status` shows every proxy SYNCED on every type it was sent.
    pub fn synced(&self) -> String {
        let mut last = String::new();
        let ok = eventually(Duration::from_secs(20), || {
            last = self.ok(&["proxy-status"]);
            last.lines()
                .skip(1)
                .all(|l| !l.contains("STALE") && !l.contains("ERROR"))
        });
        assert!(ok, "not synced:\n{last}");
        last
    }

    pub fn node_port(&self, np: u16) -> SocketAddr {
        self.node_ports[&np]
    }
}

/// A proxy's stat by its full name, from its admin `/stats` (`None` when it does not exist).
pub fn stat_value(admin: SocketAddr, name: &str) -> Option<u64> {
    // The admin filter is a regex: escape everything but word characters.
    let escaped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect();
    let text = get(admin, &format!("/stats?filter=^{escaped}$")).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .and_then(|v| v.trim().parse().ok())
}
