//! `authsec-soak`: a soak test of the notes example protected by authsec in `remote_required`
//! policy mode, against the real console as authorization server and policy store.
//!
//! ```text
//! authsec-soak --authsec BIN --notes-server BIN --work-dir DIR [--duration SECS]
//!              [--concurrency N] [--validation-mode auto|jwt_and_introspect|jwt_or_introspect]
//!              [--token-lifetime SECS] [--seed N]
//! ```
//!
//! It starts `authsec console` (SQLite in DIR) and `notes-server` on free loopback ports, the
//! notes server's introspection going through a fault-injection proxy ([`proxy`]); registers
//! the notes resource server, a second one (for wrong-audience tokens) and clients with
//! different scopes; then runs concurrent MCP sessions ([`load`]) with valid, expired,
//! wrong-audience, revoked, unknown, tampered and missing tokens while [`chaos`] rotates the
//! signing key, changes the policy, restarts the console and breaks introspection. Every
//! answer is judged by the [`oracle`]. `scripts/soak.sh` builds and runs it.
//!
//! Exit status: 0 when every decision was right, no 5xx came outside an injected fault and the
//! notes server's RSS grew less than 10 % (judged from 10-minute runs on: a shorter run ends
//! while the caches are still filling); 1 otherwise; 2 when the run could not start.

mod chaos;
mod console;
mod load;
mod mcp;
mod oracle;
mod procs;
mod proxy;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::sync::Mutex;

use crate::chaos::{key_activation_delay, Chaos, CYCLE_LEN};
use crate::console::{Console, Credentials};
use crate::load::{random_hex, Latencies, Profile, Shared, Worker};
use crate::mcp::Endpoint;
use crate::oracle::{Class, Mode, Policy, Timeline, Why, TOOLS};
use crate::procs::{free_port, loopback, rss_kib, Proc, Spec};
use crate::proxy::FaultProxy;

/// The SDK's clock-skew leeway in the run (`AUTHSEC_CLOCK_SKEW_SECS`): small, so that
/// expired tokens appear soon after the token lifetime.
const LEEWAY_SECS: i64 = 5;

/// Largest RSS growth of the notes server accepted, in percent.
const RSS_GROWTH_LIMIT: f64 = 10.0;

/// The shortest run whose RSS growth is judged: in a shorter one the token caches are still
/// filling when it ends.
const RSS_JUDGED_FROM: Duration = Duration::from_secs(600);

const USAGE: &str =
    "usage: authsec-soak --authsec BIN --notes-server BIN --work-dir DIR [--duration SECS]
       [--concurrency N] [--validation-mode auto|jwt_and_introspect|jwt_or_introspect]
       [--token-lifetime SECS] [--seed N]";

struct Args {
    authsec: PathBuf,
    notes_server: PathBuf,
    work_dir: PathBuf,
    duration: u64,
    concurrency: usize,
    validation_mode: String,
    token_lifetime: u64,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut authsec = None;
    let mut notes_server = None;
    let mut work_dir = None;
    let mut a = Args {
        authsec: PathBuf::new(),
        notes_server: PathBuf::new(),
        work_dir: PathBuf::new(),
        duration: 1800,
        concurrency: 16,
        validation_mode: "auto".into(),
        token_lifetime: 60,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag} {v:?}: {e}"));
        match flag.as_str() {
            "--authsec" => authsec = Some(PathBuf::from(value()?)),
            "--notes-server" => notes_server = Some(PathBuf::from(value()?)),
            "--work-dir" => work_dir = Some(PathBuf::from(value()?)),
            "--duration" => a.duration = number(value()?)?,
            "--concurrency" => a.concurrency = number(value()?)? as usize,
            "--validation-mode" => a.validation_mode = value()?,
            "--token-lifetime" => a.token_lifetime = number(value()?)?,
            "--seed" => a.seed = number(value()?)?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    a.authsec = authsec.ok_or("--authsec is required")?;
    a.notes_server = notes_server.ok_or("--notes-server is required")?;
    a.work_dir = work_dir.ok_or("--work-dir is required")?;
    if a.duration < 30 {
        return Err("--duration must be at least 30 seconds".into());
    }
    if a.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    if !(20..=3600).contains(&a.token_lifetime) {
        return Err("--token-lifetime must be 20 to 3600 seconds".into());
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("authsec-soak: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    tokio::select! {
        result = run(args) => match result {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("authsec-soak: {e}");
                ExitCode::from(2)
            }
        },
        () = interrupted() => {
            // Dropping the run stops the console and the notes server (kill on drop).
            eprintln!("authsec-soak: interrupted");
            ExitCode::from(130)
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// The callers: index 0 is the reader and 4 the deleter (the chaos probes rely on it).
const CLIENTS: [(&str, &[&str]); 4] = [
    ("reader", &["notes:read"]),
    ("writer", &["notes:read", "notes:write"]),
    ("admin", &["notes:read", "notes:write", "notes:admin"]),
    ("deleter", &["notes:admin"]),
];

struct Setup {
    rs: Credentials,
    profiles: Vec<Profile>,
    other: Credentials,
}

/// Registers the notes resource server (with the notes example's mapping), another resource
/// server, and the clients.
async fn register(
    console: &Console,
    resource: &str,
    other_resource: &str,
) -> Result<Setup, String> {
    let rs = console
        .resource_server(
            "notes (soak)",
            resource,
            &["notes:read", "notes:write", "notes:admin"],
        )
        .await?;
    let policy = Policy::initial();
    for tool in TOOLS {
        console
            .set_rule(&rs.id, tool, policy.rule(tool), false)
            .await?;
    }
    let mut clients = Vec::new();
    for (name, scopes) in CLIENTS {
        clients.push(console.client(&rs.id, name, scopes).await?);
    }
    let profile = |name, i: usize, scope| Profile {
        name,
        client: clients[i].clone(),
        scope,
    };
    let profiles = vec![
        profile("reader", 0, None),
        profile("writer", 1, None),
        profile("admin", 2, None),
        profile("admin asking for notes:write only", 2, Some("notes:write")),
        profile("deleter", 3, None),
    ];
    let other_rs = console
        .resource_server("another server (soak)", other_resource, &["other:read"])
        .await?;
    let other = console
        .client(&other_rs.id, "other agent", &["other:read"])
        .await?;
    Ok(Setup {
        rs,
        profiles,
        other,
    })
}

fn base64_key() -> String {
    let hex = random_hex();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

async fn run(args: Args) -> Result<bool, String> {
    let mode = match args.validation_mode.as_str() {
        "auto" | "jwt_and_introspect" => Mode::JwtAndIntrospect,
        "jwt_or_introspect" => Mode::JwtOrIntrospect,
        other => {
            return Err(format!(
                "--validation-mode {other:?}: the soak needs a mode that uses both JWT checks and introspection (auto, jwt_and_introspect, jwt_or_introspect)"
            ))
        }
    };
    let work = &args.work_dir;
    let pid_file = work.join("pids");
    let console_port = free_port()?;
    let notes_port = free_port()?;
    let console_url = format!("http://{}", loopback(console_port));
    let resource = format!("http://{}/mcp", loopback(notes_port));
    let other_resource = format!("http://{}/other-mcp", loopback(notes_port));

    // ---- the console: authorization server and policy store
    let admin_token = format!("soak-{}", random_hex());
    let console_spec = Spec {
        name: "authsec console",
        program: args.authsec.clone(),
        args: vec![
            "console".into(),
            "--database-url".into(),
            work.join("console.db").to_string_lossy().into_owned(),
            "--listen".into(),
            loopback(console_port).to_string(),
            "--token-lifetime".into(),
            args.token_lifetime.to_string(),
        ],
        env: vec![
            ("AUTHSEC_CONSOLE_ADMIN_TOKEN".into(), admin_token.clone()),
            ("AUTHSEC_CONSOLE_KEY_ENCRYPTION_KEY".into(), base64_key()),
            (
                "AUTHSEC_CONSOLE_KEY_ACTIVATION_DELAY_SECS".into(),
                key_activation_delay(Duration::from_secs(args.duration))
                    .as_secs()
                    .to_string(),
            ),
            ("AUTHSEC_LOG".into(), "warn".into()),
        ],
        log: work.join("console.log"),
        pid_file: pid_file.clone(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency * 2 + 16)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let console = Console::new(http.clone(), console_url.clone(), admin_token);
    let mut console_proc = Proc::start(&console_spec)?;
    let c = console.clone();
    console_proc
        .wait_ready(Duration::from_secs(60), || {
            let c = c.clone();
            async move { c.ready().await }
        })
        .await?;
    let setup = register(&console, &resource, &other_resource).await?;

    // ---- the notes server, its introspection through the fault proxy
    let proxy = Arc::new(
        FaultProxy::start(loopback(console_port))
            .await
            .map_err(|e| format!("fault proxy: {e}"))?,
    );
    let notes_env: Vec<(String, String)> = [
        ("AUTHSEC_ISSUER", console_url.clone()),
        ("AUTHSEC_RESOURCE_URI", resource.clone()),
        ("AUTHSEC_JWKS_URL", format!("{console_url}/.well-known/jwks.json")),
        (
            "AUTHSEC_INTROSPECTION_URL",
            format!("http://{}/oauth/introspect", proxy.addr()),
        ),
        ("AUTHSEC_INTROSPECTION_CLIENT_ID", setup.rs.id.clone()),
        ("AUTHSEC_INTROSPECTION_CLIENT_SECRET", setup.rs.secret.clone()),
        ("AUTHSEC_RESOURCE_SERVER_ID", setup.rs.id.clone()),
        ("AUTHSEC_CONSOLE_URL", console_url.clone()),
        ("AUTHSEC_POLICY_MODE", "remote_required".into()),
        ("AUTHSEC_VALIDATION_MODE", args.validation_mode.clone()),
        ("AUTHSEC_PUBLISH_MANIFEST", "true".into()),
        (
            "AUTHSEC_TOOL_SCOPES_JSON",
            r#"{"list_notes":["notes:read"],"add_note":["notes:write"],"delete_note":["notes:admin"],"server_time":[],"whoami":[]}"#.into(),
        ),
        ("AUTHSEC_CLOCK_SKEW_SECS", LEEWAY_SECS.to_string()),
        ("AUTHSEC_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let notes_spec = Spec {
        name: "notes-server",
        program: args.notes_server.clone(),
        args: vec!["--listen".into(), loopback(notes_port).to_string()],
        env: notes_env,
        log: work.join("notes-server.log"),
        pid_file,
    };
    let mut notes = Proc::start(&notes_spec)?;
    let metadata = format!(
        "http://{}/.well-known/oauth-protected-resource/mcp",
        loopback(notes_port)
    );
    let h = http.clone();
    notes
        .wait_ready(Duration::from_secs(60), || {
            let (h, url) = (h.clone(), metadata.clone());
            async move { matches!(h.get(url).send().await, Ok(r) if r.status().is_success()) }
        })
        .await?;
    let notes_pid = notes.pid().ok_or("notes-server has no pid")?;

    // ---- the run
    let duration = Duration::from_secs(args.duration);
    let warmup = Duration::from_secs((args.duration / 10).clamp(15, 120));
    let spacing = ((duration.saturating_sub(warmup + Duration::from_secs(12))) / CYCLE_LEN as u32)
        .clamp(Duration::from_secs(5), Duration::from_secs(30));
    let fault_for = (spacing / 2).min(Duration::from_secs(15));
    println!(
        "authsec-soak: {} s, {} concurrent clients, {warmup:?} warm-up, an event every {:.1} s (faults last {:.1} s)",
        args.duration,
        args.concurrency,
        spacing.as_secs_f64(),
        fault_for.as_secs_f64()
    );
    println!(
        "  console      {console_url} (authsec console, SQLite in {})",
        work.display()
    );
    println!(
        "  notes-server {resource} (remote_required, validation_mode {}, token lifetime {} s, leeway {LEEWAY_SECS} s)",
        args.validation_mode, args.token_lifetime
    );
    println!(
        "  introspection through the fault proxy at {}",
        proxy.addr()
    );

    let shared = Arc::new(Shared::new(
        console.clone(),
        Endpoint::new(http.clone(), resource.clone()),
        resource.clone(),
        (other_resource, setup.other),
        setup.profiles,
        Timeline::new(mode, LEEWAY_SECS, Policy::initial()),
        LEEWAY_SECS,
        duration,
    ));
    let console_slot = Arc::new(Mutex::new(Some(console_proc)));
    let chaos = Chaos {
        shared: shared.clone(),
        console: console_slot.clone(),
        console_spec,
        proxy: proxy.clone(),
        rs_id: setup.rs.id.clone(),
        first: shared.started + warmup + Duration::from_secs(2),
        spacing,
        fault_for,
    };
    let factory = tokio::spawn(load::token_factory(shared.clone()));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|i| tokio::spawn(Worker::new(shared.clone(), i, args.seed).run()))
        .collect();
    let chaos = tokio::spawn(chaos.run());

    // Memory and progress, until the deadline.
    let progress_every = if args.duration <= 300 { 10 } else { 60 };
    let mut rss_start = None;
    let mut rss_peak = 0;
    let mut series: Vec<(u64, u64)> = Vec::new();
    let mut tick = 0u64;
    while Instant::now() < shared.deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        tick += 1;
        if notes.exited() {
            shared.check_failed("notes-server exited during the run".into());
            break;
        }
        let rss = rss_kib(notes_pid).unwrap_or(0);
        if shared.started.elapsed() >= warmup {
            rss_peak = rss_peak.max(rss);
            if rss_start.is_none() {
                rss_start = Some(rss);
                println!(
                    "[{:7.1} s] warm-up over: notes-server RSS {:.1} MiB",
                    shared.elapsed(),
                    mib(rss)
                );
            }
        }
        if tick.is_multiple_of(progress_every) {
            series.push((tick, rss));
            let (sent, failed, ambiguous) =
                shared.with_stats(|s| (s.sent, s.failed, s.ambiguous.values().sum::<u64>()));
            println!(
                "[{:7.1} s] {sent} requests ({:.0}/s), {failed} wrong, {ambiguous} ambiguous, RSS {:.1} MiB",
                shared.elapsed(),
                sent as f64 / shared.started.elapsed().as_secs_f64(),
                mib(rss)
            );
        }
    }
    let mut latencies = Latencies::default();
    for w in workers {
        if let Ok(l) = w.await {
            latencies.all.extend(l.all);
            latencies.quiet.extend(l.quiet);
        }
    }
    let elapsed = shared.started.elapsed();
    let rss_end = rss_kib(notes_pid).unwrap_or(0);
    let log = chaos.await.unwrap_or_default();
    let _ = factory.await;

    // ---- stop everything
    let notes_stopped = notes.stop(Duration::from_secs(10)).await;
    if let Some(c) = console_slot.lock().await.take() {
        c.stop(Duration::from_secs(10)).await;
    }
    if !notes_stopped {
        shared.check_failed("notes-server did not stop within 10 s of SIGTERM".into());
    }

    let ok = report(
        &shared,
        &args,
        elapsed,
        latencies,
        (rss_start, rss_end, rss_peak),
        &series,
        &log,
        mode,
    );
    if !ok {
        for (name, file) in [
            ("console", "console.log"),
            ("notes-server", "notes-server.log"),
        ] {
            println!(
                "-- last lines of the {name} log:\n{}",
                procs::tail(&work.join(file), 15)
            );
        }
    }
    Ok(ok)
}

#[allow(clippy::too_many_arguments)]
fn report(
    shared: &Shared,
    args: &Args,
    elapsed: Duration,
    mut latencies: Latencies,
    (rss_start, rss_end, rss_peak): (Option<u64>, u64, u64),
    series: &[(u64, u64)],
    log: &chaos::Log,
    mode: Mode,
) -> bool {
    latencies.all.sort_unstable();
    latencies.quiet.sort_unstable();
    let mut ok = true;
    let mut reasons: Vec<String> = Vec::new();
    shared.with_stats(|s| {
        println!();
        println!("== soak report");
        println!(
            "load: {:.0} s, {} concurrent clients; notes-server in remote_required, validation_mode {} ({})",
            elapsed.as_secs_f64(),
            args.concurrency,
            args.validation_mode,
            match mode {
                Mode::JwtAndIntrospect => "JWT checks and introspection",
                Mode::JwtOrIntrospect => "JWTs locally, opaque tokens by introspection",
            }
        );
        println!(
            "requests: {} ({:.0}/s); tokens minted: {}",
            s.sent,
            s.sent as f64 / elapsed.as_secs_f64(),
            s.minted
        );
        let ambiguous: u64 = s.ambiguous.values().sum();
        let why: Vec<String> = s
            .ambiguous
            .iter()
            .map(|(w, n)| format!("{n} {}", why_label(*w)))
            .collect();
        println!(
            "decisions: {} as the oracle expects, {ambiguous} ambiguous{}, {} wrong",
            s.passed,
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join(", "))
            },
            s.failed
        );
        for class in Class::ALL {
            let Some(c) = s.by_class.get(&class) else {
                // Expired tokens exist only once the first ones have expired beyond the leeway.
                let too_short = class == Class::Expired
                    && elapsed.as_secs() < args.token_lifetime + LEEWAY_SECS as u64 + 30;
                if too_short {
                    println!("  (no expired tokens: the run was shorter than the token lifetime + 35 s)");
                } else {
                    s.check_failures
                        .push(format!("no request carried a token of class {:?}", class.label()));
                }
                continue;
            };
            let statuses: Vec<String> = c
                .statuses
                .iter()
                .map(|(st, n)| {
                    if *st == 0 {
                        format!("no answer: {n}")
                    } else {
                        format!("{st}: {n}")
                    }
                })
                .collect();
            println!(
                "  {:<17} {:>9} sent, {:>9} right, {:>7} ambiguous, {:>5} wrong   [{}]",
                class.label(),
                c.sent,
                c.passed,
                c.ambiguous,
                c.failed,
                statuses.join(", ")
            );
        }
        let unavailable: Vec<String> = s
            .unavailable_in_faults
            .iter()
            .map(|(w, n)| format!("{n} during {}", why_label(*w)))
            .collect();
        println!(
            "5xx outside injected fault windows: {} (503 inside: {})",
            s.server_errors_outside,
            if unavailable.is_empty() {
                "none".to_owned()
            } else {
                unavailable.join(", ")
            }
        );
        println!(
            "latency: p50 {:.2} ms, p99 {:.2} ms, max {:.0} ms; outside fault windows p50 {:.2} ms, p99 {:.2} ms",
            percentile(&latencies.all, 0.5),
            percentile(&latencies.all, 0.99),
            percentile(&latencies.all, 1.0),
            percentile(&latencies.quiet, 0.5),
            percentile(&latencies.quiet, 0.99),
        );
        let growth = rss_start.map(|start| (rss_end as f64 - start as f64) * 100.0 / start.max(1) as f64);
        match (rss_start, growth) {
            (Some(start), Some(g)) => {
                println!(
                    "notes-server RSS: {:.1} MiB after warm-up, {:.1} MiB at the end ({g:+.1} %, peak {:.1} MiB)",
                    mib(start),
                    mib(rss_end),
                    mib(rss_peak)
                );
                if Duration::from_secs(args.duration) < RSS_JUDGED_FROM {
                    println!(
                        "  (growth not judged: runs shorter than {} s end while the caches are still filling)",
                        RSS_JUDGED_FROM.as_secs()
                    );
                } else if g >= RSS_GROWTH_LIMIT {
                    ok = false;
                    reasons.push(format!("RSS grew {g:.1} % (limit {RSS_GROWTH_LIMIT} %)"));
                }
            }
            _ => {
                ok = false;
                reasons.push("RSS not measured".into());
            }
        }
        let series: Vec<String> = series
            .iter()
            .map(|(t, kib)| format!("{t}s {:.1}", mib(*kib)))
            .collect();
        println!("  RSS over time (MiB): {}", series.join(", "));
        let max_ms = |d: &mut dyn Iterator<Item = Duration>| {
            d.map(|d| d.as_millis()).max().unwrap_or(0)
        };
        let mut enforced: Vec<u128> = log.changes.iter().map(|(_, e)| e.as_millis()).collect();
        enforced.sort_unstable();
        let mut faults: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &log.faults {
            *faults.entry(f.label()).or_default() += 1;
        }
        if log.faults.is_empty() && log.changes.is_empty() && log.rotations.is_empty() {
            println!("events: none (the run was too short for the schedule)");
        } else {
            println!(
                "events: {} key rotations (the new key's first token accepted {} ms after it started signing, at most), {} policy changes (enforced after median {} ms, at most {} ms; admin API at most {} ms), {} console restarts (serving again after at most {} ms); faults: {}",
                log.rotations.len(),
                max_ms(&mut log.rotations.iter().copied()),
                log.changes.len(),
                enforced.get(enforced.len() / 2).copied().unwrap_or(0),
                enforced.last().copied().unwrap_or(0),
                max_ms(&mut log.changes.iter().map(|(a, _)| *a)),
                log.restarts.len(),
                max_ms(&mut log.restarts.iter().copied()),
                faults
                    .iter()
                    .map(|(f, n)| format!("{n}× {f}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !s.check_failures.is_empty() {
            println!("failed checks:");
            for c in &s.check_failures {
                println!("  {c}");
            }
        }
        if !s.failures.is_empty() {
            println!("first wrong decisions:");
            for f in &s.failures {
                println!("  {f}");
            }
        }
        if s.sent == 0 {
            ok = false;
            reasons.push("no requests".into());
        }
        if s.failed > 0 {
            ok = false;
            reasons.push(format!("{} wrong decisions", s.failed));
        }
        if s.server_errors_outside > 0 {
            ok = false;
            reasons.push(format!(
                "{} 5xx outside fault windows",
                s.server_errors_outside
            ));
        }
        if !s.check_failures.is_empty() {
            ok = false;
            reasons.push(format!("{} failed checks", s.check_failures.len()));
        }
        println!(
            "RESULT: {}",
            if ok {
                "PASS".to_owned()
            } else {
                format!("FAIL: {}", reasons.join("; "))
            }
        );
        println!(
            "{} passed, {} failed",
            s.passed + ambiguous,
            s.failed + s.check_failures.len() as u64
        );
    });
    ok
}

fn why_label(w: Why) -> String {
    match w {
        Why::PolicyChange => "policy change".into(),
        Why::Fault(f) => f.label().into(),
        Why::Expiry => "token at its expiry".into(),
    }
}
