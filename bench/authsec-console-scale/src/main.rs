//! Scale test of `authsec console` as the SDKs' policy endpoint.
//!
//! Starts one or more `authsec console` processes (SQLite in the work directory, or one
//! PostgreSQL database shared by every instance), creates `--servers` resource servers through
//! the admin API, and holds `--waiters` long-polls per resource server
//! (`GET /authsec/resource-servers/{id}/sdk-policy?wait_for_generation=N`, HTTP Basic with that
//! resource server's credentials), spread over the instances and over several 127.0.0.x
//! source addresses. Each waiter re-polls with the generation it was answered, as the SDK does.
//!
//! Reports every console's resident memory (`VmRSS`) idle and with every waiter held, then
//! makes admin-API changes (a new scope: the generation moves) and reports, per change, the
//! time from just before the admin call to each waiter of that resource server being answered
//! with the new generation: p50/p99 over all waiters and over "every waiter of the server
//! answered". `--all-at-once` changes every resource server at the same time instead of one
//! after the other. Exits non-zero if a waiter is not answered within 30 s or the console dies.
//!
//! usage: authsec-console-scale --authsec BIN --work-dir DIR [--servers 100] [--waiters 100]
//!        [--instances 1] [--database-url URL] [--changes 10] [--all-at-once] [--source-addrs 4]
//!        [--hold SECS (keep every waiter held this long before the changes, for a profiler)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::{Child, Command};

struct Args {
    authsec: PathBuf,
    work_dir: PathBuf,
    servers: usize,
    waiters: usize,
    instances: usize,
    database_url: Option<String>,
    changes: usize,
    all_at_once: bool,
    source_addrs: u8,
    hold: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        authsec: PathBuf::new(),
        work_dir: PathBuf::new(),
        servers: 100,
        waiters: 100,
        instances: 1,
        database_url: None,
        changes: 10,
        all_at_once: false,
        source_addrs: 4,
        hold: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--all-at-once" {
            a.all_at_once = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag} {v}: not a number"))
        };
        match flag.as_str() {
            "--authsec" => a.authsec = value.into(),
            "--work-dir" => a.work_dir = value.into(),
            "--servers" => a.servers = num(&value)?,
            "--waiters" => a.waiters = num(&value)?,
            "--instances" => a.instances = num(&value)?.max(1),
            "--database-url" => a.database_url = Some(value),
            "--changes" => a.changes = num(&value)?,
            "--hold" => a.hold = num(&value)? as u64,
            "--source-addrs" => {
                a.source_addrs = u8::try_from(num(&value)?.clamp(1, 250)).unwrap_or(1)
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if a.authsec.as_os_str().is_empty() || a.work_dir.as_os_str().is_empty() {
        return Err("--authsec and --work-dir are required".into());
    }
    if a.instances > 1 && a.database_url.is_none() {
        return Err("several instances need a shared --database-url (PostgreSQL)".into());
    }
    Ok(a)
}

/// A free loopback port (bound, then released for the console).
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Resident set size of `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Established TCP connections whose local port is `port` (the console's side of each).
fn established_on(port: u16) -> usize {
    let hex = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .map(|t| {
            t.lines()
                .skip(1)
                .filter(|l| {
                    let mut f = l.split_whitespace();
                    let local = f.nth(1).unwrap_or("");
                    let state = f.nth(1).unwrap_or("");
                    local.ends_with(&hex) && state == "01"
                })
                .count()
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Console {
    base: String,
    port: u16,
    child: Child,
}

impl Console {
    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

async fn start_console(args: &Args, n: usize, admin_token: &str) -> Result<Console, String> {
    let port = free_port()?;
    let db = args.database_url.clone().unwrap_or_else(|| {
        args.work_dir
            .join("console.db")
            .to_string_lossy()
            .into_owned()
    });
    let log = std::fs::File::create(args.work_dir.join(format!("console-{n}.log")))
        .map_err(|e| format!("console log: {e}"))?;
    let log2 = log.try_clone().map_err(|e| format!("console log: {e}"))?;
    let child = Command::new(&args.authsec)
        .args(["console", "--database-url", &db, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("AUTHSEC_CONSOLE_ADMIN_TOKEN", admin_token)
        .env("AUTHSEC_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.authsec.display()))?;
    let mut c = Console {
        base: format!("http://127.0.0.1:{port}"),
        port,
        child,
    };
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let url = format!("{}/.well-known/oauth-authorization-server", c.base);
        if matches!(http.get(url).send().await, Ok(r) if r.status().is_success()) {
            return Ok(c);
        }
        if let Ok(Some(status)) = c.child.try_wait() {
            return Err(format!("console {n} exited ({status}); see its log"));
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("console {n} not ready after 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn admin(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Result<Value, String> {
    let resp = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("POST {path}: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("POST {path}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "POST {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("POST {path}: {e}"))
}

fn str_at(v: &Value, pointer: &str) -> Result<String, String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no {pointer} in {v}"))
}

/// A resource server and its SDK credentials.
struct Server {
    id: String,
    secret: String,
}

/// One policy fetch; the generation it was answered with.
async fn fetch_generation(
    http: &reqwest::Client,
    base: &str,
    server: &Server,
    wait_for: Option<i64>,
) -> Result<i64, String> {
    let mut url = format!("{base}/authsec/resource-servers/{}/sdk-policy", server.id);
    if let Some(g) = wait_for {
        url.push_str(&format!("?wait_for_generation={g}"));
    }
    let resp = http
        .get(url)
        .basic_auth(&server.id, Some(&server.secret))
        .send()
        .await
        .map_err(|e| format!("sdk-policy: {e}"))?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| format!("sdk-policy: {e}"))?;
    if !status.is_success() {
        return Err(format!("sdk-policy: {status}"));
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("sdk-policy: {e}"))?;
    v["generation"]
        .as_i64()
        .ok_or_else(|| "sdk-policy: no generation".into())
}

/// What the waiters saw: per resource server, (generation, when) of every answer that moved.
type Answers = Arc<Mutex<Vec<Vec<(i64, Instant)>>>>;

#[tokio::main]
async fn main() -> ExitCode {
    match parse_args() {
        Err(e) => {
            eprintln!("authsec-console-scale: {e}");
            ExitCode::from(2)
        }
        Ok(args) => match run(args).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("authsec-console-scale: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn rss_line(consoles: &[Console]) -> (u64, String) {
    let mut total = 0;
    let parts: Vec<String> = consoles
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let r = rss_kib(c.pid()).unwrap_or(0);
            total += r;
            format!("console {i} {:.1} MiB", mib(r))
        })
        .collect();
    (total, parts.join(", "))
}

async fn run(args: Args) -> Result<bool, String> {
    let admin_token = format!("scale-admin-token-{}", std::process::id());
    let mut consoles = Vec::new();
    for n in 0..args.instances {
        consoles.push(start_console(&args, n, &admin_token).await?);
    }
    let setup_http = reqwest::Client::new();
    let base0 = consoles[0].base.clone();

    // ---- resource servers
    let mut servers = Vec::new();
    for i in 0..args.servers {
        let body = admin(
            &setup_http,
            &base0,
            &admin_token,
            "/api/resource-servers",
            json!({
                "name": format!("scale {i}"),
                "resource_uri": format!("http://127.0.0.1:9/mcp-{i}"),
                "scopes": [{"name": "scale:read"}],
            }),
        )
        .await?;
        servers.push(Server {
            id: str_at(&body, "/resource_server/id")?,
            secret: str_at(&body, "/credentials/client_secret")?,
        });
    }
    let servers = Arc::new(servers);
    let mut generations = Vec::new();
    for s in servers.iter() {
        generations.push(fetch_generation(&setup_http, &base0, s, None).await?);
    }
    drop(setup_http);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle_total, idle) = rss_line(&consoles);
    println!(
        "idle: {} resource servers; RSS {idle} (load average {})",
        args.servers,
        loadavg()
    );

    // ---- waiters
    let total = args.servers * args.waiters;
    let mut clients = HashMap::new();
    for inst in 0..args.instances {
        for a in 0..args.source_addrs {
            let client = reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + a)))
                .pool_idle_timeout(None)
                .build()
                .map_err(|e| format!("HTTP client: {e}"))?;
            clients.insert((inst, a), client);
        }
    }
    let answers: Answers = Arc::new(Mutex::new(vec![Vec::new(); args.servers]));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    for w in 0..total {
        let s = w % args.servers;
        let inst = (w / args.servers) % args.instances;
        let addr = u8::try_from((w / args.servers) % usize::from(args.source_addrs)).unwrap_or(0);
        let http = clients[&(inst, addr)].clone();
        let base = consoles[inst].base.clone();
        let servers = servers.clone();
        let answers = answers.clone();
        let in_flight = in_flight.clone();
        let errors = errors.clone();
        let mut known = generations[s];
        tokio::spawn(async move {
            loop {
                in_flight.fetch_add(1, Ordering::Relaxed);
                let got = fetch_generation(&http, &base, &servers[s], Some(known)).await;
                let at = Instant::now();
                in_flight.fetch_sub(1, Ordering::Relaxed);
                match got {
                    Ok(g) if g != known => {
                        answers.lock().unwrap_or_else(|e| e.into_inner())[s].push((g, at));
                        known = g;
                    }
                    Ok(_) => {} // the long-poll timeout: poll again
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("waiter of server {s}: {e}");
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        // Ramp up: a burst of 10,000 connects would overflow the accept backlog.
        if w % 250 == 249 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Held: every request sent and not answered, every connection established at a console.
    let limit = Instant::now() + Duration::from_secs(120);
    loop {
        let established: usize = consoles.iter().map(|c| established_on(c.port)).sum();
        if in_flight.load(Ordering::Relaxed) >= total && established >= total {
            break;
        }
        if Instant::now() > limit {
            return Err(format!(
                "only {established} of {total} connections established after 120 s ({} errors)",
                errors.load(Ordering::Relaxed)
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let connected = started.elapsed();
    // Let the consoles read every request and settle; keep the highest RSS seen.
    let mut held_total = 0;
    let mut held = String::new();
    let mut last = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (t, line) = rss_line(&consoles);
        if t >= held_total {
            held_total = t;
            held = line;
        }
        if last != 0 && t.abs_diff(last) * 100 < last {
            break;
        }
        last = t;
    }
    println!(
        "held: {total} waiters ({} per resource server) on {} instance(s), all connected after {:.1} s; RSS {held} (load average {})",
        args.waiters,
        args.instances,
        connected.as_secs_f64(),
        loadavg()
    );
    println!(
        "RSS total: idle {:.1} MiB, held {:.1} MiB: {:.1} KiB per waiter",
        mib(idle_total),
        mib(held_total),
        (held_total.saturating_sub(idle_total)) as f64 / total as f64
    );

    if args.hold > 0 {
        println!("holding for {} s", args.hold);
        tokio::time::sleep(Duration::from_secs(args.hold)).await;
    }

    // ---- changes
    let change_http = reqwest::Client::new();
    let mut per_waiter = Vec::new();
    let mut per_change = Vec::new();
    let mut admin_ms = Vec::new();
    let mut ok = true;
    for round in 0..args.changes {
        let targets: Vec<usize> = if args.all_at_once {
            (0..args.servers).collect()
        } else {
            vec![(round * 37) % args.servers]
        };
        let mut calls = Vec::new();
        for &s in &targets {
            let http = change_http.clone();
            let base = consoles[0].base.clone();
            let token = admin_token.clone();
            let id = servers[s].id.clone();
            calls.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let r = admin(
                    &http,
                    &base,
                    &token,
                    &format!("/api/resource-servers/{id}/scopes"),
                    json!({"name": format!("scale:change-{round}")}),
                )
                .await;
                (t0, t0.elapsed(), r)
            }));
        }
        let mut t0s = Vec::new();
        for (call, &s) in calls.into_iter().zip(&targets) {
            let (t0, took, r) = call.await.map_err(|e| format!("admin call: {e}"))?;
            r?;
            admin_ms.push(took.as_secs_f64() * 1000.0);
            t0s.push((s, t0));
        }
        // Wait until every waiter of every changed server has a newer generation.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done = {
                let a = answers.lock().unwrap_or_else(|e| e.into_inner());
                targets.iter().all(|&s| {
                    a[s].iter().filter(|(g, _)| *g > generations[s]).count() >= args.waiters
                })
            };
            if done {
                break;
            }
            if Instant::now() > deadline {
                let a = answers.lock().unwrap_or_else(|e| e.into_inner());
                let missing: usize = targets
                    .iter()
                    .map(|&s| {
                        args.waiters
                            - a[s]
                                .iter()
                                .filter(|(g, _)| *g > generations[s])
                                .count()
                                .min(args.waiters)
                    })
                    .sum();
                println!("change {round}: {missing} waiters not answered within 30 s");
                ok = false;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        {
            let mut a = answers.lock().unwrap_or_else(|e| e.into_inner());
            for (s, t0) in t0s {
                let mut last = 0.0f64;
                let mut newest = generations[s];
                for (g, at) in a[s].drain(..) {
                    if g > generations[s] {
                        let ms = at.saturating_duration_since(t0).as_secs_f64() * 1000.0;
                        per_waiter.push(ms);
                        last = last.max(ms);
                        newest = newest.max(g);
                    }
                }
                per_change.push(last);
                generations[s] = newest;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (after_total, after) = rss_line(&consoles);
    per_waiter.sort_by(f64::total_cmp);
    per_change.sort_by(f64::total_cmp);
    admin_ms.sort_by(f64::total_cmp);
    println!(
        "changes: {} round(s) of {} change(s) ({}); admin API answered p50 {:.1} ms, max {:.1} ms",
        args.changes,
        if args.all_at_once { args.servers } else { 1 },
        if args.all_at_once {
            "every resource server at once"
        } else {
            "one resource server at a time"
        },
        percentile(&admin_ms, 50.0),
        percentile(&admin_ms, 100.0)
    );
    println!(
        "change -> waiter answered: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} answers",
        percentile(&per_waiter, 50.0),
        percentile(&per_waiter, 99.0),
        percentile(&per_waiter, 100.0),
        per_waiter.len()
    );
    println!(
        "change -> every waiter of that server answered: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} changes",
        percentile(&per_change, 50.0),
        percentile(&per_change, 99.0),
        percentile(&per_change, 100.0),
        per_change.len()
    );
    println!(
        "after the changes: RSS {after} (total {:.1} MiB); waiter errors {}; load average {}",
        mib(after_total),
        errors.load(Ordering::Relaxed),
        loadavg()
    );
    for (i, c) in consoles.iter_mut().enumerate() {
        if let Ok(Some(status)) = c.child.try_wait() {
            println!("console {i} exited during the run ({status})");
            ok = false;
        }
    }
    Ok(ok)
}
