//! The load: workers that each hold one client's token and MCP session and send a mix of
//! requests with valid and invalid tokens, and the token factory that keeps the pools of
//! invalid tokens (expired, revoked, other audience, unknown) filled.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::console::{Console, Credentials, Token};
use crate::mcp::{self, Call, Endpoint};
use crate::oracle::{Class, Op, Outcome, Sent, Timeline, Verdict, Why, TOOLS};

/// Most notes kept at once: beyond it, workers delete instead of adding.
const MAX_NOTES: usize = 50;

/// How many detailed failures are kept for the report.
const FAILURES_KEPT: usize = 20;

/// Unix time in seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A small deterministic generator (splitmix64): reproducible mixes without a dependency.
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// 32 random bytes from the operating system, hex (secrets and opaque tokens).
pub fn random_hex() -> String {
    use std::io::Read as _;
    let mut buf = [0u8; 32];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok();
    if !ok {
        // Not a secret anyone else sees: loopback only, for the life of the run.
        let mut r = Rng::new(unix_now().to_bits() ^ u64::from(std::process::id()));
        buf.iter_mut().for_each(|b| *b = r.next() as u8);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A kind of caller: a registered client, optionally asking for fewer scopes.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Report name.
    pub name: &'static str,
    /// Its credentials.
    pub client: Credentials,
    /// The `scope` it requests (`None`: everything it is allowed).
    pub scope: Option<&'static str>,
}

/// Invalid tokens, ready to use.
#[derive(Default)]
struct Pools {
    /// Replaced tokens by subject, usable once expired beyond the leeway.
    expired: HashMap<String, VecDeque<Token>>,
    /// Revoked tokens by subject.
    revoked: HashMap<String, VecDeque<Token>>,
    /// Tokens for the other resource server.
    wrong_audience: VecDeque<Token>,
    /// Opaque strings the console never issued.
    unknown: Vec<String>,
}

/// Per-class counts.
#[derive(Default, Clone)]
pub struct ClassCount {
    /// Requests sent.
    pub sent: u64,
    /// Passed.
    pub passed: u64,
    /// Ambiguous.
    pub ambiguous: u64,
    /// Failed.
    pub failed: u64,
    /// Answers by HTTP status (0: no answer).
    pub statuses: BTreeMap<u16, u64>,
}

/// Everything counted.
#[derive(Default)]
pub struct Stats {
    /// Requests sent and answered (or failed in transport).
    pub sent: u64,
    /// Answers the policy in force and the token called for.
    pub passed: u64,
    /// Other acceptable answers, by why.
    pub ambiguous: BTreeMap<Why, u64>,
    /// Wrong answers.
    pub failed: u64,
    /// 5xx (or no answer) outside every fault window.
    pub server_errors_outside: u64,
    /// 503s inside fault windows, by the fault.
    pub unavailable_in_faults: BTreeMap<Why, u64>,
    /// By token class.
    pub by_class: BTreeMap<Class, ClassCount>,
    /// The first wrong answers, described.
    pub failures: Vec<String>,
    /// Checks of the schedule that failed (a change not enforced in time, …).
    pub check_failures: Vec<String>,
    /// Tokens minted.
    pub minted: u64,
}

/// State shared by workers, the token factory and the chaos schedule.
pub struct Shared {
    /// The console.
    pub console: Console,
    /// The MCP endpoint.
    pub endpoint: Endpoint,
    /// The notes server's resource URI (tokens' audience).
    pub resource: String,
    /// The other resource server's URI and its client (wrong-audience tokens).
    pub other: (String, Credentials),
    /// The callers.
    pub profiles: Vec<Profile>,
    /// Policies and faults.
    pub timeline: Timeline,
    /// The SDK's clock-skew leeway (s).
    pub leeway: i64,
    /// When the load started.
    pub started: Instant,
    /// When the load stops.
    pub deadline: Instant,
    /// Bumped at every signing-key rotation.
    pub rotations: AtomicU64,
    pools: Mutex<Pools>,
    notes: Mutex<VecDeque<u64>>,
    stats: Mutex<Stats>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One judged request, for [`Shared::record`].
struct Judged<'a> {
    who: &'a str,
    sent: &'a Sent,
    observed: &'a Outcome,
    verdict: &'a Verdict,
}

impl Shared {
    /// Shared state for a run.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        console: Console,
        endpoint: Endpoint,
        resource: String,
        other: (String, Credentials),
        profiles: Vec<Profile>,
        timeline: Timeline,
        leeway: i64,
        duration: Duration,
    ) -> Shared {
        let started = Instant::now();
        Shared {
            console,
            endpoint,
            resource,
            other,
            profiles,
            timeline,
            leeway,
            started,
            deadline: started + duration,
            rotations: AtomicU64::new(0),
            pools: Mutex::new(Pools::default()),
            notes: Mutex::new(VecDeque::new()),
            stats: Mutex::new(Stats::default()),
        }
    }

    /// Seconds since the start, for log lines.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Runs `f` on the statistics.
    pub fn with_stats<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        f(&mut lock(&self.stats))
    }

    /// A check of the schedule failed.
    pub fn check_failed(&self, what: String) {
        eprintln!("[{:7.1} s] CHECK FAILED: {what}", self.elapsed());
        self.with_stats(|s| s.check_failures.push(what));
    }

    /// A token for `profile`.
    pub async fn mint(&self, profile: &Profile) -> Result<Token, String> {
        let t = self
            .console
            .token(&profile.client, &self.resource, profile.scope)
            .await?;
        self.with_stats(|s| s.minted += 1);
        Ok(t)
    }

    fn record(&self, j: Judged<'_>) {
        let mut s = lock(&self.stats);
        s.sent += 1;
        let class = s.by_class.entry(j.sent.class).or_default();
        class.sent += 1;
        *class.statuses.entry(j.observed.status()).or_default() += 1;
        match j.verdict {
            Verdict::Pass => {
                class.passed += 1;
                s.passed += 1;
            }
            Verdict::Ambiguous(why) => {
                class.ambiguous += 1;
                *s.ambiguous.entry(*why).or_default() += 1;
                if j.observed.status() == 503 {
                    *s.unavailable_in_faults.entry(*why).or_default() += 1;
                }
            }
            Verdict::Fail { expected, faults } => {
                class.failed += 1;
                s.failed += 1;
                let status = j.observed.status();
                if (status >= 500 || status == 0) && faults.is_empty() {
                    s.server_errors_outside += 1;
                }
                if s.failures.len() < FAILURES_KEPT {
                    let faults: Vec<&str> = faults.iter().map(|f| f.label()).collect();
                    let at = j.sent.sent.duration_since(self.started).as_secs_f64();
                    let took = j.sent.received.duration_since(j.sent.sent);
                    let detail = format!(
                        "t={at:.3}s {who}: {op} with a {class} token (scopes [{granted}]{exp}): expected {expected}, got {observed} (took {took:?}{faults})",
                        who = j.who,
                        op = j.sent.op.label(),
                        class = j.sent.class.label(),
                        granted = j.sent.granted.join(" "),
                        exp = j
                            .sent
                            .exp
                            .map(|e| format!(", exp in {:.1} s", e as f64 - j.sent.sent_unix))
                            .unwrap_or_default(),
                        observed = j.observed,
                        faults = if faults.is_empty() {
                            String::new()
                        } else {
                            format!(", during {}", faults.join(", "))
                        },
                    );
                    eprintln!("WRONG DECISION: {detail}");
                    s.failures.push(detail);
                }
            }
        }
    }

    /// An expired token of `subject` (beyond the leeway), if one is ready.
    fn expired(&self, subject: &str) -> Option<Token> {
        let now = unix_now();
        let pools = lock(&self.pools);
        pools
            .expired
            .get(subject)?
            .iter()
            .find(|t| (t.exp + self.leeway + 2) as f64 <= now)
            .cloned()
    }

    fn retire(&self, token: Token) {
        let mut pools = lock(&self.pools);
        let q = pools.expired.entry(token.subject.clone()).or_default();
        q.push_back(token);
        while q.len() > 8 {
            q.pop_front();
        }
    }

    fn revoked(&self, subject: &str, r: &mut Rng) -> Option<Token> {
        let pools = lock(&self.pools);
        let q = pools.revoked.get(subject)?;
        q.get(r.below(q.len() as u64) as usize).cloned()
    }

    fn wrong_audience(&self, r: &mut Rng) -> Option<Token> {
        let pools = lock(&self.pools);
        let q = &pools.wrong_audience;
        q.get(r.below(q.len() as u64) as usize).cloned()
    }

    fn unknown(&self, r: &mut Rng) -> Option<String> {
        let pools = lock(&self.pools);
        let q = &pools.unknown;
        q.get(r.below(q.len() as u64) as usize).cloned()
    }
}

/// Keeps the pools of revoked, wrong-audience and unknown tokens filled until the deadline.
pub async fn token_factory(shared: Arc<Shared>) {
    let mut r = Rng::new(7);
    let mut tick: u64 = 0;
    while Instant::now() < shared.deadline {
        tick += 1;
        {
            let mut pools = lock(&shared.pools);
            let fresh = format!("opq_{}", random_hex());
            if pools.unknown.len() < 16 {
                pools.unknown.push(fresh);
            } else {
                let i = r.below(16) as usize;
                pools.unknown[i] = fresh;
            }
            // Invalid tokens leave the pools before their expiry could change their answer.
            let now = unix_now();
            let live = |t: &Token| (t.exp - 3) as f64 > now;
            pools.wrong_audience.retain(live);
            pools.revoked.values_mut().for_each(|q| q.retain(live));
        }
        if tick.is_multiple_of(4) {
            let profile = &shared.profiles[(tick / 4) as usize % shared.profiles.len()];
            if let Ok(t) = shared.mint(profile).await {
                if shared
                    .console
                    .revoke(&profile.client, &t.value)
                    .await
                    .is_ok()
                {
                    let mut pools = lock(&shared.pools);
                    let q = pools.revoked.entry(t.subject.clone()).or_default();
                    q.push_back(t);
                    while q.len() > 6 {
                        q.pop_front();
                    }
                }
            }
        }
        if tick % 10 == 1 {
            let (resource, client) = &shared.other;
            if let Ok(t) = shared.console.token(client, resource, None).await {
                let mut pools = lock(&shared.pools);
                pools.wrong_audience.push_back(t);
                while pools.wrong_audience.len() > 6 {
                    pools.wrong_audience.pop_front();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Latencies of one worker's requests, in microseconds.
#[derive(Default)]
pub struct Latencies {
    /// Every request.
    pub all: Vec<u32>,
    /// Requests outside fault windows.
    pub quiet: Vec<u32>,
}

/// One worker: a profile's token and session, until the deadline.
pub struct Worker {
    shared: Arc<Shared>,
    index: usize,
    profile: Profile,
    name: String,
    token: Option<Token>,
    next_mint: Instant,
    rotation_seen: u64,
    session: Option<String>,
    rpc_id: u64,
    rng: Rng,
    latencies: Latencies,
}

impl Worker {
    /// Worker `index` (its profile is `index` modulo the profiles).
    pub fn new(shared: Arc<Shared>, index: usize, seed: u64) -> Worker {
        let profile = shared.profiles[index % shared.profiles.len()].clone();
        Worker {
            name: format!("worker {index} ({})", profile.name),
            shared,
            index,
            profile,
            token: None,
            next_mint: Instant::now(),
            rotation_seen: 0,
            session: None,
            rpc_id: 0,
            rng: Rng::new(seed ^ (index as u64).wrapping_mul(0x1000_0000_01b3)),
            latencies: Latencies::default(),
        }
    }

    /// Runs until the deadline; returns the latencies.
    pub async fn run(mut self) -> Latencies {
        while Instant::now() < self.shared.deadline {
            if !self.refresh_token().await {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            if self.session.is_none() && !self.open_session().await {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if self.rng.below(1000) == 0 {
                // Sessions end too: a client closes its session and opens a new one.
                self.close_session().await;
                continue;
            }
            self.one_request().await;
        }
        self.close_session().await;
        self.latencies
    }

    /// Keeps a valid token: a new one at half its lifetime, and (every other worker) right
    /// after a signing-key rotation. False when there is none to use.
    async fn refresh_token(&mut self) -> bool {
        let rotation = self.shared.rotations.load(Ordering::Acquire);
        let rotated = rotation != self.rotation_seen && self.index.is_multiple_of(2);
        let due = match &self.token {
            None => true,
            Some(t) => unix_now() >= (t.iat + (t.exp - t.iat) / 2) as f64 || rotated,
        };
        if due && Instant::now() >= self.next_mint {
            match self.shared.mint(&self.profile).await {
                Ok(t) => {
                    self.rotation_seen = rotation;
                    if let Some(old) = self.token.replace(t) {
                        self.shared.retire(old);
                    }
                }
                // The console may be restarting: keep the current token, try again soon.
                Err(_) => self.next_mint = Instant::now() + Duration::from_millis(500),
            }
        }
        self.token.is_some()
    }

    async fn open_session(&mut self) -> bool {
        let Some(token) = self.token.clone() else {
            return false;
        };
        let (outcome, session) = self
            .exchange(Class::Valid, Some(&token), None, Op::Initialize, json!({}))
            .await;
        let (Outcome::Result, Some(session)) = (outcome, session) else {
            return false;
        };
        self.exchange(
            Class::Valid,
            Some(&token),
            Some(session.clone()),
            Op::Initialized,
            json!({}),
        )
        .await;
        self.session = Some(session);
        true
    }

    async fn close_session(&mut self) {
        if let (Some(session), Some(token)) = (self.session.take(), self.token.clone()) {
            self.exchange(
                Class::Valid,
                Some(&token),
                Some(session),
                Op::Delete,
                json!({}),
            )
            .await;
        }
    }

    /// One request: a token class and an operation, chosen at random.
    async fn one_request(&mut self) {
        let Some(own) = self.token.clone() else {
            return;
        };
        let roll = self.rng.below(100);
        let (class, token): (Class, Option<Token>) = match roll {
            0..=4 => match self.shared.expired(&own.subject) {
                Some(t) => (Class::Expired, Some(t)),
                None => (Class::Valid, Some(own.clone())),
            },
            5..=9 => match self.shared.revoked(&own.subject, &mut self.rng) {
                Some(t) => (Class::Revoked, Some(t)),
                None => (Class::Valid, Some(own.clone())),
            },
            10..=13 => match self.shared.wrong_audience(&mut self.rng) {
                Some(t) => (Class::WrongAudience, Some(t)),
                None => (Class::Valid, Some(own.clone())),
            },
            14..=17 => match self.shared.unknown(&mut self.rng) {
                Some(value) => (Class::Unknown, Some(Token::opaque(value))),
                None => (Class::Valid, Some(own.clone())),
            },
            18..=22 => {
                let value = own.tampered();
                (
                    Class::BadSignature,
                    Some(Token {
                        value,
                        ..own.clone()
                    }),
                )
            }
            23..=24 => (Class::NoToken, None),
            _ => (Class::Valid, Some(own.clone())),
        };
        let pick = self.rng.below(TOOLS.len() as u64 + 1) as usize;
        let mut op = match TOOLS.get(pick) {
            Some(tool) => Op::Call(tool),
            None => Op::List,
        };
        if op == Op::Call("add_note") && lock(&self.shared.notes).len() >= MAX_NOTES {
            op = Op::Call("delete_note");
        }
        let note = (op == Op::Call("delete_note"))
            .then(|| lock(&self.shared.notes).pop_front())
            .flatten();
        let arguments = match op {
            Op::Call("add_note") => json!({"text": format!("soak {}", self.rpc_id)}),
            Op::Call("delete_note") => json!({"id": note.unwrap_or(0)}),
            _ => json!({}),
        };
        // Only the principal that opened a session uses it: a token of another principal
        // (other audience, unknown) goes without one. A request without a token carries the
        // session: it must not touch it.
        let session = match &token {
            None => self.session.clone(),
            Some(t) if t.subject == own.subject => self.session.clone(),
            Some(_) => None,
        };
        let (outcome, _) = self
            .exchange(class, token.as_ref(), session, op, arguments)
            .await;
        if let (Some(id), false) = (note, outcome == Outcome::Result) {
            lock(&self.shared.notes).push_back(id);
        }
    }

    /// Sends one request, reads, judges and records it.
    async fn exchange(
        &mut self,
        class: Class,
        token: Option<&Token>,
        session: Option<String>,
        op: Op,
        arguments: serde_json::Value,
    ) -> (Outcome, Option<String>) {
        self.rpc_id += 1;
        let call = Call {
            token: token.map(|t| t.value.as_str()),
            session: session.as_deref(),
            op,
            id: self.rpc_id,
            arguments,
        };
        let sent_unix = unix_now();
        let sent = Instant::now();
        let reply = self.shared.endpoint.send(&call).await;
        let received = Instant::now();
        let subject = token.map(|t| t.subject.as_str()).unwrap_or("");
        let (outcome, new_session) = match &reply {
            Ok(r) => {
                let reading = mcp::read(&call, r, subject);
                if let Some(id) = reading.note {
                    lock(&self.shared.notes).push_back(id);
                }
                (reading.outcome, r.session.clone())
            }
            Err(e) => (Outcome::Unexpected(0, format!("no answer: {e}")), None),
        };
        let judged = Sent {
            class,
            granted: token.map(|t| t.granted.clone()).unwrap_or_default(),
            op,
            exp: token.filter(|t| t.exp > 0).map(|t| t.exp),
            sent,
            sent_unix,
            received,
        };
        let verdict = self.shared.timeline.judge(&judged, &outcome);
        self.shared.record(Judged {
            who: &self.name,
            sent: &judged,
            observed: &outcome,
            verdict: &verdict,
        });
        let micros = u32::try_from(received.duration_since(sent).as_micros()).unwrap_or(u32::MAX);
        self.latencies.all.push(micros);
        if !self.shared.timeline.in_fault(sent, received) {
            self.latencies.quiet.push(micros);
        }
        (outcome, new_session)
    }
}
