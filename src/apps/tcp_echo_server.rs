//! Istio's tcp-echo-server (`samples/tcp-echo/src/main.go`): args `PORTS PREFIX` (ports
//! comma-separated); on every port, each line read is answered with `PREFIX line`. It prints
//! `listening on [::]:9000, prefix: one` per port and `request: …`/`response: …` per line.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Log;

/// The longest line kept before answering (the original reads unbounded lines).
const MAX_LINE: usize = 64 * 1024;

/// What the args say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub ports: Vec<u16>,
    pub prefix: String,
}

impl Config {
    /// `["9000,9001,9002", "hello"]` → ports and prefix; the original's usage text otherwise.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        const USAGE: &str = "you should run it like: 'main [PORTS...] prefix' , please notice \
                             PORTS are comma-delineated , like  port 1[,port 2]  ";
        let [ports, prefix] = args else {
            return Err(format!("{USAGE} (args were {args:?})"));
        };
        let ports = ports
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("{p:?} in args[0] is not a port number (1-65535)"))
            })
            .collect::<Result<Vec<u16>, String>>()?;
        Ok(Config {
            ports,
            prefix: prefix.clone(),
        })
    }
}

/// Serves every listener until `shutdown`.
pub async fn serve(
    listeners: Vec<TcpListener>,
    prefix: String,
    log: Log,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut tasks = JoinSet::new();
    for listener in listeners {
        let port = listener.local_addr()?.port();
        log(&format!("listening on [::]:{port}, prefix: {prefix}"));
        let (prefix, log, stop) = (prefix.clone(), log.clone(), shutdown.clone());
        tasks.spawn(accept_loop(listener, prefix, log, stop));
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn accept_loop(listener: TcpListener, prefix: String, log: Log, stop: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let (prefix, log, stop) = (prefix.clone(), log.clone(), stop.clone());
                connections.spawn(async move {
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = answer(stream, &prefix, &log) => {}
                    }
                });
            }
            Err(err) => {
                log(&format!("failed to accept connection, err: {err}"));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn answer(stream: TcpStream, prefix: &str, log: &Log) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_LINE as u64);
        match limited.read_until(b'\n', &mut line).await {
            // EOF without a newline: the original drops the partial line.
            Ok(0) => return,
            Ok(_) if line.last() != Some(&b'\n') => return,
            Ok(_) => {}
            Err(err) => {
                log(&format!("failed to read data, err: {err}"));
                return;
            }
        }
        let text = String::from_utf8_lossy(&line);
        log(&format!("request: {}", text.trim_end_matches('\n')));
        let reply = format!("{prefix} {text}");
        log(&format!("response: {}", reply.trim_end_matches('\n')));
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_give_ports_and_prefix() {
        let args = vec!["9000,9001,9002".to_owned(), "one".to_owned()];
        assert_eq!(
            Config::from_args(&args),
            Ok(Config {
                ports: vec![9000, 9001, 9002],
                prefix: "one".into()
            })
        );
        assert!(Config::from_args(&["9000".to_owned()]).is_err());
        assert!(Config::from_args(&["x".to_owned(), "p".to_owned()]).is_err());
    }
}
