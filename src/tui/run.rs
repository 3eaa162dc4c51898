//! The event loop: the terminal (raw mode, alternate screen, restored on exit and in the
//! panic hook), a thread reading keys, a long poll on the sandbox's `/v1/watch` that triggers
//! refreshes (and notices a lost sandbox), a 1 s traffic sampler while the traffic view is
//! shown, the followed log, and the requests [`App`] makes.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEvent, KeyEventKind};
use ratatui::crossterm::{execute, terminal};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::client::traffic;

use super::app::{App, Request, Update, View};
use super::fetch;
use super::theme::Theme;
use super::views;

/// Finds the sandbox's API again (its address and token change when it restarts).
pub type Connect = Arc<dyn Fn() -> Result<Client, String> + Send + Sync>;

/// What the command line decides for the TUI.
#[derive(Debug, Clone)]
pub struct Options {
    pub sandbox: String,
    /// False with `NO_COLOR`.
    pub color: bool,
    /// `$VISUAL`/`$EDITOR` (run through `sh -c`, as git does), for `e`.
    pub editor: String,
    /// Where `e` writes the object it edits.
    pub temp_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

enum Msg {
    Key(KeyEvent),
    Redraw,
    Update(Update),
    /// The store changed (or the sandbox is back): refresh with this client.
    Changed(Client),
}

/// Runs until `q`/Ctrl-C. The terminal is restored on every way out, panics included.
pub fn run(connect: Connect, opts: Options) -> Result<(), TuiError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Raw mode + alternate screen, and a panic hook that restores both before printing.
    let mut term = ratatui::try_init()?;
    // A panic on any thread (a tokio task included) ends the TUI: left running, it would draw
    // over a terminal the hook already restored.
    let restore_and_print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_and_print(info);
        std::process::exit(101);
    }));
    let result = runtime.block_on(event_loop(&mut term, connect, &opts));
    ratatui::try_restore()?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// Reads keys on a thread; `gate` is held while an editor owns the terminal.
fn spawn_input(tx: UnboundedSender<Msg>, gate: Arc<Mutex<()>>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok(_held) = gate.lock() else { return };
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => {
                    let msg = match event::read() {
                        Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => Msg::Key(k),
                        Ok(Event::Resize(..)) => Msg::Redraw,
                        Ok(_) => continue,
                        Err(_) => return,
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                Ok(false) => {}
                Err(_) => return,
            }
        }
    });
}

/// Long-polls `/v1/watch`; a new version (or the sandbox coming back) asks for a refresh.
fn spawn_watch(tx: UnboundedSender<Msg>, connect: Connect) {
    tokio::spawn(async move {
        let mut since: Option<u64> = None;
        let mut lost = false;
        loop {
            let client = match connect() {
                Ok(c) => c,
                Err(e) => {
                    if !lost {
                        lost = true;
                        let _ = tx.send(Msg::Update(Update::Lost(e)));
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let path = match since {
                Some(v) => format!("/v1/watch?since={v}&timeout=20"),
                None => "/v1/watch?timeout=20".to_owned(),
            };
            match client.get(&path).await {
                Ok(v) => {
                    if lost {
                        lost = false;
                        let _ = tx.send(Msg::Update(Update::Back));
                    }
                    let version = v["version"].as_u64();
                    if version != since || since.is_none() {
                        since = version;
                        if tx.send(Msg::Changed(client)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    since = None;
                    if !lost {
                        lost = true;
                        let _ = tx.send(Msg::Update(Update::Lost(format!(
                            "sandbox {} is not answering: {e}",
                            client.addr
                        ))));
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// Every second while the traffic view is shown: scrape every proxy, report the difference
/// from the last scrape.
fn spawn_traffic(
    tx: UnboundedSender<Msg>,
    targets: Arc<Mutex<Vec<(String, std::net::SocketAddr)>>>,
    active: Arc<AtomicBool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last: Option<(Vec<traffic::Scrape>, Instant, Vec<String>)> = None;
        loop {
            tick.tick().await;
            if !active.load(Ordering::Relaxed) {
                last = None;
                continue;
            }
            let list = targets.lock().map(|t| t.clone()).unwrap_or_default();
            let names: Vec<String> = list.iter().map(|(n, _)| n.clone()).collect();
            let (scrapes, _) = traffic::scrape_all(&list).await;
            let now = Instant::now();
            if let Some((before, at, before_names)) = &last
                && *before_names == names
            {
                let elapsed = now - *at;
                let rows = traffic::over_window(before, &scrapes, elapsed);
                let edges = traffic::edges_over_window(before, &scrapes, elapsed);
                if tx
                    .send(Msg::Update(Update::Traffic { rows, edges }))
                    .is_err()
                {
                    return;
                }
            }
            last = Some((scrapes, now, names));
        }
    });
}

fn spawn_refresh(
    tx: &UnboundedSender<Msg>,
    client: &Client,
    config: Option<String>,
) -> JoinHandle<()> {
    let (tx, client) = (tx.clone(), client.clone());
    tokio::spawn(async move {
        let (pods, proxies, resources) = tokio::join!(
            fetch::pods(&client),
            fetch::proxies(&client),
            fetch::resources(&client)
        );
        for u in [pods, proxies, resources] {
            let _ = tx.send(Msg::Update(u));
        }
        if let Some(p) = config {
            let _ = tx.send(Msg::Update(fetch::config(&client, &p).await));
        }
        // Proxies ACK a push a moment after the store changed: look at the sync state again.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let _ = tx.send(Msg::Update(fetch::proxies(&client).await));
    })
}

async fn event_loop(
    term: &mut DefaultTerminal,
    connect: Connect,
    opts: &Options,
) -> Result<(), TuiError> {
    let theme = Theme { color: opts.color };
    let mut app = App::new(&opts.sandbox);
    let (tx, mut rx) = unbounded_channel::<Msg>();
    let gate = Arc::new(Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let targets = Arc::new(Mutex::new(Vec::new()));
    let traffic_on = Arc::new(AtomicBool::new(false));
    spawn_input(tx.clone(), gate.clone(), stop.clone());
    spawn_watch(tx.clone(), connect.clone());
    spawn_traffic(tx.clone(), targets.clone(), traffic_on.clone());
    let mut client: Option<Client> = connect().ok();
    let mut logs: Option<JoinHandle<()>> = None;
    let mut refresh: Option<JoinHandle<()>> = None;

    term.draw(|f| views::draw(&app, f, &theme))?;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        let mut requests = Vec::new();
        for msg in batch {
            app.now = SystemTime::now();
            match msg {
                Msg::Key(k) => requests.extend(app.on_key(k)),
                Msg::Redraw => {}
                Msg::Update(u) => {
                    if let Update::Proxies(v) = &u
                        && let Ok(mut t) = targets.lock()
                    {
                        *t = traffic::prometheus_targets(v);
                    }
                    requests.extend(app.on_update(u));
                }
                Msg::Changed(c) => {
                    // One refresh at a time: an older answer must not land after a newer one.
                    if let Some(h) = refresh.take() {
                        h.abort();
                    }
                    refresh = Some(spawn_refresh(&tx, &c, app.config.proxy.clone()));
                    client = Some(c);
                }
            }
        }
        traffic_on.store(
            app.view == View::Traffic && app.detail.is_none(),
            Ordering::Relaxed,
        );
        for r in requests {
            let Some(c) = client.clone().or_else(|| connect().ok()) else {
                app.on_update(Update::Failed("the sandbox is not reachable".into()));
                continue;
            };
            match r {
                Request::Edit {
                    file_name,
                    namespace,
                    yaml,
                } => {
                    let update = edit(term, &gate, opts, &c, &file_name, &namespace, &yaml).await?;
                    app.on_update(update);
                    app.detail = None;
                }
                Request::Copy(text) => copy(term, &text)?,
                Request::FollowLogs {
                    namespace,
                    pod,
                    container,
                } => {
                    if let Some(h) = logs.take() {
                        h.abort();
                    }
                    let tx = tx.clone();
                    logs = Some(tokio::spawn(async move {
                        let path = fetch::logs_path(&namespace, &pod, &container);
                        let lines = tx.clone();
                        let r = c
                            .stream_lines(&path, |l| {
                                let _ = lines.send(Msg::Update(Update::LogLine(l.to_owned())));
                            })
                            .await;
                        let _ = tx.send(Msg::Update(Update::LogsEnded(
                            r.err().map(|e| fetch::api_error(&e)),
                        )));
                    }));
                }
                other => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let u = match other {
                            Request::LoadConfig { proxy } => fetch::config(&c, &proxy).await,
                            Request::Delete {
                                kind,
                                name,
                                namespace,
                            } => fetch::delete(&c, &kind, &name, &namespace).await,
                            Request::Scale {
                                name,
                                namespace,
                                replicas,
                            } => fetch::scale(&c, &name, &namespace, replicas).await,
                            Request::LogLevel { proxy, level } => {
                                fetch::log_level(&c, &proxy, &level).await
                            }
                            _ => return,
                        };
                        let _ = tx.send(Msg::Update(u));
                    });
                }
            }
        }
        if app.quit {
            break;
        }
        term.draw(|f| views::draw(&app, f, &theme))?;
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = logs {
        h.abort();
    }
    Ok(())
}

/// OSC 52: the terminal (and tmux with `set-clipboard on`) puts the text on the clipboard.
fn copy(term: &mut DefaultTerminal, text: &str) -> std::io::Result<()> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let out = term.backend_mut();
    write!(out, "\x1b]52;c;{encoded}\x07")?;
    out.flush()
}

/// `e`: the object's YAML in `$EDITOR` (the terminal handed over meanwhile); applied if the
/// saved file differs, as `kubectl edit` does.
async fn edit(
    term: &mut DefaultTerminal,
    gate: &Mutex<()>,
    opts: &Options,
    client: &Client,
    file_name: &str,
    namespace: &str,
    yaml: &str,
) -> Result<Update, TuiError> {
    let path = opts
        .temp_dir
        .join(format!("mesh-edit-{}-{file_name}.yaml", std::process::id()));
    std::fs::write(&path, yaml)?;
    let status = {
        // Keys go to the editor, not to our reader thread.
        let _held = gate.lock();
        execute!(std::io::stdout(), terminal::LeaveAlternateScreen)?;
        terminal::disable_raw_mode()?;
        let status = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{} \"$1\"", opts.editor))
            .arg("mesh-edit")
            .arg(&path)
            .status()
            .await;
        terminal::enable_raw_mode()?;
        execute!(std::io::stdout(), terminal::EnterAlternateScreen)?;
        term.clear()?;
        status
    };
    let edited = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    let source = path.display().to_string();
    Ok(match (status, edited) {
        (Ok(s), _) if !s.success() => Update::Failed(format!(
            "the editor ({}) exited with {s}; nothing applied",
            opts.editor
        )),
        (Err(e), _) => Update::Failed(format!("cannot run the editor ({}): {e}", opts.editor)),
        (_, Err(e)) => Update::Failed(format!("cannot read {source}: {e}")),
        (_, Ok(text)) if text == yaml => Update::Done("Edit cancelled, no changes made.".into()),
        (_, Ok(text)) => fetch::apply(client, &source, &text, namespace).await,
    })
}
