//! tcp-echo on a real loopback socket: banner, echo, logs, shutdown.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::*;

const LIMIT: Duration = Duration::from_secs(5);

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn capture() -> (Log, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let log: Log = Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_owned()));
    (log, lines)
}

async fn read_exactly(stream: &mut TcpStream, n: usize) -> String {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(LIMIT, stream.read_exact(&mut buf))
        .await
        .expect("read timed out")
        .unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn banner_names_the_pod_like_go_echo() {
    let full = env(&[
        ("NODE_NAME", "mesh-control-plane"),
        ("POD_NAME", "tcp-echo-deployment-6c7d9f8b4-x2x7q"),
        ("POD_NAMESPACE", "istioinaction"),
        ("POD_IP", "127.10.0.9"),
        ("SERVICE_ACCOUNT", "default"),
    ]);
    assert_eq!(
        banner(&full),
        "Welcome, you are connected to node mesh-control-plane.\n\
         Running on Pod tcp-echo-deployment-6c7d9f8b4-x2x7q.\n\
         In namespace istioinaction.\n\
         With IP address 127.10.0.9.\n\
         Service default.\n"
    );
    assert_eq!(
        banner(&env(&[("POD_IP", "1.2.3.4"), ("NODE_NAME", "")])),
        "With IP address 1.2.3.4.\n"
    );
    assert_eq!(banner(&env(&[])), "");
}

#[test]
fn port_comes_from_tcp_port() {
    assert_eq!(port(&env(&[])), Ok(1025));
    assert_eq!(port(&env(&[("TCP_PORT", "2701")])), Ok(2701));
    assert_eq!(port(&env(&[("TCP_PORT", "echo")])), Err("echo".to_owned()));
}

#[tokio::test]
async fn greets_then_echoes_and_logs() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (log, lines) = capture();
    let stop = CancellationToken::new();
    let greeting = "Welcome, you are connected to node n1.\n".to_owned();
    let server = tokio::spawn(serve(listener, greeting.clone(), log, stop.clone()));

    let mut client = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_exactly(&mut client, greeting.len()).await, greeting);
    client.write_all(b"hello\n").await.unwrap();
    assert_eq!(read_exactly(&mut client, 6).await, "hello\n");
    client.write_all(b"two\nlines\n").await.unwrap();
    assert_eq!(read_exactly(&mut client, 10).await, "two\nlines\n");
    drop(client);

    // The closing line is written once the server sees EOF.
    let closed = tokio::time::timeout(LIMIT, async {
        loop {
            if lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.ends_with("TCP connection closed."))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "{:?}", lines.lock().unwrap());
    stop.cancel();
    tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let lines = lines.lock().unwrap().clone();
    let stamp = regex::Regex::new(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} ").unwrap();
    assert!(stamp.is_match(&lines[0]), "{lines:?}");
    assert!(lines[0].ends_with(&format!("Listening on TCP port {}", addr.port())));
    assert!(lines[1].ends_with(" - TCP connection open."), "{lines:?}");
    assert!(lines[2].ends_with(" - Received Raw Data: [104 101 108 108 111 10]"));
    assert!(lines[3].ends_with(" - Received Data (converted to string): hello"));
    // A chunk with two lines logs as Go prints it: the second line unstamped.
    assert!(lines[5].ends_with(" - Received Data (converted to string): two"));
    assert_eq!(lines[6], "lines");
    assert!(lines[7].ends_with(" - TCP connection closed."));
}

#[tokio::test]
async fn shutdown_closes_open_connections() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (log, _) = capture();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, String::new(), log, stop.clone()));
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"x").await.unwrap();
    assert_eq!(read_exactly(&mut client, 1).await, "x");
    stop.cancel();
    tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(LIMIT, client.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
}
