//! The processes under test: `authsec console` and `notes-server`, started as a deployment
//! would start them, logging to files, stopped with SIGTERM; and their resident memory.

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A free loopback port (bound, then released for the process that will use it).
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// How to start one process.
#[derive(Clone)]
pub struct Spec {
    /// A short name for messages.
    pub name: &'static str,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// stdout and stderr are appended here.
    pub log: PathBuf,
    /// Where the pids of started processes are recorded (for the script's clean-up).
    pub pid_file: PathBuf,
}

/// A running process.
pub struct Proc {
    spec: Spec,
    child: Child,
}

impl Proc {
    /// Starts `spec`.
    pub fn start(spec: &Spec) -> Result<Proc, String> {
        let log = |what| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&spec.log)
                .map_err(|e| format!("{what} {}: {e}", spec.log.display()))
        };
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log("cannot open")?))
            .stderr(Stdio::from(log("cannot open")?))
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", spec.program.display()))?;
        if let Some(pid) = child.id() {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&spec.pid_file)
                .map_err(|e| format!("cannot open {}: {e}", spec.pid_file.display()))?;
            use std::io::Write as _;
            let _ = writeln!(f, "{pid}");
        }
        Ok(Proc {
            spec: spec.clone(),
            child,
        })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits until `ready` holds (polled every 50 ms) or the process exits or `limit` passes.
    pub async fn wait_ready<F, Fut>(&mut self, limit: Duration, mut ready: F) -> Result<(), String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if ready().await {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before it was ready; see {}",
                    self.spec.name,
                    self.spec.log.display()
                ));
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "{} not ready after {limit:?}; see {}",
                    self.spec.name,
                    self.spec.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits up to `grace` for the exit (SIGKILL after that). True when it
    /// stopped by itself.
    pub async fn stop(mut self, grace: Duration) -> bool {
        let Some(pid) = self.child.id() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(_) => true,
            Err(_) => {
                let _ = self.child.kill().await;
                false
            }
        }
    }

    /// True when the process has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

/// Resident set size of process `pid` in KiB (`VmRSS` in `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The last `n` lines of a log file, for failure reports.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
