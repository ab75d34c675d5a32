//! A real Kafka-compatible broker for the end-to-end tests: `tansu`, one per
//! test on its own loopback port, with the client side (topics, producing,
//! consuming) done by `tests/harness/kafka_tool.py` in `tests/.venv`.
//!
//! A real broker rather than a mock, so that the pipeline's live mode is
//! tested against the Kafka protocol it will meet in production. Missing tools
//! panic: `tests/harness/ensure-tools.sh` installs them (tests/run.sh runs it
//! first), and a test that silently skipped would prove nothing.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{free_port, scratch, workspace};

const HOW_TO_INSTALL: &str = "run tests/harness/ensure-tools.sh (tests/run.sh does) to install it";

/// How long a broker may take to start accepting Kafka requests.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The tansu binary: `$TANSU_BIN`, else `tansu` on `PATH`, else where
/// `cargo install` puts it (`~/.cargo/bin` is often not on a test's `PATH`).
fn tansu() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::var_os("TANSU_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::split_paths(&path).map(|dir| dir.join("tansu")))
        .chain(std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin/tansu")))
        .find(|candidate| candidate.is_file());
    found.unwrap_or_else(|| panic!("the tansu broker is not installed: {HOW_TO_INSTALL}"))
}

/// The venv's Python, which has kafka-python.
fn python() -> PathBuf {
    let python = workspace().join("tests/.venv/bin/python");
    assert!(python.exists(), "{} is missing (venv with kafka-python): {HOW_TO_INSTALL}", python.display());
    python
}

/// A running tansu broker, killed on drop.
pub struct Broker {
    port: u16,
    /// `memory://…` or `sqlite://…` (a path relative to `dir`).
    storage: &'static str,
    /// Scratch directory: tansu's working directory (its sqlite file) and
    /// `broker.log`, its output, kept for diagnosing a failed test.
    dir: PathBuf,
    child: Option<Child>,
    /// The SCRAM user every client must log in as, when the broker
    /// requires authentication ([`Broker::start_scram`]).
    scram: Option<(String, String)>,
}

impl Broker {
    /// A broker with in-memory storage, on a fresh loopback port, ready to
    /// accept Kafka requests. Its data dies with it: for tests that do not
    /// restart the broker.
    pub fn start(name: &str) -> Broker {
        Self::launch(name, "memory://tansu/")
    }

    /// A broker whose data is kept in an sqlite file in its scratch
    /// directory, so that `stop` and `restart` keep every topic and message:
    /// for tests of the pipeline surviving a broker outage.
    pub fn start_persistent(name: &str) -> Broker {
        // tansu resolves an sqlite URL against its working directory.
        Self::launch(name, "sqlite://tansu.db")
    }

    fn launch(name: &str, storage: &'static str) -> Broker {
        let dir = scratch(&format!("broker-{name}"));
        let mut last_error = String::new();
        for _ in 0..3 {
            let mut broker = Broker { port: free_port(), storage, dir: dir.clone(), child: None, scram: None };
            match broker.spawn() {
                Ok(()) => return broker,
                Err(e) => last_error = e,
            }
        }
        panic!("tansu did not start: {last_error}");
    }

    /// A broker that requires SASL/SCRAM-SHA-512 of every client, with one
    /// user. Its data is in sqlite (tansu 0.6 keeps SCRAM credentials only
    /// there); the user is created with `tansu user create` before the
    /// broker is restarted with `--authentication` (the command does not
    /// log in itself). The harness's own clients log in as that user.
    pub fn start_scram(name: &str, user: &str, password: &str) -> Broker {
        let mut broker = Self::launch(name, "sqlite://tansu.db");
        let out = Command::new(tansu())
            .args(["user", "create", "--broker", &format!("tcp://{}", broker.bootstrap()), "--mechanism", "scram512", user, password])
            .current_dir(&broker.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tansu user create: {e}"));
        assert!(out.status.success(), "tansu user create failed: {}", String::from_utf8_lossy(&out.stderr));
        broker.scram = Some((user.to_string(), password.to_string()));
        broker.restart();
        broker
    }

    /// `127.0.0.1:PORT`, for clients and for the pipeline's `--bootstrap`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The scratch directory (tansu's data and `broker.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the broker (SIGKILL, as in a crash: what was acknowledged must
    /// survive it). Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker if it runs, then starts it again on the same port
    /// with the same storage, and waits until it accepts requests. Only a
    /// persistent broker keeps its data across this.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn().unwrap_or_else(|e| panic!("tansu did not restart on port {}: {e}", self.port));
    }

    /// Starts tansu and waits until it answers a Kafka request; on failure
    /// it is killed and the error carries the end of its log.
    fn spawn(&mut self) -> Result<(), String> {
        let log_path = self.dir.join("broker.log");
        // Appended, so that the log of a restarted broker shows every run.
        let log = OpenOptions::new().create(true).append(true).open(&log_path).expect("broker.log is writable");
        let url = format!("tcp://{}", self.bootstrap());
        let started = Instant::now();
        let mut command = Command::new(tansu());
        command.args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", self.storage]);
        if self.scram.is_some() {
            command.arg("--authentication");
        }
        let child = command
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run tansu: {e}; {HOW_TO_INSTALL}"));
        self.child = Some(child);
        let ready = self.wait_ready();
        if ready.is_err() {
            self.stop();
        }
        let tail = || std::fs::read_to_string(&log_path).unwrap_or_default().lines().rev().take(20).collect::<Vec<_>>().join("\n");
        ready.map_err(|e| format!("{e}\nend of {} (newest first):\n{}", log_path.display(), tail()))?;
        eprintln!("tansu {} on {} ready in {} ms", self.storage, self.bootstrap(), started.elapsed().as_millis());
        Ok(())
    }

    /// Polls until tansu answers a Kafka request (listing topics), with a
    /// cheap TCP connect first since each request costs a Python start.
    /// Whether tansu still runs is checked each time, last after the answer:
    /// if it could not bind the port, whatever answers there is not ours.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.check_running()?;
            let failure = if TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                format!("port {} not open", self.port)
            } else {
                let out = self.tool_output(&["list-topics"]);
                if out.status.success() {
                    return self.check_running();
                }
                format!("no Kafka answer: {}", String::from_utf8_lossy(&out.stderr))
            };
            if Instant::now() > deadline {
                return Err(format!("{failure} after {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn check_running(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => Ok(()),
            Some(Ok(Some(status))) => Err(format!("tansu exited with {status}")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("tansu is not running".into()),
        }
    }

    fn tool_output(&self, args: &[&str]) -> std::process::Output {
        let (command, rest) = args.split_first().expect("a subcommand");
        let mut tool = Command::new(python());
        if let Some((user, password)) = &self.scram {
            tool.env("VBP_TEST_SASL", format!("{user}:{password}"));
        }
        tool.arg(workspace().join("tests/harness/kafka_tool.py"))
            .args([command, "--bootstrap", &self.bootstrap()])
            .args(rest)
            .output()
            .unwrap_or_else(|e| panic!("cannot run kafka_tool.py: {e}"))
    }

    /// Runs `kafka_tool.py SUBCOMMAND --bootstrap <this broker> ARGS...`
    /// and returns its stdout; panics with its stderr when it fails.
    pub fn tool(&self, args: &[&str]) -> String {
        let out = self.tool_output(args);
        assert!(out.status.success(), "kafka_tool.py {args:?} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("kafka_tool.py prints UTF-8")
    }

    /// Creates the topics that do not exist yet, with `partitions` each.
    /// Explicitly, so that a test controls the partition count rather than a
    /// broker default.
    pub fn create_topics(&self, partitions: u32, topics: &[&str]) {
        let partitions = partitions.to_string();
        let mut args = vec!["create-topics", "--partitions", &partitions];
        args.extend_from_slice(topics);
        self.tool(&args);
    }

    /// Produces NDJSON event files, each to `vbp.<file stem>`, keyed by
    /// institution code as the real producers are; returns the number of
    /// messages per topic.
    pub fn produce_files(&self, files: &[PathBuf]) -> BTreeMap<String, u64> {
        self.produce_with(&[], files)
    }

    /// `produce_files` with kafka_tool.py options, e.g.
    /// `["--topic-prefix", "run2.", "--rate", "200", "--lines", "0:100"]`.
    pub fn produce_with(&self, options: &[&str], files: &[PathBuf]) -> BTreeMap<String, u64> {
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let mut args = vec!["produce"];
        args.extend_from_slice(options);
        args.extend(files.iter().map(String::as_str));
        let out = self.tool(&args);
        out.lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(topic, n)| (topic.to_string(), n.parse().expect("kafka_tool.py prints counts")))
            .collect()
    }

    /// Produces one message with arbitrary bytes (malformed or oversized
    /// input for dead-letter tests); an empty `key` means none. Returns
    /// `{"partition", "offset"}`. The bytes go through a file because a
    /// command-line argument is limited to 128 KiB.
    pub fn produce_raw(&self, topic: &str, key: &str, bytes: &[u8]) -> Value {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let file = self.dir.join(format!("raw-{}.bin", COUNT.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&file, bytes).expect("scratch dir is writable");
        let out = self.tool(&["produce-raw", "--topic", topic, "--key", key, "--file", &file.display().to_string()]);
        serde_json::from_str(&out).expect("kafka_tool.py prints JSON")
    }

    /// Every message of `topic` from the beginning, sorted by partition and
    /// offset, as `{"partition","offset","key","value"}` (`value_base64`
    /// instead when not UTF-8, `headers` when any); returns once it has read
    /// at least `expect` and no message came for 2 s (or after 90 s without
    /// `expect`, so that the caller's count assertion says what is missing).
    pub fn consume(&self, topic: &str, expect: usize) -> Vec<Value> {
        let out = self.tool(&["consume", "--topic", topic, "--expect", &expect.to_string()]);
        out.lines().map(|line| serde_json::from_str(line).expect("kafka_tool.py prints JSON lines")).collect()
    }
}

impl Drop for Broker {
    /// A test that panics must not leave a broker running.
    fn drop(&mut self) {
        self.stop();
    }
}


/// The lines `produce_files` sends of an NDJSON file, as the pipeline's file
/// source reads them: without `\n` or `\r\n`, whitespace-only lines skipped,
/// every other line byte for byte (even when not UTF-8 or not JSON).
pub fn event_lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect()
}

/// The bytes of a consumed message's value, from `value` or `value_base64`
/// (hand-decoded: the tests crate has no base64 dependency).
pub fn value_bytes(message: &Value) -> Vec<u8> {
    if let Some(text) = message["value"].as_str() {
        return text.as_bytes().to_vec();
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let encoded = message["value_base64"].as_str().unwrap_or_else(|| panic!("message without a value: {message}"));
    let (mut bits, mut count, mut out) = (0u32, 0, Vec::new());
    for c in encoded.bytes().filter(|&c| c != b'=') {
        let sextet = ALPHABET.iter().position(|&a| a == c).unwrap_or_else(|| panic!("not base64: {encoded}"));
        bits = (bits << 6) | sextet as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}
