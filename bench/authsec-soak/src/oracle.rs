//! The oracle: what the protected notes server must answer, computed from the policy in force
//! and the token's properties — independently of authsec's code — and the judge that compares
//! it with what came back.
//!
//! A request is judged against the policy the console held when it was sent. Two things make
//! more than one answer correct, and each is counted as *ambiguous*, never as passed:
//!
//! * a policy change: from the moment the admin call starts until the change has been
//!   observed at the MCP endpoint (plus [`POLICY_GRACE`]), the old and the new policy are both
//!   acceptable;
//! * an injected fault (introspection down, hanging or slow; the console restarting): a 503
//!   `validation_unavailable` is acceptable for a token whose decision needs introspection, and
//!   during a console restart a 503 `policy_unavailable` too. A token refused by local checks
//!   (bad signature, wrong audience, expired) must be refused exactly, fault or not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The notes example's tools.
pub const TOOLS: [&str; 5] = [
    "list_notes",
    "add_note",
    "delete_note",
    "server_time",
    "whoami",
];

/// How long after a policy change was observed requests may still see the old policy, and how
/// long before the admin call a request may already see the new one (in-flight requests).
pub const POLICY_GRACE: Duration = Duration::from_secs(2);

/// A tool's rule in the console's policy; a tool without one is unmapped (denied to everyone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Any valid token.
    Public,
    /// Any one of these scopes.
    Any(Vec<String>),
    /// Every one of these scopes.
    All(Vec<String>),
}

impl Rule {
    /// Any one of `scopes`.
    pub fn any(scopes: &[&str]) -> Rule {
        Rule::Any(scopes.iter().map(|s| (*s).to_owned()).collect())
    }

    /// All of `scopes`.
    pub fn all(scopes: &[&str]) -> Rule {
        Rule::All(scopes.iter().map(|s| (*s).to_owned()).collect())
    }
}

/// The tool → rule map the console serves to the SDK.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy(BTreeMap<&'static str, Rule>);

impl Policy {
    /// The notes example's documented map.
    pub fn initial() -> Policy {
        Policy(BTreeMap::from([
            ("list_notes", Rule::any(&["notes:read"])),
            ("add_note", Rule::any(&["notes:write"])),
            ("delete_note", Rule::any(&["notes:admin"])),
            ("server_time", Rule::Public),
            ("whoami", Rule::Public),
        ]))
    }

    /// This policy with `tool`'s rule replaced (`None`: unmapped).
    pub fn with(&self, tool: &'static str, rule: Option<Rule>) -> Policy {
        let mut next = self.clone();
        match rule {
            Some(r) => next.0.insert(tool, r),
            None => next.0.remove(tool),
        };
        next
    }

    /// The rule for `tool`, if mapped.
    pub fn rule(&self, tool: &str) -> Option<&Rule> {
        self.0.get(tool)
    }

    /// The answer to a `tools/call` of `tool` by a valid token granting `granted`.
    pub fn decide(&self, granted: &[String], tool: &str) -> Outcome {
        let has = |s: &String| granted.contains(s);
        match self.0.get(tool) {
            None => Outcome::denied(403, "tool_unmapped"),
            Some(Rule::Public) => Outcome::Result,
            Some(Rule::Any(scopes)) if scopes.iter().any(has) => Outcome::Result,
            Some(Rule::All(scopes)) if scopes.iter().all(has) => Outcome::Result,
            Some(_) => Outcome::denied(403, "insufficient_scope"),
        }
    }

    /// What `tools/list` must show a valid token granting `granted`: exactly the tools it may call.
    pub fn visible(&self, granted: &[String]) -> BTreeSet<String> {
        TOOLS
            .iter()
            .filter(|t| self.decide(granted, t) == Outcome::Result)
            .map(|t| (*t).to_owned())
            .collect()
    }
}

/// What a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `initialize` (opens a session).
    Initialize,
    /// `notifications/initialized`.
    Initialized,
    /// `tools/list`.
    List,
    /// `tools/call` of a tool.
    Call(&'static str),
    /// `DELETE` of the session.
    Delete,
}

impl Op {
    /// A short name for reports.
    pub fn label(self) -> String {
        match self {
            Op::Initialize => "initialize".into(),
            Op::Initialized => "notifications/initialized".into(),
            Op::List => "tools/list".into(),
            Op::Call(t) => format!("tools/call {t}"),
            Op::Delete => "DELETE session".into(),
        }
    }
}

/// The token a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Issued by the console for this resource, not revoked, not expired.
    Valid,
    /// Issued for this resource, expired (beyond the leeway).
    Expired,
    /// Issued by the console for another resource server.
    WrongAudience,
    /// Issued for this resource, then revoked at the console (`active: false`).
    Revoked,
    /// An opaque string the console never issued (`active: false`).
    Unknown,
    /// A valid token whose claims were altered (scope escalation): the signature fails.
    BadSignature,
    /// No `Authorization` header.
    NoToken,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 7] = [
        Class::Valid,
        Class::Expired,
        Class::WrongAudience,
        Class::Revoked,
        Class::Unknown,
        Class::BadSignature,
        Class::NoToken,
    ];

    /// The report name.
    pub fn label(self) -> &'static str {
        match self {
            Class::Valid => "valid",
            Class::Expired => "expired",
            Class::WrongAudience => "wrong audience",
            Class::Revoked => "revoked",
            Class::Unknown => "unknown (opaque)",
            Class::BadSignature => "bad signature",
            Class::NoToken => "no token",
        }
    }
}

/// The SDK's validation mode, as far as the oracle cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Local checks and introspection for JWTs (what `auto` resolves to with both configured).
    JwtAndIntrospect,
    /// Local checks only for JWTs (a revoked JWT passes); opaque tokens by introspection.
    JwtOrIntrospect,
}

impl Mode {
    /// True when the decision on a token of `class` involves the introspection endpoint.
    pub fn introspects(self, class: Class) -> bool {
        match class {
            Class::Unknown => true,
            Class::Valid | Class::Revoked => self == Mode::JwtAndIntrospect,
            _ => false,
        }
    }

    /// The class a token of `class` is decided as (a revoked JWT is valid without introspection).
    fn effective(self, class: Class) -> Class {
        match (self, class) {
            (Mode::JwtOrIntrospect, Class::Revoked) => Class::Valid,
            _ => class,
        }
    }
}

/// An answer: expected by the oracle or observed at the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with a JSON-RPC result (and, for `initialize`, a session id).
    Result,
    /// 2xx for a notification or a session DELETE.
    Accepted,
    /// 200 `tools/list` naming exactly these tools.
    Tools(BTreeSet<String>),
    /// A denial: HTTP status and the JSON body's `reason`.
    Denied(u16, String),
    /// Observed only: anything else (status, what was wrong).
    Unexpected(u16, String),
}

impl Outcome {
    /// A denial.
    pub fn denied(status: u16, reason: &str) -> Outcome {
        Outcome::Denied(status, reason.to_owned())
    }

    /// The HTTP status (200 for results and lists, 202 for accepted).
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Result | Outcome::Tools(_) => 200,
            Outcome::Accepted => 202,
            Outcome::Denied(s, _) | Outcome::Unexpected(s, _) => *s,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Result => f.write_str("200 result"),
            Outcome::Accepted => f.write_str("2xx accepted"),
            Outcome::Tools(t) => write!(
                f,
                "200 tools [{}]",
                t.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            Outcome::Denied(s, r) => write!(f, "{s} {r}"),
            Outcome::Unexpected(s, what) => write!(f, "{s} unexpected: {what}"),
        }
    }
}

/// The answer to `op` with a token of `class` granting `granted`, under `policy`.
pub fn expected(mode: Mode, class: Class, granted: &[String], op: Op, policy: &Policy) -> Outcome {
    match mode.effective(class) {
        Class::NoToken => Outcome::denied(401, "no_token"),
        Class::Expired => Outcome::denied(401, "token_expired"),
        Class::WrongAudience => Outcome::denied(401, "audience_mismatch"),
        Class::BadSignature => Outcome::denied(401, "bad_signature"),
        Class::Revoked | Class::Unknown => Outcome::denied(401, "token_revoked"),
        Class::Valid => match op {
            Op::Initialize => Outcome::Result,
            Op::Initialized | Op::Delete => Outcome::Accepted,
            Op::List => Outcome::Tools(policy.visible(granted)),
            Op::Call(tool) => policy.decide(granted, tool),
        },
    }
}

/// An injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// The introspection endpoint refuses connections.
    IntrospectionDown,
    /// The introspection endpoint accepts and never answers.
    IntrospectionHang,
    /// The introspection endpoint answers late (below the SDK's timeout).
    IntrospectionSlow,
    /// The console is stopped and started again (same port, same database).
    ConsoleRestart,
}

impl Fault {
    /// The report name.
    pub fn label(self) -> &'static str {
        match self {
            Fault::IntrospectionDown => "introspection down",
            Fault::IntrospectionHang => "introspection hanging",
            Fault::IntrospectionSlow => "introspection slow",
            Fault::ConsoleRestart => "console restart",
        }
    }

    /// How long after the fault ends its effects may still be seen: a request that joined an
    /// introspection started during a hang waits out the SDK's timeout (5 s).
    fn tail(self) -> Duration {
        match self {
            Fault::IntrospectionHang => Duration::from_secs(7),
            Fault::ConsoleRestart => Duration::from_secs(2),
            Fault::IntrospectionDown | Fault::IntrospectionSlow => Duration::from_secs(1),
        }
    }

    /// Whether `observed` is an acceptable effect of this fault on a request with a token of
    /// `class` doing `op`.
    fn explains(self, mode: Mode, class: Class, op: Op, observed: &Outcome) -> bool {
        let valid = mode.effective(class) == Class::Valid;
        match observed {
            Outcome::Denied(503, r) if r == "validation_unavailable" => mode.introspects(class),
            Outcome::Denied(503, r) if r == "policy_unavailable" => {
                self == Fault::ConsoleRestart && valid && matches!(op, Op::Call(_))
            }
            Outcome::Tools(t) => self == Fault::ConsoleRestart && valid && t.is_empty(),
            _ => false,
        }
    }
}

/// Why a request had more than one acceptable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    /// Sent while a policy change was propagating.
    PolicyChange,
    /// Sent during an injected fault.
    Fault(Fault),
    /// Its token was at its expiry boundary.
    Expiry,
}

/// The judgement on one request.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// The answer the policy in force and the token call for.
    Pass,
    /// Another acceptable answer (see [`Why`]).
    Ambiguous(Why),
    /// Wrong.
    Fail {
        /// What the policy in force called for.
        expected: Outcome,
        /// The faults the request overlapped.
        faults: Vec<Fault>,
    },
}

/// One request, as the judge sees it.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The token's class.
    pub class: Class,
    /// The token's scopes.
    pub granted: Vec<String>,
    /// What was asked.
    pub op: Op,
    /// The token's `exp` (Unix seconds), when it has one.
    pub exp: Option<i64>,
    /// When it was sent.
    pub sent: Instant,
    /// When it was sent, in Unix seconds.
    pub sent_unix: f64,
    /// When the answer was complete.
    pub received: Instant,
}

struct Version {
    policy: Arc<Policy>,
    /// When the admin call that installs it started.
    started: Instant,
    /// When the admin API answered it.
    answered: Option<Instant>,
    /// When the endpoint was first seen enforcing it.
    observed: Option<Instant>,
}

struct Window {
    fault: Fault,
    start: Instant,
    end: Option<Instant>,
}

/// The history of policies and faults, shared by the load and the chaos schedule.
pub struct Timeline {
    mode: Mode,
    /// The SDK's clock-skew leeway in seconds.
    leeway: i64,
    versions: Mutex<Vec<Version>>,
    windows: Mutex<Vec<Window>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Timeline {
    /// A timeline starting with `initial`, in force (and observed) since the start.
    pub fn new(mode: Mode, leeway: i64, initial: Policy) -> Timeline {
        let now = Instant::now();
        Timeline {
            mode,
            leeway,
            versions: Mutex::new(vec![Version {
                policy: Arc::new(initial),
                started: now,
                answered: Some(now),
                observed: Some(now),
            }]),
            windows: Mutex::new(Vec::new()),
        }
    }

    /// The validation mode the oracle assumes.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The latest policy.
    pub fn current(&self) -> Arc<Policy> {
        lock(&self.versions)
            .last()
            .map(|v| v.policy.clone())
            .unwrap_or_default()
    }

    /// A change to `policy` is about to be made; returns its index.
    pub fn begin_change(&self, policy: Policy) -> usize {
        let mut v = lock(&self.versions);
        v.push(Version {
            policy: Arc::new(policy),
            started: Instant::now(),
            answered: None,
            observed: None,
        });
        v.len() - 1
    }

    /// The admin API answered change `i`.
    pub fn answered(&self, i: usize) {
        if let Some(v) = lock(&self.versions).get_mut(i) {
            v.answered = Some(Instant::now());
        }
    }

    /// Change `i` was seen enforced at `at` (or given up on).
    pub fn observed(&self, i: usize, at: Instant) {
        if let Some(v) = lock(&self.versions).get_mut(i) {
            v.observed = Some(at);
        }
    }

    /// A fault starts now; returns its index.
    pub fn open(&self, fault: Fault) -> usize {
        let mut w = lock(&self.windows);
        w.push(Window {
            fault,
            start: Instant::now(),
            end: None,
        });
        w.len() - 1
    }

    /// Fault `i` ended now.
    pub fn close(&self, i: usize) {
        if let Some(w) = lock(&self.windows).get_mut(i) {
            w.end = Some(Instant::now());
        }
    }

    /// The policy in force when `at` came (the last one the admin API had answered), and every
    /// other one that may have decided a request in flight from `sent` to `received`.
    fn policies(&self, sent: Instant, received: Instant) -> (Arc<Policy>, Vec<Arc<Policy>>) {
        let versions = lock(&self.versions);
        let primary = versions
            .iter()
            .rev()
            .find(|v| v.answered.is_some_and(|a| a <= sent))
            .or(versions.first())
            .map(|v| v.policy.clone())
            .unwrap_or_default();
        let mut others: Vec<Arc<Policy>> = Vec::new();
        for (i, v) in versions.iter().enumerate() {
            // In force, at the earliest, from its admin call (less the grace for in-flight
            // requests); at the latest until the next change was observed, plus the grace.
            let from = v.started.checked_sub(POLICY_GRACE).unwrap_or(v.started);
            let until = versions
                .get(i + 1)
                .map(|next| next.observed.map(|o| o + POLICY_GRACE));
            let open = match until {
                None | Some(None) => true,
                Some(Some(u)) => sent <= u,
            };
            if from <= received && open && *v.policy != *primary {
                others.push(v.policy.clone());
            }
        }
        (primary, others)
    }

    /// The faults whose window (with its tail) overlaps `sent ..= received`.
    fn faults(&self, sent: Instant, received: Instant) -> Vec<Fault> {
        let mut found: Vec<Fault> = lock(&self.windows)
            .iter()
            .filter(|w| w.start <= received && w.end.is_none_or(|e| sent <= e + w.fault.tail()))
            .map(|w| w.fault)
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// True when `sent ..= received` overlapped a fault window.
    pub fn in_fault(&self, sent: Instant, received: Instant) -> bool {
        !self.faults(sent, received).is_empty()
    }

    /// Judges `observed` for request `r`.
    pub fn judge(&self, r: &Sent, observed: &Outcome) -> Verdict {
        let mode = self.mode;
        let (primary, others) = self.policies(r.sent, r.received);
        let expected_now = expected(mode, r.class, &r.granted, r.op, &primary);
        if *observed == expected_now {
            return Verdict::Pass;
        }
        if others
            .iter()
            .any(|p| expected(mode, r.class, &r.granted, r.op, p) == *observed)
        {
            return Verdict::Ambiguous(Why::PolicyChange);
        }
        let faults = self.faults(r.sent, r.received);
        if let Some(f) = faults
            .iter()
            .find(|f| f.explains(mode, r.class, r.op, observed))
        {
            return Verdict::Ambiguous(Why::Fault(*f));
        }
        if let (Class::Valid | Class::Revoked, Some(exp)) = (r.class, r.exp) {
            // The console's introspection calls a token inactive from `exp`; the SDK's local
            // check expires it at `exp` + leeway.
            let at_boundary =
                r.sent_unix >= (exp - 2) as f64 && r.sent_unix <= (exp + self.leeway + 2) as f64;
            let expiry = matches!(observed, Outcome::Denied(401, reason)
                if reason == "token_expired" || reason == "token_revoked");
            if at_boundary && expiry {
                return Verdict::Ambiguous(Why::Expiry);
            }
        }
        Verdict::Fail {
            expected: expected_now,
            faults,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_initial_policy_lists_what_a_reader_may_call() {
        let p = Policy::initial();
        let seen = p.visible(&scopes(&["notes:read"]));
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            ["list_notes", "server_time", "whoami"]
        );
    }

    #[test]
    fn all_of_needs_every_scope_and_unmapped_denies_everyone() {
        let p = Policy::initial()
            .with(
                "delete_note",
                Some(Rule::all(&["notes:write", "notes:admin"])),
            )
            .with("server_time", None);
        let admin_only = scopes(&["notes:admin"]);
        assert_eq!(
            p.decide(&admin_only, "delete_note"),
            Outcome::denied(403, "insufficient_scope")
        );
        assert_eq!(
            p.decide(&scopes(&["notes:write", "notes:admin"]), "delete_note"),
            Outcome::Result
        );
        assert_eq!(
            p.decide(&admin_only, "server_time"),
            Outcome::denied(403, "tool_unmapped")
        );
    }

    #[test]
    fn a_revoked_jwt_is_valid_without_introspection() {
        let p = Policy::initial();
        let g = scopes(&["notes:read"]);
        let op = Op::Call("list_notes");
        assert_eq!(
            expected(Mode::JwtOrIntrospect, Class::Revoked, &g, op, &p),
            Outcome::Result
        );
        assert_eq!(
            expected(Mode::JwtAndIntrospect, Class::Revoked, &g, op, &p),
            Outcome::denied(401, "token_revoked")
        );
    }

    #[test]
    fn a_503_is_acceptable_only_in_a_fault_window_and_only_when_introspection_decides() {
        let t = Timeline::new(Mode::JwtAndIntrospect, 5, Policy::initial());
        let sent = |class| {
            let now = Instant::now();
            Sent {
                class,
                granted: scopes(&["notes:read"]),
                op: Op::Call("list_notes"),
                exp: None,
                sent: now,
                sent_unix: 0.0,
                received: now,
            }
        };
        let unavailable = Outcome::denied(503, "validation_unavailable");
        assert!(matches!(
            t.judge(&sent(Class::Valid), &unavailable),
            Verdict::Fail { .. }
        ));
        let w = t.open(Fault::IntrospectionDown);
        assert!(matches!(
            t.judge(&sent(Class::Valid), &unavailable),
            Verdict::Ambiguous(Why::Fault(Fault::IntrospectionDown))
        ));
        assert!(matches!(
            t.judge(&sent(Class::WrongAudience), &unavailable),
            Verdict::Fail { .. }
        ));
        t.close(w);
    }

    #[test]
    fn during_a_change_both_policies_are_acceptable_until_it_is_observed() {
        let t = Timeline::new(Mode::JwtAndIntrospect, 5, Policy::initial());
        let next = Policy::initial().with("list_notes", Some(Rule::any(&["notes:write"])));
        let i = t.begin_change(next);
        t.answered(i);
        let now = Instant::now();
        let r = Sent {
            class: Class::Valid,
            granted: scopes(&["notes:read"]),
            op: Op::Call("list_notes"),
            exp: None,
            sent: now,
            sent_unix: 0.0,
            received: now,
        };
        assert!(matches!(
            t.judge(&r, &Outcome::denied(403, "insufficient_scope")),
            Verdict::Pass
        ));
        assert!(matches!(
            t.judge(&r, &Outcome::Result),
            Verdict::Ambiguous(Why::PolicyChange)
        ));
        t.observed(i, now);
        let later = Sent {
            sent: now + Duration::from_secs(3),
            received: now + Duration::from_secs(3),
            ..r
        };
        assert!(matches!(
            t.judge(&later, &Outcome::Result),
            Verdict::Fail { .. }
        ));
    }
}
