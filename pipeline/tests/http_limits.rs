//! The HTTP server against real sockets: a half-sent request and idle
//! connections are closed within their limits, and however many are open
//! `/healthz` still answers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use vbp_watch::http::{serve_with, ConnectionLimits, Shared};
use vbp_watch::metrics::Metrics;

const LIMITS: ConnectionLimits =
    ConnectionLimits { header_read: Duration::from_millis(300), lifetime: Duration::from_secs(2), max_connections: 8 };

async fn server() -> SocketAddr {
    let shared = Shared::new(Metrics::new().unwrap());
    serve_with("127.0.0.1:0".parse().unwrap(), shared, LIMITS).await.unwrap()
}

/// Sends `bytes` on a new connection and reads until the server closes it;
/// how long that took.
async fn closed_after_sending(addr: SocketAddr, bytes: &'static [u8]) -> Duration {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(bytes).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let _ = stream.read_to_end(&mut Vec::new());
        started.elapsed()
    })
    .await
    .unwrap()
}

fn healthz(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_is_closed_after_the_header_read_timeout() {
    let addr = server().await;
    let closed = closed_after_sending(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    assert!(closed < Duration::from_secs(2), "closed after {closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_more_idle_connections_are_open_than_are_served() {
    let addr = server().await;
    let answer = tokio::task::spawn_blocking(move || {
        let idle: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let answer = healthz(addr);
        drop(idle);
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_closed_at_the_end_of_its_lifetime() {
    let addr = server().await;
    let closed = closed_after_sending(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(closed < Duration::from_secs(4), "closed after {closed:?}");
}
