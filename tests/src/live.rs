//! Helpers for tests of `vbp-watch run`: write its configuration, start and
//! kill it, and read its HTTP endpoints with a plain HTTP/1.0 GET (no
//! client library: the endpoints are tiny and loopback-only).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::vbp_watch;

/// `GET http://addr/path`: (status, body), or `None` when nothing answers.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    exchange(addr, "GET", path, None, Duration::from_secs(10))
}

/// `POST http://addr/path` with an empty body and, if given, a bearer
/// token: (status, body), or `None` when nothing answers.
pub fn http_post(addr: &str, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    exchange(addr, "POST", path, token, Duration::from_secs(120))
}

fn exchange(addr: &str, method: &str, path: &str, token: Option<&str>, wait: Duration) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(wait)).ok()?;
    let authorization = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let length = if method == "POST" { "Content-Length: 0\r\n" } else { "" };
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{authorization}{length}\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// The settings a test varies; the rest are written by [`LiveOptions::write`].
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub reference: PathBuf,
    pub state_dir: PathBuf,
    pub bootstrap: String,
    pub group_id: String,
    pub evaluate_at: String,
    pub transitions_file: PathBuf,
    pub topic_prefix: String,
    /// Lines appended to the `[kafka]` table, e.g. `assignment = "all"`.
    pub extra: String,
}

impl LiveOptions {
    /// Writes `dir/run.toml` and returns its path.
    pub fn write(&self, dir: &Path, http_port: u16) -> PathBuf {
        let p = &self.topic_prefix;
        let text = format!(
            "reference = {reference:?}\nstate_dir = {state:?}\nhttp_listen = \"127.0.0.1:{http_port}\"\ntick_seconds = 1\ncheckpoint_seconds = 1\nthreads = 2\nevaluate_at = {at:?}\ntransitions_file = {log:?}\n[kafka]\nbootstrap_servers = {bootstrap:?}\ngroup_id = {group:?}\norders_topic = \"{p}orders\"\ndeliveries_topic = \"{p}deliveries\"\npayments_topic = \"{p}payments\"\ndead_letter_topic = \"{p}dead-letter\"\nfacts_topic = \"{p}facts\"\n{extra}\n",
            reference = self.reference.display().to_string(),
            state = self.state_dir.display().to_string(),
            at = self.evaluate_at,
            log = self.transitions_file.display().to_string(),
            extra = self.extra,
            bootstrap = self.bootstrap,
            group = self.group_id,
        );
        let path = dir.join("run.toml");
        std::fs::write(&path, text).expect("write run.toml");
        path
    }
}

/// A running `vbp-watch run`, killed when dropped.
pub struct LivePipeline {
    child: Child,
    pub addr: String,
    pub log: PathBuf,
    /// The token its reads send, when its configuration has `[access]` tokens.
    pub token: Option<String>,
}

impl LivePipeline {
    /// Starts `vbp-watch run --config config` with its stderr in `log`.
    pub fn start(config: &Path, http_port: u16, log: &Path) -> LivePipeline {
        Self::start_with_env(config, http_port, log, &[])
    }

    /// [`LivePipeline::start`] with more environment variables (secrets,
    /// which the configuration file should not hold).
    pub fn start_with_env(config: &Path, http_port: u16, log: &Path, env: &[(&str, &str)]) -> LivePipeline {
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open the pipeline log");
        let child = Command::new(vbp_watch())
            .args(["run", "--config", &config.display().to_string()])
            .envs(env.iter().copied())
            .env("VBP_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start vbp-watch run");
        LivePipeline { child, addr: format!("127.0.0.1:{http_port}"), log: log.to_path_buf(), token: None }
    }

    /// Sends `signal` (e.g. "HUP") to the pipeline.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal} failed");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, once the pipeline has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL: no final checkpoint, no goodbye.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the final checkpoint and exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().expect("wait for vbp-watch")
    }

    /// `/healthz` as JSON, when the pipeline answers.
    pub fn health(&self) -> Option<Value> {
        let (_, body) = http_get(&self.addr, "/healthz")?;
        serde_json::from_str(&body).ok()
    }

    /// The firing alerts of `/api/alerts`.
    pub fn alerts(&self) -> Vec<Value> {
        let (status, body) = self.get("/api/alerts").unwrap_or_else(|| panic!("no answer from {}", self.addr));
        assert_eq!(status, 200, "/api/alerts: {body}");
        serde_json::from_str(&body).expect("/api/alerts is a JSON array")
    }

    pub fn metrics(&self) -> String {
        self.get("/metrics").map(|(_, b)| b).unwrap_or_default()
    }

    /// GET with the pipeline's token, if it has one.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        exchange(&self.addr, "GET", path, self.token.as_deref(), Duration::from_secs(10))
    }

    /// Waits until the pipeline has caught up with its partitions and
    /// evaluated; panics with its log after `limit`.
    pub fn wait_caught_up(&mut self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("vbp-watch exited ({status}):\n{}", self.log_text());
            }
            if let Some(h) = self.health() {
                if h["caught_up"] == true && !h["last_evaluation"].is_null() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("vbp-watch did not catch up within {limit:?}:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for LivePipeline {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A firing alert reduced to what must agree between two runs: name,
/// key labels, severity and measured value.
pub fn alert_fact(alert: &Value) -> String {
    let name = alert["alertname"].as_str().unwrap_or("");
    format!("{} {} {}", crate::alert_key(alert, crate::key_labels(name)), alert["severity"], alert["value"])
}
