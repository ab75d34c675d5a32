//! Helpers for `tests/tests/observability.rs`: the real Prometheus,
//! promtool, Alertmanager, amtool and Chromium (Debian packages, installed by
//! `tests/harness/ensure-tools.sh`), started on free loopback ports with
//! throw-away data directories and stopped on drop; a tiny HTTP/1.0 client
//! and a webhook receiver on `std::net`, so the tests need no extra crates.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::free_port;

// ---------------------------------------------------------------------------
// Tools

pub const PROMETHEUS: &str = "/usr/bin/prometheus";
pub const PROMTOOL: &str = "/usr/bin/promtool";
pub const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
pub const AMTOOL: &str = "/usr/bin/amtool";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The path of a tool the tests cannot do without; panics (never skips)
/// with what to install when it is missing.
pub fn require(tool: &str) -> &str {
    let package = match tool {
        PROMETHEUS | PROMTOOL => "prometheus",
        ALERTMANAGER | AMTOOL => "prometheus-alertmanager",
        CHROMIUM => "chromium (and fonts-noto-cjk for the Chinese glyphs)",
        _ => "?",
    };
    assert!(
        Path::new(tool).exists(),
        "{tool} is missing: install the Debian package {package} (bash tests/harness/ensure-tools.sh does)"
    );
    tool
}

/// `python3`, for deploy/gen-alertmanager.py and grafana/build-dashboards.py.
pub fn python() -> String {
    for candidate in ["python3", "/usr/bin/python3"] {
        if Command::new(candidate).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return candidate.to_string();
        }
    }
    panic!("python3 is missing: install the Debian package python3");
}

/// `promtool check metrics` on an exposition: whether it passed, and all
/// it said (nothing, for a clean one).
pub fn lint_metrics(exposition: &str) -> (bool, String) {
    let mut lint = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool check metrics");
    lint.stdin.take().expect("stdin").write_all(exposition.as_bytes()).expect("feed /metrics");
    let out = lint.wait_with_output().expect("promtool check metrics");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Runs a command to completion; panics with its output unless it succeeds.
pub fn run_tool(program: &str, args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

// ---------------------------------------------------------------------------
// Ports, waiting, processes

/// Polls `probe` every 100 ms until it returns Some, or panics after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// A child process with its output in a log file; terminated (SIGTERM, then
/// SIGKILL after 5 s) when dropped.
pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    pub fn spawn(name: &str, program: &str, args: &[String], log: &Path) -> Proc {
        let out = File::create(log).unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log handle");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Proc { name: name.to_string(), log: log.to_path_buf(), child: Some(child) }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Panics with the log's tail if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited early ({status}):\n{}", self.name, self.log_tail());
            }
        }
    }

    /// The last 40 lines of the log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGTERM, wait up to 10 s (then SIGKILL); returns once it has exited.
    pub fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(None) = child.try_wait() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
    }
}

// ---------------------------------------------------------------------------
// HTTP

/// Percent-encodes a query-string value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// One HTTP/1.0 exchange (the server closes the connection, so no chunking
/// is needed, but chunked answers are decoded anyway). `addr` is host:port.
pub fn http(addr: &str, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<(u16, Vec<u8>), String> {
    http_with(addr, method, path, &[], body).map(|(status, body, _)| (status, body))
}

/// [`http`] with request headers (e.g. `Authorization`, `Cookie`);
/// returns the response's head too.
pub fn http_with(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Option<(&str, &[u8])>) -> Result<(u16, Vec<u8>, String), String> {
    let sock = addr.to_socket_addrs().map_err(|e| e.to_string())?.next().ok_or("no address")?;
    let mut stream = TcpStream::connect_timeout(&sock, Duration::from_secs(3)).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, bytes)) = body {
        request.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n", bytes.len()));
    }
    request.push_str("\r\n");
    let mut raw = request.into_bytes();
    if let Some((_, bytes)) = body {
        raw.extend_from_slice(bytes);
    }
    stream.write_all(&raw).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("{addr}{path}: {e}"))?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    let mut payload = answer[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    Ok((status, payload, head))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 4 + size).min(data.len())..];
    }
    out
}

/// GET, expecting 200 and JSON.
pub fn get_json(addr: &str, path: &str) -> Result<Value, String> {
    let (status, body) = http(addr, "GET", path, None)?;
    if status != 200 {
        return Err(format!("GET {addr}{path}: {status} {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {addr}{path}: not JSON: {e}"))
}

pub fn get_text(addr: &str, path: &str) -> Result<String, String> {
    let (status, body) = http(addr, "GET", path, None)?;
    if status != 200 {
        return Err(format!("GET {addr}{path}: {status}"));
    }
    Ok(String::from_utf8_lossy(&body).to_string())
}

// ---------------------------------------------------------------------------
// Webhook receiver

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub body: Value,
    pub at: Instant,
}

/// Records every POST body by path and answers 200; a thread per connection
/// (Alertmanager keeps connections alive).
pub struct WebhookReceiver {
    pub addr: String,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl WebhookReceiver {
    pub fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook receiver");
        let addr = listener.local_addr().expect("address").to_string();
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&deliveries);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = Arc::clone(&sink);
                thread::spawn(move || serve_connection(stream, sink));
            }
        });
        WebhookReceiver { addr, deliveries }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().map(|d| d.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.deliveries.lock().map(|d| d.len()).unwrap_or(0)
    }
}

fn serve_connection(stream: TcpStream, sink: Arc<Mutex<Vec<Delivery>>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let lower = header.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let body = if chunked {
            let mut raw = Vec::new();
            loop {
                let mut size = String::new();
                if reader.read_line(&mut size).unwrap_or(0) == 0 {
                    return;
                }
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                if reader.read_exact(&mut chunk).is_err() {
                    return;
                }
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&chunk[..n]);
            }
            raw
        } else {
            let mut raw = vec![0; length];
            if reader.read_exact(&mut raw).is_err() {
                return;
            }
            raw
        };
        let body = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).to_string()));
        if let Ok(mut all) = sink.lock() {
            all.push(Delivery { path, body, at: Instant::now() });
        }
        if writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_err() {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// vbp-watch demo

/// `vbp-watch demo` on a free port, writing into `out`.
pub struct Demo {
    pub addr: String,
    pub out: PathBuf,
    pub proc: Proc,
}

impl Demo {
    pub fn start(out: &Path, seed: u64, day_seconds: f64, alertmanager: Option<&str>) -> Demo {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        // JSON logs, which every_dashboard_panel… checks line by line.
        let mut args: Vec<String> = [
            "--log-format",
            "json",
            "demo",
            "--out",
            &out.display().to_string(),
            "--scale",
            "small",
            "--seed",
            &seed.to_string(),
            "--day-seconds",
            &day_seconds.to_string(),
            "--http-listen",
            &addr,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(url) = alertmanager {
            args.extend(["--alertmanager-url".to_string(), url.to_string()]);
        }
        let log = out.with_extension("log");
        let bin = crate::vbp_watch();
        let mut proc = Proc::spawn("vbp-watch demo", &bin.display().to_string(), &args, &log);
        // The demo binds its port before it simulates: wait for both.
        let planted = out.join("planted.json");
        wait_for(Duration::from_secs(120), "vbp-watch demo to serve /healthz and write planted.json", || {
            proc.assert_running();
            get_json(&addr, "/healthz").ok().filter(|_| planted.exists())
        });
        Demo { addr, out: out.to_path_buf(), proc }
    }

    /// The planted answer (written by the simulator before streaming).
    pub fn planted(&self) -> Value {
        let path = self.out.join("planted.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Waits until the stream is done: /healthz `last_evaluation` is the
    /// planted `as_of` (the demo's last evaluation), and the demo has
    /// written its outputs ("the stream is done" on stderr). Returns as_of.
    pub fn wait_done(&mut self, timeout: Duration) -> String {
        let as_of = self.planted()["as_of"].as_str().expect("planted.json as_of").to_string();
        let want = chrono::DateTime::parse_from_rfc3339(&as_of).expect("as_of is RFC 3339");
        let addr = self.addr.clone();
        let proc = &mut self.proc;
        wait_for(timeout, "the demo's stream to reach the planted as_of", || {
            proc.assert_running();
            let health = get_json(&addr, "/healthz").ok()?;
            let last = health["last_evaluation"].as_str()?;
            let last = chrono::DateTime::parse_from_rfc3339(last).ok()?;
            (last == want).then_some(())
        });
        // Its NDJSON outputs are complete once it says so.
        let log = self.proc.log.clone();
        let proc = &mut self.proc;
        wait_for(Duration::from_secs(60), "the demo to finish writing its outputs", || {
            proc.assert_running();
            std::fs::read_to_string(&log).ok().filter(|l| l.contains("the stream is done")).map(|_| ())
        });
        as_of
    }

    /// /healthz `last_evaluation`, the instant T of the last evaluation.
    pub fn last_evaluation(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        let health = get_json(&self.addr, "/healthz").ok()?;
        chrono::DateTime::parse_from_rfc3339(health["last_evaluation"].as_str()?).ok()
    }

    /// Waits until the stream has evaluated at `t` or later; returns the
    /// instant it had reached.
    pub fn wait_evaluated(
        &mut self,
        t: chrono::DateTime<chrono::FixedOffset>,
        timeout: Duration,
    ) -> chrono::DateTime<chrono::FixedOffset> {
        let start = Instant::now();
        loop {
            self.proc.assert_running();
            if let Some(at) = self.last_evaluation().filter(|at| *at >= t) {
                return at;
            }
            assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for the demo to evaluate at {t}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn alerts(&self) -> Vec<Value> {
        get_json(&self.addr, "/api/alerts").expect("/api/alerts").as_array().cloned().expect("/api/alerts is an array")
    }

    pub fn metrics(&self) -> String {
        get_text(&self.addr, "/metrics").expect("/metrics")
    }

    /// The value of one unlabelled sample in /metrics (e.g. a counter or a
    /// histogram's `_count`).
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics()
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }
}

/// `labels` of an alert object (SPEC §7) or an Alertmanager alert, as a map.
pub fn labels_of(alert: &Value) -> BTreeMap<String, String> {
    alert["labels"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

/// A readable identity for messages: alertname and the key labels.
pub fn describe(labels: &BTreeMap<String, String>) -> String {
    let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
    let name = get("alertname");
    let keys: Vec<String> = match name {
        "SelectedProductNotEntered" | "ProcurementBehindSchedule" | "NonSelectedShareHigh" | "OrderUndelivered"
        | "SupplyBreak" | "PaymentOverdue" => {
            crate::key_labels(name).iter().map(|k| format!("{k}={}", get(k))).collect()
        }
        _ => labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    };
    format!("{name}/{} {{{}}}", get("severity"), keys.join(","))
}

// ---------------------------------------------------------------------------
// Prometheus and Alertmanager

/// A Prometheus server with its own data directory.
pub struct Prometheus {
    pub addr: String,
    pub proc: Proc,
}

impl Prometheus {
    /// Writes `config` into `dir/prometheus.yml` next to a copy of
    /// deploy/rules/ (rule_files are relative to the config) and starts
    /// Prometheus on a free port.
    pub fn start(dir: &Path, config: &str) -> Prometheus {
        require(PROMETHEUS);
        copy_dir(&crate::workspace().join("deploy").join("rules"), &dir.join("rules"));
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let args = vec![
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address={addr}"),
            "--log.level=warn".to_string(),
        ];
        let mut proc = Proc::spawn("prometheus", PROMETHEUS, &args, &dir.join("prometheus.log"));
        wait_for(Duration::from_secs(60), "Prometheus to be ready", || {
            proc.assert_running();
            http(&addr, "GET", "/-/ready", None).ok().filter(|(s, _)| *s == 200)
        });
        Prometheus { addr, proc }
    }

    /// An instant query; Err with Prometheus's error for a bad expression.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let answer = get_json(&self.addr, &format!("/api/v1/query?query={}", url_encode(expr)))
            .or_else(|e| {
                // 400/422 carry the parse error in JSON too.
                let (_, body) = http(&self.addr, "GET", &format!("/api/v1/query?query={}", url_encode(expr)), None)?;
                serde_json::from_slice::<Value>(&body).map_err(|_| e)
            })?;
        if answer["status"] != "success" {
            return Err(format!("{}: {}", answer["errorType"], answer["error"]));
        }
        match answer["data"]["resultType"].as_str() {
            Some("vector") | Some("matrix") => Ok(answer["data"]["result"].as_array().cloned().unwrap_or_default()),
            Some("scalar") | Some("string") => Ok(vec![answer["data"]["result"].clone()]),
            other => Err(format!("unexpected result type {other:?}")),
        }
    }

    /// Number of successful scrapes of `job` so far (samples of `up` == 1
    /// over the last 5 minutes).
    pub fn scrapes(&self, job: &str) -> usize {
        self.query(&format!("count_over_time(up{{job=\"{job}\"}}[5m])"))
            .ok()
            .and_then(|r| r.first().and_then(|s| s["value"][1].as_str().and_then(|v| v.parse::<f64>().ok())))
            .unwrap_or(0.0) as usize
    }
}

/// An Alertmanager with its own storage directory (kept across restarts)
/// and clustering off.
pub struct Alertmanager {
    pub addr: String,
    pub config: PathBuf,
    pub storage: PathBuf,
    pub proc: Proc,
    restarts: u32,
}

impl Alertmanager {
    pub fn start(dir: &Path, config: &str) -> Alertmanager {
        require(ALERTMANAGER);
        let config_path = dir.join("alertmanager.yml");
        std::fs::write(&config_path, config).expect("write alertmanager.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let storage = dir.join("am-data");
        std::fs::create_dir_all(&storage).expect("create Alertmanager storage");
        let proc = Self::spawn(&addr, &config_path, &storage, &dir.join("alertmanager-0.log"));
        Alertmanager { addr, config: config_path, storage, proc, restarts: 0 }
    }

    fn spawn(addr: &str, config: &Path, storage: &Path, log: &Path) -> Proc {
        let args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.path={}", storage.display()),
            format!("--web.listen-address={addr}"),
            "--cluster.listen-address=".to_string(),
            "--log.level=info".to_string(),
        ];
        let mut proc = Proc::spawn("alertmanager", ALERTMANAGER, &args, log);
        wait_for(Duration::from_secs(60), "Alertmanager to be ready", || {
            proc.assert_running();
            http(addr, "GET", "/-/ready", None).ok().filter(|(s, _)| *s == 200)
        });
        proc
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops it gracefully (SIGTERM: it snapshots its notification log).
    pub fn stop(&mut self) {
        self.proc.terminate();
    }

    /// Starts it again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.restarts += 1;
        let log = self.config.with_file_name(format!("alertmanager-{}.log", self.restarts));
        self.proc = Self::spawn(&self.addr, &self.config, &self.storage, &log);
    }

    /// Every alert it holds that has not ended (active, suppressed, unprocessed).
    pub fn alerts(&self) -> Vec<Value> {
        get_json(&self.addr, "/api/v2/alerts").expect("GET /api/v2/alerts").as_array().cloned().unwrap_or_default()
    }

    /// Alerts matching one `label="value"` filter (the API's `filter`).
    pub fn alerts_filtered(&self, filters: &[String]) -> Vec<Value> {
        let query: Vec<String> = filters.iter().map(|f| format!("filter={}", url_encode(f))).collect();
        get_json(&self.addr, &format!("/api/v2/alerts?{}", query.join("&")))
            .expect("GET /api/v2/alerts?filter=…")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy file");
        }
    }
}

/// deploy/prometheus.yml made to scrape `target` every second and send to
/// `alertmanager`, by replacing its addresses and intervals (asserting that
/// each replacement happened, so the test follows the real file).
pub fn test_prometheus_config(target: &str, alertmanager: &str) -> String {
    let path = crate::workspace().join("deploy").join("prometheus.yml");
    let mut text = std::fs::read_to_string(&path).expect("read deploy/prometheus.yml");
    for (from, to) in [
        ("'127.0.0.1:9464'", format!("'{target}'")),
        ("'127.0.0.1:9093'", format!("'{alertmanager}'")),
        ("scrape_interval: 15s", "scrape_interval: 1s".to_string()),
        ("evaluation_interval: 15s", "evaluation_interval: 1s".to_string()),
    ] {
        assert!(text.contains(from), "deploy/prometheus.yml no longer contains {from}; update the test");
        text = text.replace(from, &to);
    }
    text
}

/// Runs deploy/gen-alertmanager.py; returns the YAML.
pub fn generate_alertmanager(divisions: &Path, webhook_base: &str, extra: &[&str]) -> String {
    let script = crate::workspace().join("deploy").join("gen-alertmanager.py");
    let mut args = vec![
        script.display().to_string(),
        divisions.display().to_string(),
        "--webhook-base".to_string(),
        webhook_base.to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_tool(&python(), &args, &crate::workspace());
    String::from_utf8(out.stdout).expect("UTF-8 YAML")
}

/// divisions.csv rows: (code, name).
pub fn read_divisions(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (code, name) = l.split_once(',').unwrap_or((l, ""));
            (code.trim().to_string(), name.trim().trim_matches('"').to_string())
        })
        .collect()
}

pub fn level_of(code: &str) -> &'static str {
    if code.ends_with("0000") {
        "province"
    } else if code.ends_with("00") {
        "city"
    } else {
        "district"
    }
}

// ---------------------------------------------------------------------------
// Dashboards

/// One query of one panel.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub dashboard: String,
    pub panel: String,
    pub live_only: bool,
    pub expr: String,
}

/// Every dashboard JSON under grafana/dashboards/, parsed.
pub fn dashboards() -> Vec<(String, Value)> {
    let dir = crate::workspace().join("grafana").join("dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read dashboard");
            let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().to_string(), json)
        })
        .collect()
}

/// Every `targets[].expr` of every panel (rows' nested panels included).
pub fn panel_queries(file: &str, dashboard: &Value) -> Vec<PanelQuery> {
    fn walk(file: &str, panels: &Value, out: &mut Vec<PanelQuery>) {
        for panel in panels.as_array().into_iter().flatten() {
            walk(file, &panel["panels"], out);
            let title = panel["title"].as_str().unwrap_or("").to_string();
            let live_only = panel["description"].as_str().is_some_and(|d| d.contains("live only"));
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push(PanelQuery { dashboard: file.to_string(), panel: title.clone(), live_only, expr: expr.to_string() });
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(file, &dashboard["panels"], &mut out);
    out
}

/// Replaces `$name` and `${name}` of `values` (longest names first) and
/// Grafana's interval variables; panics if a `$word` is left.
pub fn substitute(expr: &str, values: &BTreeMap<String, String>) -> String {
    let mut all: Vec<(String, String)> = values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in [("__rate_interval", "1m"), ("__interval", "15s"), ("__range", "1h")] {
        all.push((k.to_string(), v.to_string()));
    }
    all.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut out = expr.to_string();
    for (k, v) in &all {
        out = out.replace(&format!("${{{k}}}"), v).replace(&format!("${k}"), v);
    }
    let bytes = out.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'$' && bytes.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b'{') {
            panic!("unresolved template variable in {out}");
        }
    }
    out
}

/// Headless Chromium on `url` with `extra` flags (the probe's flags: no
/// network of its own, a fresh profile).
pub fn chromium(profile: &Path, url: &str, extra: &[String]) -> std::process::Output {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().cloned());
    args.push(url.to_string());
    let out = Command::new(CHROMIUM).args(&args).output().expect("run chromium");
    assert!(out.status.success(), "chromium {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The DOM Chromium renders of `url`, and a screenshot of it at `shot`.
pub fn rendered(profile: &Path, url: &str, shot: &Path, height: u32) -> String {
    let dom = String::from_utf8(chromium(profile, url, &["--dump-dom".to_string()]).stdout).expect("UTF-8 DOM");
    let size = format!("--window-size=1400,{height}");
    chromium(profile, url, &[format!("--screenshot={}", shot.display()), size, "--hide-scrollbars".to_string()]);
    let bytes = std::fs::metadata(shot).map(|m| m.len()).unwrap_or(0);
    assert!(bytes > 10_000, "a screenshot was written to {} ({bytes} bytes)", shot.display());
    dom
}

