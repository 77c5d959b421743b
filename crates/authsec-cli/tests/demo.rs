//! `authsec demo` and `authsec console` run as a person runs them: the binary on ephemeral
//! ports, its printed commands executed (curl's requests made with reqwest, `authsec
//! diagnose` run as printed), then SIGINT and a clean exit.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const READY: &str = "Decisions are logged on stderr. Ctrl-C stops everything.";

/// A running `authsec` process whose stdout and stderr lines arrive on channels.
struct Running {
    child: Child,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
}

fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

fn spawn(args: &[&str]) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authsec"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTHSEC_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().expect("spawn authsec");
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    Running { child, out, err }
}

/// Lines from `rx` up to and including the first that satisfies `done` (2 minutes at most).
fn read_until(rx: &mpsc::Receiver<String>, done: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let last = done(&line);
                out.push(line);
                if last {
                    return out;
                }
            }
            Err(_) => panic!("no such line; so far:\n{}", out.join("\n")),
        }
    }
}

/// Every remaining line, until the stream closes.
fn drain(rx: &mpsc::Receiver<String>) -> String {
    let mut out = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        out.push(line);
    }
    out.join("\n")
}

impl Running {
    /// Sends SIGINT (Ctrl-C) and waits for the exit; returns the status and the rest of
    /// stdout and stderr.
    fn interrupt(mut self) -> (std::process::ExitStatus, String, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("did not exit within 30 s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, drain(&self.out), drain(&self.err))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed assertion must not leave the servers running.
        let _ = self.child.kill();
    }
}

/// Splits a shell command line into words: single quotes (with `'\''`), double quotes with
/// `$TOKEN` substituted, and plain words. Enough for what the demo prints.
fn words(line: &str, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                let mut quoted = String::new();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    quoted.push(c);
                }
                cur.push_str(&quoted.replace("$TOKEN", token));
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// The request a `curl` command line makes, made with reqwest.
async fn curl(line: &str, token: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let w = words(line, token);
    assert_eq!(w[0], "curl", "{line}");
    let (mut method, mut url, mut headers, mut data, mut user) =
        (None, None, Vec::new(), Vec::new(), None);
    let mut it = w[1..].iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-s" | "-i" | "-si" => {}
            "-X" => method = it.next().cloned(),
            "-H" => headers.push(it.next().unwrap().clone()),
            "-d" => data.push(it.next().unwrap().clone()),
            "-u" => user = it.next().cloned(),
            a if a.starts_with('-') => panic!("unexpected curl option {a} in {line}"),
            a => url = Some(a.to_owned()),
        }
    }
    let method = method.unwrap_or_else(|| if data.is_empty() { "GET" } else { "POST" }.into());
    let client = reqwest::Client::new();
    let mut rb = client.request(method.parse().unwrap(), url.expect("a URL"));
    let mut has_type = false;
    for h in &headers {
        let (k, v) = h.split_once(": ").unwrap();
        has_type |= k.eq_ignore_ascii_case("content-type");
        rb = rb.header(k, v);
    }
    if let Some(u) = user {
        let (id, secret) = u.split_once(':').unwrap();
        rb = rb.basic_auth(id, Some(secret));
    }
    if !data.is_empty() {
        if !has_type {
            // curl -d's default.
            rb = rb.header("content-type", "application/x-www-form-urlencoded");
        }
        rb = rb.body(data.join("&"));
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The command after the `# N.` comment line.
fn step(lines: &[String], n: u32) -> String {
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("# {n}. ")))
        .unwrap_or_else(|| panic!("no step {n} in\n{}", lines.join("\n")));
    lines[at + 1].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_commands_that_do_what_they_say_and_stops_on_ctrl_c() {
    let demo = spawn(&["demo", "--console-port", "0", "--mcp-port", "0"]);
    let lines = read_until(&demo.out, |l| l == READY);
    let text = lines.join("\n");

    // 1. The token command: curl … | sed …, run as curl would.
    let get_token = step(&lines, 1);
    let inner = get_token
        .strip_prefix("TOKEN=$(")
        .and_then(|s| s.split(" | sed ").next())
        .unwrap_or_else(|| panic!("{get_token}"));
    let (status, _, body) = curl(inner, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "notes:read notes:write");
    let token = body["access_token"].as_str().unwrap().to_owned();

    // 2. Allowed → 200 with the tool's result.
    let (status, _, body) = curl(&step(&lines, 2), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["isError"], false, "{body}");

    // 3. Forbidden → 403 naming the required scopes.
    let forbidden = step(&lines, 3);
    let (status, headers, body) = curl(&forbidden, &token).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({
            "error": "insufficient_scope",
            "error_description": "tool delete_note requires more scope",
            "reason": "insufficient_scope",
            "tool": "delete_note",
            "required_scopes": ["notes:admin"],
            "granted_scopes": ["notes:read", "notes:write"]
        })
    );
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer error=\"insufficient_scope\""));

    // 4. No token → 401 with the challenge.
    let (status, headers, body) = curl(&step(&lines, 4), &token).await;
    assert_eq!(status, 401);
    assert_eq!(body["reason"], "no_token");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer resource_metadata=\"http://127.0.0.1:")
            && challenge.ends_with("scope=\"notes:read\""),
        "{challenge}"
    );

    // 5. authsec diagnose, as printed, with the token on stdin: online, signature verified,
    //    DENY 403 (exit status 1).
    let diagnose = step(&lines, 5);
    let args = words(
        diagnose.split_once(" | ").map(|(_, cmd)| cmd).unwrap(),
        &token,
    );
    assert_eq!(args[1], "diagnose");
    let out = Command::new(env!("CARGO_BIN_EXE_authsec"))
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(token.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("verdict: DENY — 403 insufficient_scope"),
        "{report}"
    );
    assert!(report.contains("✓  signature"), "{report}");

    // 6. The policy changes in the console; the forbidden call is then allowed, no restart.
    let (status, _, body) = curl(&step(&lines, 6), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mapping"]["scopes"], json!(["notes:write"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, _) = curl(&forbidden, &token).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the change never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The printed sign-in link opens the web console, once.
    let link = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("sign in"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no sign-in link in\n{text}"));
    let home = signed_in_home(link).await;
    assert!(home.contains("notes (demo)"), "{home}");

    let database = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("database"))
        .and_then(|l| l.split_whitespace().next())
        .map(std::path::PathBuf::from)
        .unwrap();
    assert!(database.exists());
    let (status, rest, stderr) = demo.interrupt();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(rest.contains("authsec demo: stopped; deleted"), "{rest}");
    assert!(!database.parent().unwrap().exists());
    // Decisions were logged, never a token.
    assert!(stderr.contains("decision=\"deny\" status=403"), "{stderr}");
    assert!(!stderr.contains(&token));
    assert!(!stderr.contains('\x1b'), "no colour on a pipe");
}

/// Starts `authsec console` on an ephemeral port; returns it, its base URL and the stderr
/// lines up to "serving".
fn start_console(db: &str) -> (Running, String, Vec<String>) {
    let console = spawn(&["console", "--database-url", db, "--listen", "127.0.0.1:0"]);
    let stderr = read_until(&console.err, |l| l.contains("authsec console: serving "));
    let base = stderr
        .last()
        .and_then(|l| l.split("serving ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    (console, base, stderr)
}

/// Follows a one-time sign-in link: its session cookie opens the web console's home page,
/// whose HTML is returned; the link then no longer signs in.
async fn signed_in_home(link: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(link).send().await.unwrap();
    assert_eq!(resp.status(), 303, "{link}");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let base = link.split("/sign-in/").next().unwrap();
    let home = http
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    let again = http.get(link).send().await.unwrap();
    assert_eq!(again.headers()["location"], "/sign-in?done=expired");
    home.text().await.unwrap()
}

async fn info_status(base: &str, admin_token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/info"))
        .bearer_auth(admin_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_command_serves_until_ctrl_c_and_resets_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("console.db");
    let db = db.to_str().unwrap();

    let (console, base, stderr) = start_console(db);
    let token = stderr
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("asa_"))
        .expect("the admin token is printed at first start")
        .to_owned();
    assert_eq!(info_status(&base, &token).await, 200);
    let link = read_until(&console.err, |l| l.contains("/sign-in/link?token="));
    let link = link.last().unwrap().trim().to_owned();
    assert!(
        link.starts_with(&format!("{base}/sign-in/link?token=")),
        "{link}"
    );
    assert!(signed_in_home(&link)
        .await
        .contains("<h1>Resource servers</h1>"));
    let (status, _, rest) = console.interrupt();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("authsec console: stopped"), "{rest}");

    let out = Command::new(env!("CARGO_BIN_EXE_authsec"))
        .args(["console", "--database-url", db, "--reset-admin-token"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let new_token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(new_token.starts_with("asa_") && new_token != token);

    let (console, base, stderr) = start_console(db);
    assert!(
        !stderr.iter().any(|l| l.contains("asa_")),
        "a token is printed only when it is created"
    );
    assert_eq!(info_status(&base, &new_token).await, 200);
    assert_eq!(info_status(&base, &token).await, 401);
    let (status, _, _) = console.interrupt();
    assert!(status.success());
}

#[test]
fn console_and_demo_help_show_examples() {
    for cmd in ["console", "demo"] {
        let out = Command::new(env!("CARGO_BIN_EXE_authsec"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        let examples = help.split("Examples:\n").nth(1).unwrap_or_default();
        assert!(examples.contains(&format!("authsec {cmd}")), "{help}");
    }
}
