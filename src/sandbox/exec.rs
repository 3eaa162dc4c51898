//! `mesh exec POD -- CMD`: the command runs on the host, with `http_proxy`/`https_proxy` set to a
//! forward proxy that opens every connection from inside the pod — through its sidecar when it
//! has one, with the sandbox's DNS — so `curl http://catalog.istioinaction/items/1` behaves as it
//! does in the pod. HTTP requests in absolute form and `CONNECT` tunnels are both served.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::net::dial::Dialer;

use super::instance::Sandbox;
use super::ops::OpError;

const MAX_HEAD: usize = 64 * 1024;

/// Binds 127.0.0.1 (any port) and serves until `stop`.
pub fn serve(dialer: Arc<dyn Dialer>, stop: CancellationToken) -> std::io::Result<SocketAddr> {
    let listener = crate::net::bind_tcp(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = stop.cancelled() => return,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(_) => continue,
                },
            };
            let dialer = dialer.clone();
            tokio::spawn(async move {
                let _ = forward(stream, dialer.as_ref()).await;
            });
        }
    });
    Ok(addr)
}

/// `http://host[:port]/path` → (host, port, `/path`).
fn split_absolute(target: &str) -> Option<(String, u16, String)> {
    let rest = target.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = split_host_port(authority, 80)?;
    Some((host, port, path.to_owned()))
}

fn split_host_port(authority: &str, default: u16) -> Option<(String, u16)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = rest
            .strip_prefix(':')
            .map_or(Some(default), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None => Some((authority.to_owned(), default)),
    }
}

async fn forward(mut client: TcpStream, dialer: &dyn Dialer) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return client
                .write_all(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
                )
                .await;
        }
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let rest = buf[head_end..].to_vec();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    let bad = |msg: &str| {
        format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{msg}",
            msg.len()
        )
    };
    if method == "CONNECT" {
        let Some((host, port)) = split_host_port(target, 443) else {
            return client
                .write_all(bad("bad CONNECT target\n").as_bytes())
                .await;
        };
        let mut upstream = match dialer.dial(&host, port).await {
            Ok(u) => u,
            Err(e) => return client.write_all(unreachable(&host, &e).as_bytes()).await,
        };
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        upstream.write_all(&rest).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    let Some((host, port, path)) = split_absolute(target) else {
        return client
            .write_all(
                bad("mesh exec's proxy takes absolute http:// requests and CONNECT\n").as_bytes(),
            )
            .await;
    };
    let mut upstream = match dialer.dial(&host, port).await {
        Ok(u) => u,
        Err(e) => return client.write_all(unreachable(&host, &e).as_bytes()).await,
    };
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if name == "proxy-connection" || name == "proxy-authorization" {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    upstream.write_all(out.as_bytes()).await?;
    upstream.write_all(&rest).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// What curl shows when the pod cannot reach a host.
fn unreachable(host: &str, e: &std::io::Error) -> String {
    let msg = format!("cannot connect to {host} from the pod: {e}\n");
    format!(
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{msg}",
        msg.len()
    )
}

impl Sandbox {
    /// The forward proxy into a pod's network (started on first use, stopped with the pod).
    pub async fn exec_proxy(
        &self,
        target: &str,
        namespace: Option<&str>,
    ) -> Result<(String, String, SocketAddr), OpError> {
        let id = self.find_pod(target, namespace).await?;
        let mut inner = self.inner.lock().await;
        let pod = inner
            .pods
            .get_mut(&id)
            .ok_or_else(|| OpError::NotFound(format!("pods \"{}\" not found", id.1)))?;
        if let Some(addr) = pod.exec_proxy {
            return Ok((id.0, id.1, addr));
        }
        let Some(network) = pod.network.clone() else {
            return Err(OpError::BadRequest(format!(
                "pod {} runs no processes of its own to exec into",
                id.1
            )));
        };
        let addr = serve(network, pod.stopped())
            .map_err(|e| OpError::BadRequest(format!("cannot start exec's proxy: {e}")))?;
        pod.exec_proxy = Some(addr);
        Ok((id.0, id.1, addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_targets() {
        assert_eq!(
            split_absolute("http://catalog.istioinaction/items/1"),
            Some(("catalog.istioinaction".into(), 80, "/items/1".into()))
        );
        assert_eq!(
            split_absolute("http://webapp:8080"),
            Some(("webapp".into(), 8080, "/".into()))
        );
        assert_eq!(
            split_absolute("http://[::1]:9/x"),
            Some(("::1".into(), 9, "/x".into()))
        );
        assert_eq!(split_absolute("/relative"), None);
        assert_eq!(
            split_host_port("example.com", 443),
            Some(("example.com".into(), 443))
        );
    }
}
