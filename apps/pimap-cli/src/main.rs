//! A command-line client for any IMAP4rev1 or P-IMAP server: the sans-IO [`Client`] driven
//! over a blocking `std::net::TcpStream` (plaintext only: no TLS, no STARTTLS).
//!
//! ```text
//! cargo run --example client -- [--host H] [--port P] --user USER --password PW
//!                                [--timeout SECS] [--trace] <action> [args]
//! ```
//!
//! Actions:
//!
//! * `list`: `LIST "" "*"`, prints the `* LIST` responses.
//! * `fetch <mailbox> <set> <items>`: SELECT, then `FETCH <set> <items>`; prints the
//!   responses as the server sent them (re-encoded). Items without parentheses but with
//!   spaces are put in parentheses (`UID FLAGS` → `(UID FLAGS)`).
//! * `idle <mailbox> [--seconds N]`: SELECT, IDLE, and print events as they arrive (new
//!   messages with UID and subject, expunges, flag changes, UIDVALIDITY changes, RESYNC);
//!   after N seconds (default 30) DONE and LOGOUT. New messages are fetched with
//!   `FETCH (UID FLAGS ENVELOPE)` (leaving IDLE for that) and IDLE starts again. A server
//!   without IDLE is polled with NOOP every 2 s. With a device login (`user#device`) a
//!   P-IMAP server pushes only the events that match the device's notification filter
//!   (spec §1.2); the others arrive with the next response, at the latest with the final
//!   DONE. Set a filter first, e.g. `raw "XFILTER INBOX N ALL"` with the same user.
//! * `deliver <file> [--saveto MAILBOX] [--to ADDR ...]`: P-IMAP `XDELIVER N` (only if the
//!   server advertises XDELIVER) with the file as the message (bare LF line ends become
//!   CRLF), `SAVETO=` and `ENVELOPE (...)` recipients when given; prints the tagged response
//!   and the APPENDUID of the saved copy.
//! * `raw "<command>"`: a command without its tag (e.g. `raw "STATUS INBOX (MESSAGES)"`),
//!   as pimap's command parser reads it (IMAP4rev1, the supported extensions and P-IMAP);
//!   prints the responses. Each run is its own session: SELECT and FETCH need `fetch`.
//!
//! Options:
//!
//! * `--host` (default 127.0.0.1), `--port` (default 143).
//! * `--user` may carry a P-IMAP device id, `user#device[@domain]`: the login outcome is
//!   printed as `login: fresh ...`, `login: resumed ...` or `login: RESYNC ...`, together with
//!   whether the server sent a `SESSIONID` (never its value: it is a bearer secret).
//! * `--password`, or the environment variable `PIMAP_PASSWORD` (keeps it out of `ps`).
//! * `--timeout SECS` (default 10): the longest wait for any one server answer (greeting,
//!   each command's completion, the end of IDLE). Every wait is bounded.
//! * `--trace`: print the raw protocol to stderr, `C: ` for what is sent and `S: ` for what
//!   is received. The LOGIN password and the SESSIONID value are redacted.
//!
//! Examples, against the demo server (`cargo run --example server -- --port 1143
//! --inject-port 1144`):
//!
//! ```text
//! cargo run --example client -- --port 1143 --user alice#phone --password alicepw list
//! cargo run --example client -- --port 1143 --user alice --password alicepw \
//!     fetch INBOX 1:* "(UID FLAGS ENVELOPE)"
//! cargo run --example client -- --port 1143 --user alice#phone --password alicepw \
//!     raw "XFILTER INBOX N ALL"
//! cargo run --example client -- --port 1143 --user alice#phone --password alicepw \
//!     idle INBOX --seconds 60
//! cargo run --example client -- --port 1143 --user alice#phone --password alicepw \
//!     deliver mail.eml --saveto Sent --to bob@example.org
//! cargo run --example client -- --port 1143 --user alice --password alicepw --trace \
//!     raw "STATUS INBOX (MESSAGES UIDNEXT)"
//! ```
//!
//! Exit status: 0 when every command completed with OK, 1 when one failed (or the connection
//! failed or timed out), 2 for a usage error.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use pimap::client::{
    Client, ClientConfig, ClientState, CommandHandle, Completion, Event, GreetingKind,
    LoginOutcome, MailboxEvent, Output,
};
use pimap::codec::{CommandDecoder, Encode};
use pimap::types::{
    Address, ClientMessage, Code, CommandBody, DeliverKind, FetchItem, Flag, IString, Literal8,
    Mailbox, SequenceSet, StatusResponse, XDeliverCommand,
};

/// How long one read may block before the loop looks at its deadlines again.
const READ_SLICE: Duration = Duration::from_millis(100);
/// Default `--seconds` of `idle`.
const DEFAULT_IDLE_SECONDS: u64 = 30;
/// Poll interval with NOOP when the server has no IDLE.
const NOOP_POLL: Duration = Duration::from_secs(2);

// ------------------------------------------------------------------------------------------
// arguments

enum Action {
    List,
    Fetch {
        mailbox: String,
        set: String,
        items: String,
    },
    Idle {
        mailbox: String,
        seconds: u64,
    },
    Deliver {
        file: String,
        save_to: Option<String>,
        to: Vec<String>,
    },
    Raw(String),
}

struct Args {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    timeout: Duration,
    trace: bool,
    action: Action,
}

fn usage() -> ! {
    eprintln!(
        "usage: client [--host H] [--port P] --user USER --password PW [--timeout SECS] [--trace]\n\
         \x20             <action>\n\
         actions:\n\
         \x20 list\n\
         \x20 fetch <mailbox> <set> <items>\n\
         \x20 idle <mailbox> [--seconds N]\n\
         \x20 deliver <file> [--saveto MAILBOX] [--to ADDR ...]\n\
         \x20 raw \"<command>\""
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut host = "127.0.0.1".to_string();
    let mut port = 143u16;
    let mut user = None;
    let mut password = std::env::var("PIMAP_PASSWORD").ok();
    let mut timeout = Duration::from_secs(10);
    let mut trace = false;
    let mut seconds = None;
    let mut save_to = None;
    let mut to = Vec::new();
    let mut words = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--host" => host = value(),
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--user" => user = Some(value()),
            "--password" => password = Some(value()),
            "--timeout" => {
                let s: u64 = value().parse().unwrap_or_else(|_| usage());
                timeout = Duration::from_secs(s.max(1));
            }
            "--trace" => trace = true,
            "--seconds" => seconds = Some(value().parse().unwrap_or_else(|_| usage())),
            "--saveto" => save_to = Some(value()),
            "--to" => to.push(value()),
            "-h" | "--help" => usage(),
            s if s.starts_with("--") => {
                eprintln!("unknown option {s:?}");
                usage()
            }
            _ => words.push(a),
        }
    }
    let mut w = words.into_iter();
    let action = match w.next().as_deref() {
        Some("list") => Action::List,
        Some("fetch") => {
            let mailbox = w.next().unwrap_or_else(|| usage());
            let set = w.next().unwrap_or_else(|| usage());
            let rest: Vec<String> = w.by_ref().collect();
            if rest.is_empty() {
                usage()
            }
            let items = rest.join(" ");
            let items = if items.contains(' ') && !items.starts_with('(') {
                format!("({items})")
            } else {
                items
            };
            Action::Fetch {
                mailbox,
                set,
                items,
            }
        }
        Some("idle") => Action::Idle {
            mailbox: w.next().unwrap_or_else(|| usage()),
            seconds: seconds.unwrap_or(DEFAULT_IDLE_SECONDS),
        },
        Some("deliver") => Action::Deliver {
            file: w.next().unwrap_or_else(|| usage()),
            save_to: save_to.take(),
            to: std::mem::take(&mut to),
        },
        Some("raw") => {
            let rest: Vec<String> = w.by_ref().collect();
            if rest.is_empty() {
                usage()
            }
            Action::Raw(rest.join(" "))
        }
        _ => usage(),
    };
    if w.next().is_some() {
        eprintln!("too many arguments");
        usage()
    }
    Args {
        host,
        port,
        user,
        password,
        timeout,
        trace,
        action,
    }
}

// ------------------------------------------------------------------------------------------
// the session: a Client and a socket

struct Session {
    client: Client,
    stream: TcpStream,
    timeout: Duration,
    trace: bool,
    /// Received bytes not yet printed by `--trace` (printed line by line).
    trace_in: Vec<u8>,
    /// The LOGIN command is in flight: redact what is sent.
    login_pending: bool,
    /// The outcome reported by the last login.
    outcome: Option<LoginOutcome>,
    /// The server closed the connection.
    closed: bool,
    /// Some command completed with NO or BAD.
    failed: bool,
}

type Res<T> = Result<T, String>;

impl Session {
    fn connect(host: &str, port: u16, timeout: Duration, trace: bool) -> Res<Self> {
        let addrs: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("resolve {host}:{port}: {e}"))?
            .collect();
        let mut last = format!("{host}:{port}: no address");
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("connect {a}: {e}"),
            }
        }
        let stream = stream.ok_or(last)?;
        stream
            .set_read_timeout(Some(READ_SLICE))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| format!("socket options: {e}"))?;
        Ok(Self {
            client: Client::new(ClientConfig::default()),
            stream,
            timeout,
            trace,
            trace_in: Vec::new(),
            login_pending: false,
            outcome: None,
            closed: false,
            failed: false,
        })
    }

    fn dialect(&self) -> pimap::codec::Dialect {
        self.client.encode_options().dialect
    }

    /// The next event, moving bytes both ways meanwhile; `None` once `deadline` has passed.
    /// Every event is also given to [`Session::report`].
    fn next_event(&mut self, deadline: Instant) -> Res<Option<Event>> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            while let Some(o) = self.client.poll_output() {
                match o {
                    Output::Transmit(b) => {
                        self.trace_out(&b);
                        self.stream
                            .write_all(&b)
                            .and_then(|()| self.stream.flush())
                            .map_err(|e| format!("write: {e}"))?;
                    }
                    Output::Event(e) => {
                        self.report(&e);
                        return Ok(Some(e));
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            if self.client.poll_timeout().is_some_and(|t| t <= now) {
                self.client.handle_timeout(now);
                continue;
            }
            if now >= deadline {
                return Ok(None);
            }
            if self.closed {
                return Err("the server closed the connection".into());
            }
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.trace_flush();
                    self.closed = true;
                }
                Ok(n) => {
                    self.trace_in(&buf[..n]);
                    self.client.handle_input(&buf[..n], Instant::now());
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Wait (at most `--timeout`) for an event that satisfies `done`; returns it.
    fn wait_for(&mut self, what: &str, done: impl Fn(&Event) -> bool) -> Res<Event> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.next_event(deadline)? {
                Some(e) if done(&e) => return Ok(e),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "timed out after {:?} waiting for {what}",
                        self.timeout
                    ))
                }
            }
        }
    }

    /// Wait for the completion of `handle`.
    fn completion(&mut self, handle: CommandHandle, what: &str) -> Res<Completion> {
        match self.wait_for(
            what,
            |e| matches!(e, Event::Completed(c) if c.handle == handle),
        )? {
            Event::Completed(c) => Ok(c),
            _ => unreachable!("wait_for returns a matching event"),
        }
    }

    /// What every event prints, whoever waits for it.
    fn report(&mut self, e: &Event) {
        match e {
            Event::LoggedIn(o) => self.outcome = Some(o.clone()),
            Event::Selected {
                mailbox,
                exists,
                uid_validity,
            } => {
                let uv = uid_validity.map_or("unknown".to_string(), |u| u.to_string());
                println!(
                    "selected {}: {exists} messages, UIDVALIDITY {uv}",
                    name(mailbox)
                );
            }
            Event::ResyncRequired => {
                println!("RESYNC: the server lost this session's events; a full sync is needed");
            }
            Event::SessionSevered => {
                println!("session severed: the P-IMAP session no longer exists (untagged LOGIN)");
            }
            Event::Bye { text } => println!("* BYE {}", String::from_utf8_lossy(text)),
            Event::ViewInconsistent(why) => {
                eprintln!("warning: mailbox view inconsistent: {why}");
            }
            Event::ProtocolError(err) => eprintln!("warning: undecodable server data: {err}"),
            Event::CompressionError(err) => eprintln!("warning: compression error: {err}"),
            _ => {}
        }
    }

    /// Print and record a command's failure.
    fn check(&mut self, c: &Completion) -> bool {
        if !c.is_ok() {
            self.failed = true;
        }
        c.is_ok()
    }

    /// Send a command given as text (without tag), wait for it and print its responses.
    fn run_text(&mut self, text: &str) -> Res<Completion> {
        let body = parse_command(text)?;
        self.run(body, text)
    }

    /// Send `body`, wait for its completion, print its untagged data and tagged status.
    fn run(&mut self, body: CommandBody, what: &str) -> Res<Completion> {
        let h = self
            .client
            .enqueue(body)
            .map_err(|e| format!("{what}: {e}"))?;
        let c = self.completion(h, what)?;
        let dialect = self.dialect();
        for d in &c.data {
            print_wire(&d.to_bytes(dialect));
        }
        if c.truncated {
            println!("(more untagged responses were received than are kept)");
        }
        print_wire(&c.status.to_bytes(dialect));
        self.check(&c);
        Ok(c)
    }

    fn greeting(&mut self) -> Res<GreetingKind> {
        match self.wait_for("the greeting", |e| matches!(e, Event::Greeting { .. }))? {
            Event::Greeting { kind, .. } => Ok(kind),
            _ => unreachable!("wait_for returns a matching event"),
        }
    }

    fn login(&mut self, user: &str, password: &str) -> Res<()> {
        self.outcome = None;
        self.login_pending = true;
        let h = self
            .client
            .login(user, password)
            .map_err(|e| format!("LOGIN: {e}"))?;
        let c = self.completion(h, "the LOGIN completion");
        self.login_pending = false;
        let c = c?;
        if !c.is_ok() {
            self.failed = true;
            return Err(format!("login failed: {}", status_text(&c.status)));
        }
        let outcome = match &self.outcome {
            None | Some(LoginOutcome::Plain) => "OK (plain IMAP session, no device id)".into(),
            Some(LoginOutcome::Fresh) => {
                "fresh P-IMAP session (no earlier session: a full sync is needed)".into()
            }
            Some(LoginOutcome::ResumedAuthenticated) => {
                "resumed P-IMAP session (AUTHENTICATED)".into()
            }
            Some(LoginOutcome::ResumedSelected { mailbox, events }) => format!(
                "resumed P-IMAP session in {} ({events} queued events applied)",
                name(mailbox)
            ),
            Some(LoginOutcome::ResyncRequired { selected }) => format!(
                "RESYNC: resumed{} but the queued events are lost: a full sync is needed",
                selected
                    .as_ref()
                    .map(|m| format!(" in {}", name(m)))
                    .unwrap_or_default()
            ),
            Some(other) => format!("{other:?}"),
        };
        println!("login: {outcome}");
        if self.client.session_id().is_some() {
            println!("SESSIONID: present (value not shown: it is a secret)");
        } else {
            println!("SESSIONID: absent");
        }
        Ok(())
    }

    fn select(&mut self, mailbox: &str) -> Res<()> {
        let h = self
            .client
            .select(mailbox)
            .map_err(|e| format!("SELECT: {e}"))?;
        let c = self.completion(h, "the SELECT completion")?;
        if !self.check(&c) {
            return Err(format!(
                "SELECT {mailbox} failed: {}",
                status_text(&c.status)
            ));
        }
        Ok(())
    }

    fn logout(&mut self) -> Res<()> {
        if self.closed || self.client.state() == &ClientState::Logout {
            return Ok(());
        }
        let h = self.client.logout().map_err(|e| format!("LOGOUT: {e}"))?;
        match self.completion(h, "the LOGOUT completion") {
            Ok(c) => {
                print_wire(&c.status.to_bytes(self.dialect()));
                Ok(())
            }
            // A server may close right after its BYE.
            Err(_) if self.closed => Ok(()),
            Err(e) => Err(e),
        }
    }

    // ---------------------------------------------------------------------- trace

    fn trace_out(&mut self, bytes: &[u8]) {
        if !self.trace {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        for line in text.split_inclusive('\n') {
            let line = line.trim_end_matches(['\r', '\n']);
            if self.login_pending {
                // `tag LOGIN user password`: keep the user, hide the password (and any
                // literal that carries it).
                let mut parts = line.splitn(4, ' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(tag), Some(cmd), Some(user)) if cmd.eq_ignore_ascii_case("LOGIN") => {
                        eprintln!("C: {tag} {cmd} {user} <password redacted>");
                    }
                    _ => eprintln!("C: <{} octets of LOGIN data redacted>", line.len()),
                }
            } else {
                eprintln!("C: {line}");
            }
        }
    }

    fn trace_in(&mut self, bytes: &[u8]) {
        if !self.trace {
            return;
        }
        self.trace_in.extend_from_slice(bytes);
        while let Some(i) = self.trace_in.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.trace_in.drain(..=i).collect();
            trace_server_line(&line);
        }
        if self.trace_in.len() > 64 * 1024 {
            self.trace_flush();
        }
    }

    fn trace_flush(&mut self) {
        if self.trace && !self.trace_in.is_empty() {
            let rest = std::mem::take(&mut self.trace_in);
            trace_server_line(&rest);
        }
    }
}

fn trace_server_line(line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    let upper = text.to_ascii_uppercase();
    if upper.starts_with("* SESSIONID ") {
        eprintln!("S: {} <redacted>", &text[..11]);
    } else {
        eprintln!("S: {text}");
    }
}

// ------------------------------------------------------------------------------------------
// helpers

/// A command body from its text (the decoder that reads a server's input; tag added here).
fn parse_command(text: &str) -> Res<CommandBody> {
    let mut d = CommandDecoder::default();
    d.feed(format!("x {text}\r\n").as_bytes());
    match d.next() {
        Ok(Some(ClientMessage::Command(c))) => Ok(c.body),
        Ok(Some(other)) => Err(format!("{text:?} is not a command: {other:?}")),
        Ok(None) => Err(format!(
            "{text:?} is incomplete (a literal needs its data; use a quoted string)"
        )),
        Err(e) => Err(format!("{text:?} does not parse as a command: {e}")),
    }
}

fn name(m: &Mailbox) -> String {
    String::from_utf8_lossy(m.as_bytes()).into_owned()
}

/// Wire text for display: CRLF becomes a newline, no trailing newline doubled.
fn print_wire(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    println!("{}", text.trim_end_matches('\n'));
}

fn status_text(s: &StatusResponse) -> String {
    String::from_utf8_lossy(&s.to_bytes(pimap::codec::Dialect::default()))
        .trim_end()
        .to_string()
}

fn flag_text(f: &Flag) -> String {
    match f {
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Seen => "\\Seen".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::Forwarded => "\\Forwarded".into(),
        Flag::Wildcard => "\\*".into(),
        Flag::Extension(a) => format!("\\{}", String::from_utf8_lossy(a.as_bytes())),
        Flag::Keyword(a) => String::from_utf8_lossy(a.as_bytes()).into_owned(),
    }
}

fn flags_text(flags: &[Flag]) -> String {
    let v: Vec<String> = flags.iter().map(flag_text).collect();
    format!("({})", v.join(" "))
}

fn uid_text(uid: Option<u32>) -> String {
    uid.map(|u| format!(" UID {u}")).unwrap_or_default()
}

fn set_text(s: &SequenceSet) -> String {
    let v: Vec<String> = s.iter(0).map(|n| n.to_string()).collect();
    v.join(",")
}

/// Bare LF line ends to CRLF (messages on disk are often Unix text).
fn to_crlf(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 32);
    let mut prev = 0u8;
    for &b in msg {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn address(text: &str) -> Res<Address> {
    let (local, host) = text
        .rsplit_once('@')
        .filter(|(l, h)| !l.is_empty() && !h.is_empty())
        .ok_or_else(|| format!("--to {text:?}: expected local@domain"))?;
    let s = |v: &str| IString::try_from(v).map_err(|e| format!("--to {text:?}: {e}"));
    Ok(Address {
        name: None,
        adl: None,
        mailbox: Some(s(local)?),
        host: Some(s(host)?),
    })
}

// ------------------------------------------------------------------------------------------
// actions

fn action_list(s: &mut Session) -> Res<()> {
    s.run_text(r#"LIST "" "*""#).map(drop)
}

fn action_fetch(s: &mut Session, mailbox: &str, set: &str, items: &str) -> Res<()> {
    s.select(mailbox)?;
    s.run_text(&format!("FETCH {set} {items}")).map(drop)
}

fn action_raw(s: &mut Session, text: &str) -> Res<()> {
    s.run_text(text).map(drop)
}

fn action_deliver(s: &mut Session, file: &str, save_to: Option<&str>, to: &[String]) -> Res<()> {
    if !s.client.capabilities().has("XDELIVER") {
        // An unknown command's literal would be read as commands by the server.
        return Err("the server does not advertise XDELIVER (not a P-IMAP server?)".into());
    }
    let raw = std::fs::read(file).map_err(|e| format!("read {file}: {e}"))?;
    let data = to_crlf(&raw);
    let message = if data.contains(&0) {
        Literal8::binary(data)
    } else {
        Literal8::text(data).map_err(|e| e.to_string())?
    };
    let save_to = save_to
        .map(|m| Mailbox::try_from(m).map_err(|e| format!("--saveto {m:?}: {e}")))
        .transpose()?;
    let envelope = if to.is_empty() {
        None
    } else {
        Some(to.iter().map(|a| address(a)).collect::<Res<Vec<_>>>()?)
    };
    let octets = message.data.len();
    let c = s.run(
        CommandBody::XDeliver(XDeliverCommand::Classic {
            kind: DeliverKind::New,
            save_to: save_to.clone(),
            envelope,
            message,
        }),
        "XDELIVER",
    )?;
    if !c.is_ok() {
        return Ok(());
    }
    println!("delivered: {octets} octets");
    match (&c.status.code, &save_to) {
        (Some(Code::AppendUid { uid_validity, uids }), _) => println!(
            "APPENDUID: UIDVALIDITY {uid_validity} UID {}",
            set_text(uids)
        ),
        (_, Some(m)) => println!(
            "APPENDUID: none (the server did not report the copy in {})",
            name(m)
        ),
        (_, None) => println!("APPENDUID: none (no --saveto)"),
    }
    Ok(())
}

/// What the idle loop is waiting for besides events.
enum Pending {
    /// Nothing in flight (polling mode between NOOPs).
    Nothing,
    /// IDLE is in flight.
    Idle(CommandHandle),
    /// The FETCH of new messages `from..=to` is in flight.
    FetchNew {
        handle: CommandHandle,
        from: u32,
        to: u32,
    },
    /// A NOOP poll is in flight (server without IDLE).
    Noop(CommandHandle),
}

fn action_idle(s: &mut Session, mailbox: &str, seconds: u64) -> Res<()> {
    s.select(mailbox)?;
    let mut known = s.client.mailbox().map_or(0, |v| v.exists());
    let use_idle = s.client.capabilities().has("IDLE");
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut pending = if use_idle {
        let h = s.client.idle().map_err(|e| format!("IDLE: {e}"))?;
        Pending::Idle(h)
    } else {
        println!("the server has no IDLE: polling with NOOP every {NOOP_POLL:?}");
        Pending::Nothing
    };
    let mut next_poll = Instant::now();
    let mut announced = false;
    let mut new_range: Option<(u32, u32)> = None;
    let mut ending = false;
    // The session's wait for an answer: from the end of the watch, bounded by --timeout.
    let mut hard_deadline = end + s.timeout;
    loop {
        let now = Instant::now();
        if !ending && now >= end {
            ending = true;
            hard_deadline = now + s.timeout;
            match pending {
                Pending::Idle(_) if s.client.is_idling() => {
                    s.client.done().map_err(|e| format!("DONE: {e}"))?;
                }
                Pending::Nothing => match new_range.take() {
                    Some((from, to)) => pending = fetch_new(s, from, to)?,
                    None => break,
                },
                _ => {}
            }
        }
        if ending && now >= hard_deadline {
            return Err(format!(
                "timed out after {:?} waiting for the end of IDLE",
                s.timeout
            ));
        }
        if !use_idle && !ending && matches!(pending, Pending::Nothing) {
            if let Some((from, to)) = new_range.take() {
                pending = fetch_new(s, from, to)?;
            } else if now >= next_poll {
                next_poll = now + NOOP_POLL;
                pending = Pending::Noop(s.client.noop().map_err(|e| format!("NOOP: {e}"))?);
            }
        }
        let wake = if ending {
            hard_deadline
        } else if use_idle || !matches!(pending, Pending::Nothing) {
            end
        } else {
            end.min(next_poll)
        };
        let Some(e) = s.next_event(wake)? else {
            continue;
        };
        match e {
            Event::IdleStarted(h) if matches!(pending, Pending::Idle(p) if p == h) => {
                if !announced {
                    announced = true;
                    println!(
                        "idling on {mailbox} for {seconds} s ({known} messages); events follow"
                    );
                }
                if ending && s.client.is_idling() {
                    s.client.done().map_err(|e| format!("DONE: {e}"))?;
                }
            }
            Event::Mailbox(m) => {
                let fetching = match pending {
                    Pending::FetchNew { from, to, .. } => Some((from, to)),
                    _ => None,
                };
                match m {
                    MailboxEvent::Exists { count } if count > known => {
                        println!(
                            "event: new message(s): * {count} EXISTS ({} new)",
                            count - known
                        );
                        let from = known + 1;
                        known = count;
                        new_range = Some(match new_range {
                            Some((a, _)) => (a, count),
                            None => (from, count),
                        });
                        if !ending {
                            if let Pending::Idle(_) = pending {
                                // Leave IDLE to fetch them (enqueue sends DONE first).
                                let (from, to) = new_range.take().unwrap_or((from, count));
                                pending = fetch_new(s, from, to)?;
                            }
                        }
                    }
                    MailboxEvent::Exists { count } => known = count,
                    MailboxEvent::Recent { .. } => {}
                    MailboxEvent::Expunged { seq, uid } => {
                        known = known.saturating_sub(1);
                        println!("event: expunged: message {seq}{}", uid_text(uid));
                    }
                    MailboxEvent::Vanished { uids, earlier } => {
                        known = known.saturating_sub(u32::try_from(uids.len()).unwrap_or(0));
                        let list: Vec<String> = uids.iter().map(|u| u.to_string()).collect();
                        println!(
                            "event: vanished{}: UID {}",
                            if earlier { " (earlier)" } else { "" },
                            list.join(",")
                        );
                    }
                    MailboxEvent::FlagsChanged { seq, uid, flags } => {
                        if !fetching.is_some_and(|(a, b)| (a..=b).contains(&seq)) {
                            println!(
                                "event: flags changed: message {seq}{} {}",
                                uid_text(uid),
                                flags_text(&flags)
                            );
                        }
                    }
                    MailboxEvent::Fetched { seq, uid, items } => {
                        if fetching.is_some_and(|(a, b)| (a..=b).contains(&seq)) {
                            print_new_message(seq, uid, &items);
                        }
                    }
                    MailboxEvent::UidValidityChanged { old, new } => println!(
                        "event: UIDVALIDITY changed {old} -> {new}: every UID is void, \
                         a full sync is needed"
                    ),
                    other => println!("event: {other:?}"),
                }
            }
            Event::ResyncRequired => println!("event: RESYNC"),
            Event::Completed(c) => {
                let done = match pending {
                    Pending::Idle(h) if h == c.handle => {
                        if !s.check(&c) {
                            return Err(format!("IDLE failed: {}", status_text(&c.status)));
                        }
                        true
                    }
                    Pending::FetchNew { handle, .. } if handle == c.handle => {
                        s.check(&c);
                        true
                    }
                    Pending::Noop(h) if h == c.handle => {
                        s.check(&c);
                        true
                    }
                    _ => false,
                };
                if done {
                    pending = Pending::Nothing;
                    // Fetch what arrived (also with the final DONE's completion), then IDLE
                    // again unless the watch is over.
                    if let Some((from, to)) = new_range.take().filter(|_| use_idle || ending) {
                        pending = fetch_new(s, from, to)?;
                    } else if ending {
                        break;
                    } else if use_idle {
                        // IDLE again: after our FETCH, or if the server ended IDLE itself.
                        pending = Pending::Idle(s.client.idle().map_err(|e| format!("IDLE: {e}"))?);
                    }
                }
            }
            _ => {}
        }
    }
    println!("idle ended after {seconds} s");
    Ok(())
}

/// `FETCH from:to (UID FLAGS ENVELOPE)` for new messages (leaves IDLE first).
fn fetch_new(s: &mut Session, from: u32, to: u32) -> Res<Pending> {
    let body = parse_command(&format!("FETCH {from}:{to} (UID FLAGS ENVELOPE)"))?;
    let handle = s.client.enqueue(body).map_err(|e| format!("FETCH: {e}"))?;
    Ok(Pending::FetchNew { handle, from, to })
}

fn print_new_message(seq: u32, uid: Option<u32>, items: &[FetchItem]) {
    let mut subject = None;
    let mut from = None;
    let mut flags = None;
    for i in items {
        match i {
            FetchItem::Envelope(env) => {
                subject = env
                    .subject
                    .as_ref()
                    .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned());
                from = env.from.first().map(|a| {
                    let part = |v: &Option<IString>| {
                        v.as_ref()
                            .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
                            .unwrap_or_default()
                    };
                    format!("{}@{}", part(&a.mailbox), part(&a.host))
                });
            }
            FetchItem::Flags(f) => flags = Some(flags_text(f)),
            _ => {}
        }
    }
    println!(
        "event: new message {seq}{} from {} subject {:?} flags {}",
        uid_text(uid),
        from.unwrap_or_else(|| "(unknown)".into()),
        subject.unwrap_or_default(),
        flags.unwrap_or_else(|| "()".into())
    );
}

// ------------------------------------------------------------------------------------------

fn run(args: &Args) -> Res<bool> {
    let mut s = Session::connect(&args.host, args.port, args.timeout, args.trace)?;
    match s.greeting()? {
        GreetingKind::Bye => return Err("the server refused the connection (BYE)".into()),
        GreetingKind::PreAuth => println!("greeting: PREAUTH (already authenticated)"),
        _ => {
            println!("greeting: OK");
            let (Some(user), Some(password)) = (&args.user, &args.password) else {
                return Err("--user and --password (or PIMAP_PASSWORD) are needed".into());
            };
            if let Err(e) = s.login(user, password) {
                let _ = s.logout();
                return Err(e);
            }
        }
    }
    let result = match &args.action {
        Action::List => action_list(&mut s),
        Action::Fetch {
            mailbox,
            set,
            items,
        } => action_fetch(&mut s, mailbox, set, items),
        Action::Idle { mailbox, seconds } => action_idle(&mut s, mailbox, *seconds),
        Action::Deliver { file, save_to, to } => {
            action_deliver(&mut s, file, save_to.as_deref(), to)
        }
        Action::Raw(text) => action_raw(&mut s, text),
    };
    // Log out also after a failed action, if the connection is still usable.
    let logout = s.logout();
    result?;
    logout?;
    Ok(!s.failed)
}

fn main() -> ExitCode {
    let args = parse_args();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("a command did not complete with OK");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
