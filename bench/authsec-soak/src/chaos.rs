//! The schedule of changes and faults during the load, repeated in a cycle:
//!
//! 1. signing-key rotation at the console (`POST /api/signing-keys`): the new key is published
//!    at once and signs after the console's activation delay; from then on every other worker
//!    switches to a token signed with it;
//! 2. `list_notes` remapped to `notes:write`;
//! 3. introspection down (connections refused);
//! 4. `list_notes` mapped back to `notes:read`;
//! 5. console restart (SIGTERM, start again on the same port and database);
//! 6. `server_time` unmapped (alternately `PUT {"state":"unmapped"}` and `DELETE …/mapping`);
//! 7. introspection slow (every request held 1.5 s, below the SDK's 5 s timeout);
//! 8. `server_time` mapped back (public);
//! 9. introspection hanging (accepts, never answers: the SDK's timeout fires);
//! 10. `delete_note` needs all of `notes:write` and `notes:admin`;
//! 11. `delete_note` back to any of `notes:admin`.
//!
//! Every policy change is timed from the admin call until a probe sees the MCP endpoint enforce
//! it; the oracle accepts either policy in between (plus a grace). A change not enforced within
//! [`ENFORCE_LIMIT`], or a rotated key whose first token is refused, is a failed check.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;

use crate::console::Token;
use crate::load::{unix_now, Shared};
use crate::mcp::{self, Call};
use crate::oracle::{expected, Class, Fault, Op, Outcome, Rule};
use crate::procs::{Proc, Spec};
use crate::proxy::{FaultProxy, Mode};

/// Longest a policy change may take to be enforced: the SDK's policy TTL (30 s) plus slack —
/// with wait-for-change it takes milliseconds.
pub const ENFORCE_LIMIT: Duration = Duration::from_secs(40);

/// How long the console publishes a rotated key before it signs: more than the JWKS
/// `max-age` (60 s) that the SDK's periodic refresh follows, so that the SDK knows every key
/// before its first token arrives.
pub fn key_activation_delay(run: Duration) -> Duration {
    if run >= Duration::from_secs(600) {
        Duration::from_secs(150)
    } else {
        Duration::from_secs(75)
    }
}

/// How long the slow introspection endpoint holds each request (the SDK gives up after 5 s).
const SLOW: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy)]
enum Event {
    Rotate,
    Change {
        what: &'static str,
        tool: &'static str,
        rule: fn() -> Option<Rule>,
        /// The profile whose probe sees the difference.
        probe: usize,
    },
    Fault(Fault, Mode),
    Restart,
}

fn cycle() -> [Event; 11] {
    [
        Event::Rotate,
        Event::Change {
            what: "remap list_notes to notes:write",
            tool: "list_notes",
            rule: || Some(Rule::any(&["notes:write"])),
            probe: 0,
        },
        Event::Fault(Fault::IntrospectionDown, Mode::Refuse),
        Event::Change {
            what: "map list_notes back to notes:read",
            tool: "list_notes",
            rule: || Some(Rule::any(&["notes:read"])),
            probe: 0,
        },
        Event::Restart,
        Event::Change {
            what: "unmap server_time",
            tool: "server_time",
            rule: || None,
            probe: 0,
        },
        Event::Fault(Fault::IntrospectionSlow, Mode::Delay(SLOW)),
        Event::Change {
            what: "map server_time back (public)",
            tool: "server_time",
            rule: || Some(Rule::Public),
            probe: 0,
        },
        Event::Fault(Fault::IntrospectionHang, Mode::Hang),
        Event::Change {
            what: "delete_note needs all of notes:write notes:admin",
            tool: "delete_note",
            rule: || Some(Rule::all(&["notes:write", "notes:admin"])),
            probe: 4,
        },
        Event::Change {
            what: "map delete_note back to notes:admin",
            tool: "delete_note",
            rule: || Some(Rule::any(&["notes:admin"])),
            probe: 4,
        },
    ]
}

/// The number of events in one cycle.
pub const CYCLE_LEN: usize = 11;

/// What the schedule acts on.
pub struct Chaos {
    /// Shared with the load.
    pub shared: Arc<Shared>,
    /// The console process (replaced at each restart).
    pub console: Arc<Mutex<Option<Proc>>>,
    /// How to start it again.
    pub console_spec: Spec,
    /// The proxy in front of the introspection endpoint.
    pub proxy: Arc<FaultProxy>,
    /// The notes resource server's id.
    pub rs_id: String,
    /// When the first event happens.
    pub first: Instant,
    /// Time between events.
    pub spacing: Duration,
    /// How long a fault lasts.
    pub fault_for: Duration,
}

/// What happened, for the report.
#[derive(Default)]
pub struct Log {
    /// Key rotations, each with the time from activation until a new-key token was accepted.
    pub rotations: Vec<Duration>,
    /// Policy changes: admin API latency and time until enforced.
    pub changes: Vec<(Duration, Duration)>,
    /// Console restarts: time from SIGTERM until ready again.
    pub restarts: Vec<Duration>,
    /// Faults injected.
    pub faults: Vec<Fault>,
}

/// A caller the schedule probes with: its own token and session, outside the counted load.
struct Prober {
    token: Option<Token>,
    session: Option<String>,
    id: u64,
}

impl Chaos {
    /// Runs the schedule until 10 s before the deadline; leaves the proxy passing and the
    /// console running.
    pub async fn run(self) -> Log {
        let mut log = Log::default();
        let mut probers: Vec<Prober> = (0..self.shared.profiles.len())
            .map(|_| Prober {
                token: None,
                session: None,
                id: 0,
            })
            .collect();
        let last = self.shared.deadline - Duration::from_secs(10);
        let mut unmap_by_delete = false;
        let mut published: Option<(String, Instant)> = None;
        for (n, event) in cycle().into_iter().cycle().enumerate() {
            let at = self.first + self.spacing * n as u32;
            if at >= last {
                break;
            }
            if let Some((kid, signs_from)) = published.take_if(|(_, from)| *from < at) {
                tokio::time::sleep_until(signs_from.into()).await;
                self.activated(&kid, &mut probers, &mut log).await;
            }
            tokio::time::sleep_until(at.into()).await;
            match event {
                Event::Rotate => published = self.rotate().await.or(published),
                Event::Change {
                    what,
                    tool,
                    rule,
                    probe,
                } => {
                    let by_delete = rule().is_none() && {
                        unmap_by_delete = !unmap_by_delete;
                        !unmap_by_delete
                    };
                    let what = if by_delete {
                        format!("{what} (DELETE …/mapping)")
                    } else {
                        what.to_owned()
                    };
                    self.change(
                        &what,
                        tool,
                        rule(),
                        by_delete,
                        &mut probers[probe],
                        probe,
                        &mut log,
                    )
                    .await
                }
                Event::Fault(fault, mode) => self.fault(fault, mode, &mut log).await,
                Event::Restart => self.restart(&mut log).await,
            }
        }
        self.proxy.set(Mode::Pass);
        log
    }

    fn say(&self, what: &str) {
        println!("[{:7.1} s] {what}", self.shared.elapsed());
    }

    /// Rotates the signing key: the new key and when (a second after) it starts signing.
    async fn rotate(&self) -> Option<(String, Instant)> {
        let (kid, signs_from) = match self.shared.console.rotate_key().await {
            Ok(rotated) => rotated,
            Err(e) => {
                self.shared
                    .check_failed(format!("signing-key rotation: {e}"));
                return None;
            }
        };
        let wait = Duration::from_secs_f64((signs_from as f64 + 1.0 - unix_now()).max(0.0));
        self.say(&format!(
            "signing key {kid} published; it signs in {:.0} s",
            wait.as_secs_f64()
        ));
        Some((kid, Instant::now() + wait))
    }

    /// The rotated key `kid` signs now: half the workers switch to a token signed with it,
    /// and the first such token must be accepted.
    async fn activated(&self, kid: &str, probers: &mut [Prober], log: &mut Log) {
        let started = Instant::now();
        self.shared.rotations.fetch_add(1, Ordering::AcqRel);
        let p = &mut probers[0];
        let profile = self.shared.profiles[0].clone();
        let token = match self.shared.mint(&profile).await {
            Ok(t) => t,
            Err(e) => {
                return self
                    .shared
                    .check_failed(format!("token after rotation: {e}"))
            }
        };
        if token.kid != kid {
            return self.shared.check_failed(format!(
                "the token service signs with {} after {kid} became the signing key",
                token.kid
            ));
        }
        p.token = Some(token);
        match self
            .probe_once(p, Op::Call("whoami"), &Outcome::Result)
            .await
        {
            Some(_) => {
                let took = started.elapsed();
                log.rotations.push(took);
                self.say(&format!(
                    "signing key {kid} signs; its first token accepted after {} ms",
                    took.as_millis()
                ));
            }
            None => self.shared.check_failed(format!(
                "the first token signed with the rotated key {kid} was refused"
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn change(
        &self,
        what: &str,
        tool: &'static str,
        rule: Option<Rule>,
        by_delete: bool,
        prober: &mut Prober,
        profile: usize,
        log: &mut Log,
    ) {
        let timeline = &self.shared.timeline;
        let before = timeline.current();
        let after = before.with(tool, rule.clone());
        // What the probe sees before and after: they must differ.
        if !self.ensure_token(prober, profile).await {
            return self
                .shared
                .check_failed(format!("{what}: no token for the probe"));
        }
        let granted = prober
            .token
            .as_ref()
            .map(|t| t.granted.clone())
            .unwrap_or_default();
        let op = Op::Call(tool);
        let want = expected(timeline.mode(), Class::Valid, &granted, op, &after);
        if want == expected(timeline.mode(), Class::Valid, &granted, op, &before) {
            return self
                .shared
                .check_failed(format!("{what}: the probe cannot tell the change"));
        }
        let i = timeline.begin_change(after);
        let started = Instant::now();
        if let Err(e) = self
            .shared
            .console
            .set_rule(&self.rs_id, tool, rule.as_ref(), by_delete)
            .await
        {
            timeline.observed(i, Instant::now());
            return self.shared.check_failed(format!("{what}: {e}"));
        }
        timeline.answered(i);
        let api = started.elapsed();
        match self.probe(prober, profile, op, &want, ENFORCE_LIMIT).await {
            Some(at) => {
                timeline.observed(i, at);
                let took = at.duration_since(started);
                log.changes.push((api, took));
                self.say(&format!(
                    "policy: {what} (admin API {} ms, enforced after {} ms)",
                    api.as_millis(),
                    took.as_millis()
                ));
            }
            None => {
                timeline.observed(i, Instant::now());
                self.shared.check_failed(format!(
                    "policy: {what} not enforced {ENFORCE_LIMIT:?} after the admin API answered"
                ));
            }
        }
    }

    async fn fault(&self, fault: Fault, mode: Mode, log: &mut Log) {
        let timeline = &self.shared.timeline;
        let w = timeline.open(fault);
        self.proxy.set(mode);
        self.say(&format!(
            "fault: {} for {} s",
            fault.label(),
            self.fault_for.as_secs_f64()
        ));
        tokio::time::sleep(self.fault_for).await;
        self.proxy.set(Mode::Pass);
        timeline.close(w);
        log.faults.push(fault);
        self.say(&format!("fault: {} over", fault.label()));
    }

    async fn restart(&self, log: &mut Log) {
        let timeline = &self.shared.timeline;
        let w = timeline.open(Fault::ConsoleRestart);
        let started = Instant::now();
        let mut slot = self.console.lock().await;
        if let Some(old) = slot.take() {
            if !old.stop(Duration::from_secs(10)).await {
                self.shared
                    .check_failed("the console did not stop within 10 s of SIGTERM".into());
            }
        }
        let restarted = match Proc::start(&self.console_spec) {
            Ok(mut p) => {
                let console = self.shared.console.clone();
                let ready = p
                    .wait_ready(Duration::from_secs(30), || {
                        let c = console.clone();
                        async move { c.ready().await }
                    })
                    .await;
                *slot = Some(p);
                ready
            }
            Err(e) => Err(e),
        };
        drop(slot);
        timeline.close(w);
        log.faults.push(Fault::ConsoleRestart);
        match restarted {
            Ok(()) => {
                let took = started.elapsed();
                log.restarts.push(took);
                self.say(&format!(
                    "console restarted (same port and database), serving again after {} ms",
                    took.as_millis()
                ));
            }
            Err(e) => self.shared.check_failed(format!("console restart: {e}")),
        }
    }

    async fn ensure_token(&self, p: &mut Prober, profile: usize) -> bool {
        let fresh = p
            .token
            .as_ref()
            .is_some_and(|t| unix_now() < (t.iat + (t.exp - t.iat) / 2) as f64);
        if !fresh {
            match self.shared.mint(&self.shared.profiles[profile]).await {
                Ok(t) => p.token = Some(t),
                Err(_) => return p.token.is_some(),
            }
        }
        true
    }

    /// Repeats `op` every 20 ms until it answers `want`; when it first did, or `None` after
    /// `limit`.
    async fn probe(
        &self,
        p: &mut Prober,
        profile: usize,
        op: Op,
        want: &Outcome,
        limit: Duration,
    ) -> Option<Instant> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.ensure_token(p, profile).await {
                if let Some(at) = self.probe_once(p, op, want).await {
                    return Some(at);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    async fn probe_once(&self, p: &mut Prober, op: Op, want: &Outcome) -> Option<Instant> {
        let token = p.token.clone()?;
        let endpoint = &self.shared.endpoint;
        if p.session.is_none() {
            p.id += 1;
            let init = Call {
                token: Some(&token.value),
                session: None,
                op: Op::Initialize,
                id: p.id,
                arguments: json!({}),
            };
            let reply = endpoint.send(&init).await.ok()?;
            let session = reply.session.clone().filter(|_| reply.status == 200)?;
            let notify = Call {
                op: Op::Initialized,
                session: Some(&session),
                ..init
            };
            endpoint.send(&notify).await.ok()?;
            p.session = Some(session);
        }
        p.id += 1;
        let arguments = if op == Op::Call("delete_note") {
            json!({"id": 0})
        } else {
            json!({})
        };
        let call = Call {
            token: Some(&token.value),
            session: p.session.as_deref(),
            op,
            id: p.id,
            arguments,
        };
        let reply = endpoint.send(&call).await.ok()?;
        let at = Instant::now();
        let got = mcp::read(&call, &reply, &token.subject).outcome;
        if matches!(got, Outcome::Unexpected(404, _)) {
            p.session = None;
        }
        (got == *want).then_some(at)
    }
}
