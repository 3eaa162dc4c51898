//! tcp-echo, as the `cjimti/go-echo` image behaves (`tcp-echo.go` in cjimti/go-echo): on each
//! connection it writes a banner built from the pod's environment (`NODE_NAME`, `POD_NAME`,
//! `POD_NAMESPACE`, `POD_IP`, `SERVICE_ACCOUNT`; a line only for each variable that is set),
//! then echoes back whatever it reads, chunk by chunk. It listens on `TCP_PORT` (default 1025)
//! and logs with Go's `log` package: a timestamp, then the message.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use time::OffsetDateTime;
use time::macros::format_description;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::apps::Log;

/// The port `tcp-echo.go` uses when `TCP_PORT` is unset.
pub const DEFAULT_PORT: u16 = 1025;

/// The original reads at most this much per `Read`, and echoes each read as it comes.
const READ_SIZE: usize = 1024;

/// `TCP_PORT`, or the default; the text of a value that is not a port is the error.
pub fn port(env: &BTreeMap<String, String>) -> Result<u16, String> {
    match env.get("TCP_PORT").map(String::as_str) {
        None | Some("") => Ok(DEFAULT_PORT),
        Some(text) => text.parse().map_err(|_| text.to_owned()),
    }
}

/// The greeting, one line per environment variable that is set and not empty.
pub fn banner(env: &BTreeMap<String, String>) -> String {
    let lines = [
        ("NODE_NAME", "Welcome, you are connected to node"),
        ("POD_NAME", "Running on Pod"),
        ("POD_NAMESPACE", "In namespace"),
        ("POD_IP", "With IP address"),
        ("SERVICE_ACCOUNT", "Service"),
    ];
    let mut banner = String::new();
    for (var, text) in lines {
        if let Some(value) = env.get(var).filter(|v| !v.is_empty()) {
            banner.push_str(&format!("{text} {value}.\n"));
        }
    }
    banner
}

/// Accepts connections until `shutdown`, then closes every open one.
pub async fn serve(
    listener: TcpListener,
    banner: String,
    log: Log,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let port = listener.local_addr()?.port();
    go_log(&log, &format!("Listening on TCP port {port}"));
    let banner: Arc<str> = banner.into();
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let (banner, log, stop) = (banner.clone(), log.clone(), shutdown.clone());
                // A stopped container just vanishes: no closing line, connection reset.
                connections.spawn(async move {
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = echo(stream, banner, log) => {}
                    }
                });
            }
            Err(err) => {
                tracing::warn!("tcp-echo: accept failed: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn echo(mut stream: TcpStream, banner: Arc<str>, log: Log) {
    let id = uuid::Uuid::new_v4();
    go_log(&log, &format!("{id} - TCP connection open."));
    if stream.write_all(banner.as_bytes()).await.is_ok() {
        let mut buf = [0u8; READ_SIZE];
        loop {
            let data = match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => &buf[..n],
            };
            let raw: Vec<String> = data.iter().map(u8::to_string).collect();
            go_log(
                &log,
                &format!("{id} - Received Raw Data: [{}]", raw.join(" ")),
            );
            go_log(
                &log,
                &format!(
                    "{id} - Received Data (converted to string): {}",
                    String::from_utf8_lossy(data)
                ),
            );
            if stream.write_all(data).await.is_err() {
                break;
            }
        }
    }
    go_log(&log, &format!("{id} - TCP connection closed."));
}

/// Go's `log.Println`: `2006/01/02 15:04:05 message`, one newline at the end; a message with
/// newlines inside spans several lines, only the first one stamped.
fn go_log(log: &Log, message: &str) {
    let stamp = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]/[month]/[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let text = format!("{stamp} {message}");
    let text = text.strip_suffix('\n').unwrap_or(&text);
    for line in text.split('\n') {
        log(line);
    }
}

#[cfg(test)]
mod tests;
