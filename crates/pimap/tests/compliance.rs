//! The IMAP compliance suite: scripts of commands and expected responses
//! (`tests/compliance/*.imap`), derived from RFC 3501's examples and rules, run against the
//! sans-IO server over the in-memory store and, when Dovecot is available (always under
//! `PIMAP_INTEROP=1`), against a fresh Dovecot per script. A script is written to pass on
//! Dovecot; it must pass on ours too.
//!
//! # Script format
//!
//! ```text
//! # comment
//! %msg NAME        a message; the lines up to %end, joined with CRLF
//! %end
//! N> COMMAND       send on session N (1-9), which connects (and reads its greeting) on first
//!                  use; `$user` and `$pass` are the target's account, `{{NAME}}` becomes a
//!                  LITERAL+ literal of message NAME. The response is read up to the line
//!                  tagged with the command's first word (for IDLE: up to the `+` line; for
//!                  DONE: up to the IDLE's tagged line).
//! N< PATTERN       a line of the last response of session N, after the previous N< match
//! N! PATTERN       no line of the last response of session N matches
//! N~ PATTERN       read session N's unsolicited output until a line matches (5 s)
//! ```
//!
//! A pattern matches a whole line. `{...}` matches any run of characters and `{set:A B}`
//! a parenthesised list of exactly these space-separated items in any order (flag lists,
//! whose order servers choose).

#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/server_harness.rs"]
mod harness;
#[path = "support/peers.rs"]
mod peers;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pimap::server::memory::MemoryStore;
use pimap::server::ServerConfig;

const WAIT: Duration = Duration::from_secs(5);

/// One step of a script.
#[derive(Debug, Clone)]
enum Step {
    Send { session: usize, line: String },
    Expect { session: usize, pattern: String },
    Forbid { session: usize, pattern: String },
    Await { session: usize, pattern: String },
}

#[derive(Debug)]
struct Script {
    name: String,
    steps: Vec<(usize, Step)>,
    messages: HashMap<String, String>,
}

fn parse(name: &str, text: &str) -> Script {
    let mut steps = Vec::new();
    let mut messages = HashMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let lineno = n + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(msg) = line.strip_prefix("%msg ") {
            let mut body = Vec::new();
            for (_, l) in lines.by_ref() {
                if l == "%end" {
                    break;
                }
                body.push(l);
            }
            let mut text = body.join("\r\n");
            text.push_str("\r\n");
            messages.insert(msg.trim().to_string(), text);
            continue;
        }
        let mut chars = line.chars();
        let session = chars
            .next()
            .and_then(|c| c.to_digit(10))
            .unwrap_or_else(|| panic!("{name}:{lineno}: a step starts with a session digit"))
            as usize;
        let kind = chars.next();
        let rest = line.get(2..).unwrap_or("").trim_start().to_string();
        let step = match kind {
            Some('>') => Step::Send {
                session,
                line: rest,
            },
            Some('<') => Step::Expect {
                session,
                pattern: rest,
            },
            Some('!') => Step::Forbid {
                session,
                pattern: rest,
            },
            Some('~') => Step::Await {
                session,
                pattern: rest,
            },
            _ => panic!("{name}:{lineno}: unknown step {line:?}"),
        };
        steps.push((lineno, step));
    }
    Script {
        name: name.to_string(),
        steps,
        messages,
    }
}

/// Does `line` match `pattern` (whole line, `{...}` and `{set:...}` tokens)?
fn matches(pattern: &str, line: &str) -> bool {
    if let Some(i) = pattern.find('{') {
        let (lit, rest) = pattern.split_at(i);
        let Some(tail) = line.strip_prefix(lit) else {
            return false;
        };
        if let Some(after) = rest.strip_prefix("{...}") {
            return (0..=tail.len())
                .filter(|&k| tail.is_char_boundary(k))
                .any(|k| matches(after, &tail[k..]));
        }
        if let Some(set) = rest.strip_prefix("{set:") {
            let Some(end) = set.find('}') else {
                return false;
            };
            let (items, after) = (&set[..end], &set[end + 1..]);
            let Some(list) = tail.strip_prefix('(') else {
                return false;
            };
            let Some(close) = list.find(')') else {
                return false;
            };
            let mut want: Vec<&str> = items.split_whitespace().collect();
            let mut got: Vec<&str> = list[..close].split_whitespace().collect();
            want.sort_unstable();
            got.sort_unstable();
            return want == got && matches(after, &list[close + 1..]);
        }
        // A `{` that is no token (a literal announcement): compare it as text.
        return line
            .strip_prefix(&pattern[..i + 1])
            .is_some_and(|t| matches(&pattern[i + 1..], t));
    }
    pattern == line
}

/// Where a script runs.
trait Target {
    fn user(&self) -> (&str, &str);
    fn connect(&mut self, session: usize);
    fn send(&mut self, session: usize, bytes: &[u8]);
    /// Lines of `session` until `last` holds for one (included), or `WAIT` passed (`None`).
    fn read_until(&mut self, session: usize, last: &dyn Fn(&str) -> bool) -> Option<Vec<String>>;
}

/// The sans-IO server over the in-memory store.
struct Memory {
    h: harness::Harness<MemoryStore>,
    conns: HashMap<usize, pimap::server::ConnId>,
    pending: HashMap<usize, Vec<String>>,
}

impl Memory {
    fn new() -> Self {
        let mut store = MemoryStore::new();
        store.add_user("alice", "alicepw");
        let _ = store.take_changes();
        Self {
            h: harness::Harness::new(ServerConfig::default(), store),
            conns: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    fn absorb(&mut self, session: usize, text: String) {
        let buf = self.pending.entry(session).or_default();
        buf.extend(
            text.split("\r\n")
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
}

impl Target for Memory {
    fn user(&self) -> (&str, &str) {
        ("alice", "alicepw")
    }

    fn connect(&mut self, session: usize) {
        let c = self.h.connect();
        self.conns.insert(session, c);
    }

    fn send(&mut self, session: usize, bytes: &[u8]) {
        let c = self.conns[&session];
        let out = self.h.send_raw(c, bytes);
        self.absorb(session, String::from_utf8_lossy(&out).into_owned());
        // Other sessions may have been written to (fan-out).
        let others: Vec<(usize, pimap::server::ConnId)> =
            self.conns.iter().map(|(s, c)| (*s, *c)).collect();
        for (s, c) in others {
            let t = self.h.take(c);
            self.absorb(s, t);
        }
    }

    fn read_until(&mut self, session: usize, last: &dyn Fn(&str) -> bool) -> Option<Vec<String>> {
        let buf = self.pending.entry(session).or_default();
        let i = buf.iter().position(|l| last(l))?;
        Some(buf.drain(..=i).collect())
    }
}

/// A fresh Dovecot over TCP.
struct Real {
    server: dovecot::Dovecot,
    conns: HashMap<usize, (BufReader<TcpStream>, TcpStream)>,
}

impl Target for Real {
    fn user(&self) -> (&str, &str) {
        (&self.server.user, &self.server.password)
    }

    fn connect(&mut self, session: usize) {
        let w = self.server.connect();
        let r = BufReader::new(w.try_clone().expect("clone"));
        self.conns.insert(session, (r, w));
        let greeting = self.read_until(session, &|_| true);
        assert!(greeting.is_some(), "no greeting");
    }

    fn send(&mut self, session: usize, bytes: &[u8]) {
        let (_, w) = self.conns.get_mut(&session).expect("connected");
        w.write_all(bytes).expect("write");
    }

    fn read_until(&mut self, session: usize, last: &dyn Fn(&str) -> bool) -> Option<Vec<String>> {
        let (r, _) = self.conns.get_mut(&session).expect("connected");
        let deadline = Instant::now() + WAIT;
        let mut out = Vec::new();
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = r
                .get_ref()
                .set_read_timeout(Some(left.max(Duration::from_millis(10))));
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {
                    let l = line.trim_end_matches(['\r', '\n']).to_string();
                    let done = last(&l);
                    out.push(l);
                    if done {
                        return Some(out);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }
}

/// Run a script; `Err` names the first failing step.
fn run(script: &Script, t: &mut dyn Target) -> Result<(), String> {
    let (user, pass) = {
        let (u, p) = t.user();
        (u.to_string(), p.to_string())
    };
    let mut connected = std::collections::HashSet::new();
    let mut last: HashMap<usize, (Vec<String>, usize)> = HashMap::new();
    let mut idle_tag: HashMap<usize, String> = HashMap::new();
    let fail = |lineno: usize, what: String| Err(format!("{}:{lineno}: {what}", script.name));
    for (lineno, step) in &script.steps {
        match step {
            Step::Send { session, line } => {
                if connected.insert(*session) {
                    t.connect(*session);
                }
                let mut wire = line.replace("$user", &user).replace("$pass", &pass);
                for (name, text) in &script.messages {
                    let lit = format!("{{{}+}}\r\n{text}", text.len());
                    wire = wire.replace(&format!("{{{{{name}}}}}"), &lit);
                }
                wire.push_str("\r\n");
                t.send(*session, wire.as_bytes());
                let tag = line.split(' ').next().unwrap_or("").to_string();
                let is_idle = line
                    .split(' ')
                    .nth(1)
                    .is_some_and(|c| c.eq_ignore_ascii_case("IDLE"));
                let lines = if is_idle {
                    idle_tag.insert(*session, tag);
                    t.read_until(*session, &|l| l.starts_with('+'))
                } else if tag.eq_ignore_ascii_case("DONE") {
                    let tag = idle_tag.remove(session).unwrap_or_default();
                    let prefix = format!("{tag} ");
                    t.read_until(*session, &|l| l.starts_with(&prefix))
                } else {
                    let prefix = format!("{tag} ");
                    t.read_until(*session, &|l| l.starts_with(&prefix))
                };
                match lines {
                    Some(l) => {
                        last.insert(*session, (l, 0));
                    }
                    None => return fail(*lineno, format!("no complete response to {line:?}")),
                }
            }
            Step::Expect { session, pattern } => {
                let Some((lines, from)) = last.get_mut(session) else {
                    return fail(*lineno, "no response yet".into());
                };
                match lines.iter().skip(*from).position(|l| matches(pattern, l)) {
                    Some(i) => *from += i + 1,
                    None => {
                        return fail(
                            *lineno,
                            format!("{pattern:?} not found (in order) in:\n{}", lines.join("\n")),
                        )
                    }
                }
            }
            Step::Forbid { session, pattern } => {
                if let Some((lines, _)) = last.get(session) {
                    if let Some(l) = lines.iter().find(|l| matches(pattern, l)) {
                        return fail(*lineno, format!("{pattern:?} matched {l:?}"));
                    }
                }
            }
            Step::Await { session, pattern } => {
                match t.read_until(*session, &|l| matches(pattern, l)) {
                    Some(l) => {
                        last.insert(*session, (l, 0));
                    }
                    None => return fail(*lineno, format!("{pattern:?} did not come")),
                }
            }
        }
    }
    Ok(())
}

fn scripts() -> Vec<Script> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compliance");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/compliance")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "imap"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            parse(&name, &std::fs::read_to_string(p).expect("script"))
        })
        .collect()
}

fn report(target: &str, results: &[(String, Result<(), String>)]) -> usize {
    let passed = results.iter().filter(|(_, r)| r.is_ok()).count();
    eprintln!(
        "compliance suite on {target}: {passed} of {} scripts pass",
        results.len()
    );
    for (_, r) in results {
        if let Err(e) = r {
            eprintln!("  FAIL {e}");
        }
    }
    passed
}

#[test]
fn every_script_passes_on_the_in_memory_server() {
    let scripts = scripts();
    assert!(scripts.len() >= 8, "{} scripts", scripts.len());
    let results: Vec<_> = scripts
        .iter()
        .map(|s| (s.name.clone(), run(s, &mut Memory::new())))
        .collect();
    let passed = report("the in-memory server", &results);
    assert_eq!(passed, results.len(), "see the FAIL lines above");
}

#[test]
fn every_script_passes_on_dovecot() {
    if !peers::available("every_script_passes_on_dovecot", &[peers::DOVECOT]) {
        return;
    }
    let scripts = scripts();
    let results: Vec<_> = scripts
        .iter()
        .map(|s| {
            let mut t = Real {
                server: dovecot::Dovecot::start(),
                conns: HashMap::new(),
            };
            (s.name.clone(), run(s, &mut t))
        })
        .collect();
    let passed = report("Dovecot", &results);
    assert_eq!(passed, results.len(), "see the FAIL lines above");
}

#[test]
fn the_runner_can_fail() {
    // A pattern that is not there, a forbidden line that is, and the wildcards.
    let bad = parse(
        "bad",
        "1> a LOGIN $user $pass\n1< a OK {...}\n1> b NOOP\n1< * 99 EXISTS\n",
    );
    assert!(run(&bad, &mut Memory::new()).is_err());
    let forbid = parse("forbid", "1> a LOGIN $user $pass\n1! a OK{...}\n");
    assert!(run(&forbid, &mut Memory::new()).is_err());
    assert!(matches(
        "* 1 FETCH (FLAGS {set:\\Seen \\Recent})",
        "* 1 FETCH (FLAGS (\\Recent \\Seen))"
    ));
    assert!(!matches(
        "* 1 FETCH (FLAGS {set:\\Seen})",
        "* 1 FETCH (FLAGS (\\Recent \\Seen))"
    ));
    assert!(matches("a OK {...} done", "a OK [READ-WRITE] x done"));
    assert!(!matches("a OK {...} done", "a OK [READ-WRITE] x done!"));
}
