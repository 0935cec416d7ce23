//! The narrated P-IMAP demo: the crate's server and a device client in one process, over the
//! in-memory store.
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! Every `C:` / `S:` line is real encoder output: the bytes the client and the server hand
//! out for transmission (a long run of FETCH responses shows its first three and its last
//! line, a literal shows its length, a very long line is cut). Everything is deterministic:
//! session ids come from a seeded random source, the wall clock is fixed and time is virtual,
//! so every run prints the same bytes. An unexpected answer stops the demo with exit code 1.

use std::time::{Duration, Instant};

use bytes::Bytes;
use pimap_client::{
    Client, ClientConfig, Completion, Event, LocalFolder, LoginOutcome, MailboxView, MessageEntry,
    Output,
};
use pimap_codec::compress::{DeflateStream, Limits, PUSH_LEVEL};
use pimap_codec::CommandDecoder;
use pimap_notify::EmnNotification;
use pimap_server::blocking::{Action, CollectingNotifier, Driver, Submitter};
use pimap_server::SubmitError;
use pimap_server::{
    ConnId, MemoryPersistence, Reply, Request, SearchClock, SeededRandom, Server, ServerConfig,
    StoreOp, Submission,
};
use pimap_store_memory::MemoryStore;
use pimap_types::{ClientMessage, Code, FetchAttr, FetchItems, Flag, Mailbox, StoreKind};

type R<T> = Result<T, Box<dyn std::error::Error>>;

/// The wall clock at the start: 2024-06-03T09:00:00Z.
const T0: i64 = 1_717_405_200;
/// Longer lines are cut (the rest is counted).
const MAX_LINE: usize = 260;

/// The steps: a title, then what P-IMAP does there.
const STEPS: [&str; 12] = [
    "Log in as a device | LOGIN user#device opens a session that outlives connections.",
    "XPROVISION | the server lists what each preference may be set to.",
    "Preferences | out-of-band channel and address, push format, event filter.",
    "Filters | the view filter: what the device sees; the notification filter: what is pushed.",
    "SELECT, IDLE and push | what passes all filters is pushed at once; the rest is polled.",
    "Offline | a pushed change for a device without a connection goes out of band (EMN).",
    "Reconnect | the same device id resumes (XRESUME: after the last response it applied): SESSION, FOLDER, the queue, SESSIONID.",
    "Queue overflow | a full queue is dropped: * RESYNC, and the device compares states.",
    "XDELIVER with SAVETO | send a message and file a copy in Sent, without SMTP.",
    "XMACRO | a stored command sequence in one round trip; inner statuses are <tag>.n.",
    "Bytes saved | XZIP deflates one command's answer, COMPRESS=DEFLATE the whole link.",
    "LOGOUT | LOGOUT ends the device session (a dropped connection keeps it).",
];

/// Narration, indented under the wire lines.
macro_rules! say {
    ($($arg:tt)*) => { println!("   {}", format_args!($($arg)*)) };
}

fn main() {
    if let Err(e) = Demo::new().and_then(|mut d| d.run()) {
        println!("!! unexpected: {e}");
        std::process::exit(1);
    }
}

/// The XDELIVER submission path: records what it is handed.
#[derive(Default)]
struct Outbox(Vec<Submission>);

impl Submitter for Outbox {
    fn submit(&mut self, s: &Submission) -> Result<(), SubmitError> {
        self.0.push(s.clone());
        Ok(())
    }
}

/// One server, the phone's current connection, and byte counters.
struct Demo {
    d: Driver<MemoryStore, Outbox, CollectingNotifier>,
    now: Instant,
    unix: i64,
    conn: Option<ConnId>,
    client: Client,
    /// Inflaters tapping a COMPRESS=DEFLATE link, to show what it carries: [client, server].
    taps: [Option<DeflateStream>; 2],
    /// Bytes on the wire, and the same bytes uncompressed: [client, server].
    wire: [u64; 2],
    plain: [u64; 2],
    notified: usize,
    /// The XRESUME position kept across connections.
    cursor: Option<pimap_types::ResumeCursor>,
}

impl Demo {
    /// alice with 20 messages in INBOX (2 of them spam) and an empty Sent; a server whose
    /// event queues hold 5 events per folder.
    fn new() -> R<Self> {
        let mut store = MemoryStore::new();
        store.set_clock(SearchClock::from_unix(T0 - 86_400));
        store.add_user("alice", "alicepw");
        store.create_mailbox("alice", "Sent");
        for i in 1..=20 {
            let (from, subject) = match i {
                7 | 15 => ("\"Prize Desk\" <spam@lottery.example>", "You have won"),
                _ if i % 3 == 0 => ("Carol <carol@example.org>", "Minutes of the meeting"),
                _ => ("Bob <bob@example.com>", "Project status"),
            };
            let msg = format!(
                "From: {from}\r\nTo: alice@example.com\r\nSubject: {subject} #{i}\r\n\
                 Date: Sun, 2 Jun 2024 08:{i:02}:00 +0000\r\nMessage-ID: <m{i}@example.com>\r\n\
                 \r\nHello Alice, this is message {i}.\r\n"
            );
            let flags = if i <= 12 { vec![Flag::Seen] } else { vec![] };
            store
                .inject("alice", "INBOX", msg.as_bytes(), flags, None)
                .ok_or("seed")?;
        }
        let _ = store.take_changes();
        store.set_clock(SearchClock::from_unix(T0));
        let mut config = ServerConfig::default();
        config.max_queued_events = 5;
        config.mail_domain = "example.com".into();
        let random = Box::new(SeededRandom::new(2024));
        let mut server = Server::with_parts(config, random, Box::new(MemoryPersistence::new()));
        server.set_unix_time(T0);
        Ok(Demo {
            d: Driver::new(
                server,
                store,
                Outbox::default(),
                CollectingNotifier::default(),
            ),
            now: Instant::now(),
            unix: T0,
            conn: None,
            client: Client::new(ClientConfig::default()),
            taps: [None, None],
            wire: [0; 2],
            plain: [0; 2],
            notified: 0,
            cursor: None,
        })
    }

    fn run(&mut self) -> R<()> {
        println!(
            "P-IMAP demo: a server with the in-memory store (user alice, 20 messages in INBOX,"
        );
        println!("2 of them spam) and the device alice#phone1, in one process, in virtual time.");

        step(1);
        self.connect(None)?;
        let ev = self.login()?;
        ensure(logged_in(&ev) == Some(&LoginOutcome::Fresh), "fresh")?;
        let sid = self.session_id()?;
        say!("client: fresh session (no * SESSION): full sync due; session id kept");

        step(2);
        self.cmds(&["XPROVISION"])?;

        step(3);
        self.cmds(&[
            "XSETPIMAPPREF PIMAP_OUTBAND_CHANNEL SMS",
            "XSETPIMAPPREF PIMAP_OUTBAND_ADDRESS 15551234567",
            "XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS RFC822.SIZE ENVELOPE)",
            "XSETPIMAPPREF PIMAP_EVENT_FILTER NEW",
        ])?;
        say!("client: four commands pipelined, four tagged OKs");

        step(4);
        self.cmds(&[
            "XFILTER SET URGENT \"Urgent mail\" (SUBJECT \"urgent\")",
            "XSETPIMAPPREF PIMAP_XFILTER (INBOX N URGENT)",
            "XFILTER INBOX V NOT FROM \"spam\"",
            "XGETPIMAPPREFS (PIMAP_OUTBAND_CHANNEL PIMAP_OUTBAND_ADDRESS PIMAP_INBAND_NEW_FORMAT \
             PIMAP_EVENT_FILTER PIMAP_XFILTER)",
        ])?;

        step(5);
        self.cmds(&["SELECT INBOX", "UID FETCH 1:* (UID FLAGS)"])?;
        let exists = self.client.mailbox().map_or(0, MailboxView::exists);
        say!("client: {exists} messages in this device's INBOX (the spam is outside its view)");
        self.client.idle()?;
        self.exchange()?;
        let pushed = self.arrive("URGENT: database disk full", "ops@example.com")?;
        print_lines("S", &pushed);
        ensure(pushed.len() == 1, "the urgent message pushed")?;
        let pushed = self.arrive("Lunch on Friday?", "Dave <dave@example.org>")?;
        ensure(pushed.is_empty(), "a message without \"urgent\" not pushed")?;
        say!("(nothing sent: polled, not pushed)");
        let pushed = self.arrive("URGENT: claim your prize", "spam@lottery.example")?;
        ensure(pushed.is_empty(), "spam not pushed")?;
        say!("(nothing sent: outside the view filter, this device never sees it)");
        self.client.done()?;
        let ev = self.exchange()?;
        let idle = completions(&ev)
            .into_iter()
            .next()
            .ok_or("no IDLE completion")?;
        ensure(idle.data.len() == 1, "the polled event")?;
        say!("client: the polled event arrived with DONE, before the tagged OK");

        step(6);
        let view = self.disconnect();
        self.tick(300);
        self.arrive("Urgent: sign the contract today", "Erin <erin@example.net>")?;
        self.notifications(1)?;
        self.change(self.uid_at(1)?, vec![Flag::Flagged], false)?;
        self.change(self.uid_at(2)?, vec![Flag::Deleted], true)?;
        self.notifications(0)?;
        say!(
            "server: {} events queued for alice#phone1 (at most 5)",
            self.queued()
        );

        step(7);
        self.connect(view)?;
        let ev = self.login()?;
        let Some(LoginOutcome::ResumedSelected { events, .. }) = logged_in(&ev) else {
            return Err(format!("expected a resumed session: {:?}", logged_in(&ev)).into());
        };
        ensure(self.session_id()? == sid, "the same session id")?;
        say!("client: ResumedSelected in INBOX, {events} queued events applied, same session id");
        say!("client: {}", self.check_view()?);

        step(8);
        let view = self.disconnect();
        let local = local_folder(view.as_ref())?;
        self.tick(600);
        for i in 1..=8 {
            self.arrive(&format!("Daily digest {i}"), "news@example.org")?;
        }
        let gone = self.uid_at(4)?;
        self.change(self.uid_at(3)?, vec![Flag::Seen, Flag::Answered], false)?;
        self.change(gone, vec![Flag::Deleted], true)?;
        self.notifications(0)?;
        let since = self.queued();
        say!("server: the 6th change overflowed: queue dropped, RESYNC owed, {since} queued since");
        self.connect(view)?;
        let ev = self.login()?;
        let resync = matches!(logged_in(&ev), Some(LoginOutcome::ResyncRequired { .. }));
        ensure(resync, "RESYNC on login")?;
        say!("client: ResyncRequired: the queued events are void; compare states instead");
        self.cmds(&["SELECT INBOX"])?;
        self.client.sync(local)?;
        let ev = self.exchange()?;
        let plan = ev
            .iter()
            .find_map(|e| match e {
                Event::SyncPlanned { plan, .. } => Some(plan.clone()),
                _ => None,
            })
            .ok_or("no sync plan")?;
        say!("sync plan: fetch new UIDs {:?}", plan.fetch_new);
        say!("           remove vanished UIDs {:?}", plan.remove);
        for (uid, flags) in &plan.update_flags {
            say!(
                "           set the flags of UID {uid} to ({})",
                fmt_flags(flags)
            );
        }
        let sizes = (
            plan.fetch_new.len(),
            &plan.remove[..],
            plan.update_flags.len(),
        );
        ensure(sizes == (8, &[gone][..], 1), "8 new, 1 vanished, 1 changed")?;
        let set = plan.fetch_new_set().ok_or("nothing new")?;
        self.client
            .fetch(true, set, FetchItems::List(vec![FetchAttr::Envelope]))?;
        self.exchange()?;
        say!("client: {}", self.check_view()?);

        step(9);
        let msg = "From: alice@example.com\r\nTo: bob@example.com\r\n\
                   Subject: Re: database disk full\r\n\r\nOn it.\r\n";
        let ev = self.cmds(&[&format!(
            "XDELIVER N SAVETO=Sent ENVELOPE ((NIL NIL \"bob\" \"example.com\")) {{{}+}}\r\n{msg}",
            msg.len()
        )])?;
        let sub = self.d.submitter.0.last().ok_or("nothing submitted")?;
        let to: Vec<String> = sub.envelope.iter().flatten().map(address).collect();
        let (user, to) = (lossy(&sub.user), to.join(", "));
        say!(
            "submitter: from {user}, envelope to {to}, {} octets:",
            sub.message.len()
        );
        for line in lossy(&sub.message).lines() {
            say!("  | {line}");
        }
        let code = completions(&ev).last().and_then(|c| c.status.code.clone());
        let Some(Code::AppendUid { uid_validity, .. }) = code else {
            return Err(format!("expected APPENDUID, got {code:?}").into());
        };
        let sent = self.d.store.messages("alice", "Sent").unwrap_or_default();
        let uid = sent.last().ok_or("no copy in Sent")?.uid;
        say!("client: OK [APPENDUID]: the copy is UID {uid} of Sent (UIDVALIDITY {uid_validity})");

        step(10);
        self.cmds(&["XMACRO DEFINE CHECK (\"SELECT $1\" \"UID FETCH 1:* (FLAGS)\")"])?;
        let ev = self.cmds(&["XMACRO RUN CHECK INBOX"])?;
        let run = *completions(&ev).last().ok_or("no completion")?;
        let inner: Vec<_> = run.inner.iter().map(|s| s.status).collect();
        ensure(inner.len() == 2, "two inner statuses")?;
        say!(
            "client: one completion: inner {inner:?}, {} untagged responses",
            run.data.len()
        );

        step(11);
        let fetch = "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)";
        let before = self.wire[1];
        self.cmds(&[fetch])?;
        let raw = self.wire[1] - before;
        let before = self.wire[1];
        let ev = self.cmds(&[&format!("XZIP X1 {fetch}")])?;
        let zipped = self.wire[1] - before;
        let n = completions(&ev).last().map_or(0, |c| c.data.len());
        let pct = zipped * 100 / raw.max(1);
        say!("XZIP: {raw} bytes plain, {zipped} compressed ({pct}%); the client inflated {n} FETCHes");
        self.client.compress()?;
        self.exchange()?;
        ensure(self.client.is_compressed(), "COMPRESS DEFLATE active")?;
        say!("(from here on both directions are raw DEFLATE; shown is what a tap inflates)");
        self.client.idle()?;
        self.exchange()?;
        let (w0, p0) = (self.wire[1], self.plain[1]);
        let mut lines = Vec::new();
        for i in 1..=10 {
            lines.extend(self.arrive(&format!("Urgent: pager alert {i}"), "monitor@example.com")?);
        }
        print_lines("S", &lines);
        let (w, p) = (self.wire[1] - w0, self.plain[1] - p0);
        say!("COMPRESS: 10 pushed events, {w} bytes on the wire for {p} plain");
        self.client.done()?;
        self.exchange()?;

        step(12);
        self.client.logout()?;
        self.exchange()?;
        let ended = !self.d.server.has_session(b"alice", b"phone1");
        ensure(ended, "the session ended")?;
        println!();
        println!(
            "== summary: 12 steps, 3 connections, 1 resume, 1 RESYNC, {} EMN, {} submission; wire \
             bytes C {} / S {} ({} / {} uncompressed)",
            self.notified,
            self.d.submitter.0.len(),
            self.wire[0],
            self.wire[1],
            self.plain[0],
            self.plain[1]
        );
        Ok(())
    }

    // ------------------------------------------------------------------ the device's link

    /// Open a connection with a new client, offered the view kept from the last one.
    fn connect(&mut self, view: Option<MailboxView>) -> R<()> {
        self.client = Client::new(ClientConfig::default());
        if let Some(v) = view {
            self.client.restore_view(v);
        }
        // The XRESUME position travels with the view: the server replays exactly what the
        // phone had not applied when the link died.
        if let Some(c) = self.cursor {
            self.client.restore_cursor(c);
        }
        self.taps = [None, None];
        let (conn, actions) = self.d.accept(self.now)?;
        self.conn = Some(conn);
        say!("(connected)");
        let lines = self.deliver(actions)?;
        print_lines("S", &lines);
        self.exchange().map(drop)
    }

    fn login(&mut self) -> R<Vec<Event>> {
        self.client.login("alice#phone1", "alicepw")?;
        self.exchange()
    }

    /// The phone loses its connection; returns the view it keeps.
    fn disconnect(&mut self) -> Option<MailboxView> {
        if let Some(c) = self.conn.take() {
            let _ = self.d.closed(c, self.now);
        }
        say!("(connection dropped by the phone: no LOGOUT, the session stays)");
        self.cursor = self.client.resume_cursor().or(self.cursor);
        self.client.mailbox().cloned()
    }

    /// Enqueue commands given as text (the client assigns tags and encodes) and run them.
    fn cmds(&mut self, lines: &[&str]) -> R<Vec<Event>> {
        for line in lines {
            let mut dec = CommandDecoder::default();
            dec.feed(format!("x {line}\r\n").as_bytes());
            let Some(ClientMessage::Command(c)) = dec.next()? else {
                return Err(format!("not a command: {line}").into());
            };
            self.client.enqueue(c.body)?;
        }
        self.exchange()
    }

    /// Move bytes both ways until the client has nothing more to send; its events.
    fn exchange(&mut self) -> R<Vec<Event>> {
        let mut events = Vec::new();
        for _ in 0..64 {
            let mut out = Vec::new();
            while let Some(o) = self.client.poll_output() {
                match o {
                    Output::Transmit(b) => out.extend_from_slice(&b),
                    Output::Event(e) => events.push(e),
                    _ => {}
                }
            }
            if out.is_empty() {
                check_events(&events)?;
                return Ok(events);
            }
            let text = self.tap(0, &out)?;
            print_lines("C", &render(&text));
            let conn = self.conn.ok_or("not connected")?;
            let actions = self.d.input(conn, &out, self.now)?;
            let lines = self.deliver(actions)?;
            print_lines("S", &lines);
        }
        Err("the exchange did not settle".into())
    }

    /// Deliver the server's output to the client; returns it rendered for printing.
    fn deliver(&mut self, actions: Vec<Action>) -> R<Vec<String>> {
        let mut lines = Vec::new();
        for a in actions {
            match a {
                Action::Transmit(c, bytes) if Some(c) == self.conn => {
                    lines.extend(render(&self.tap(1, &bytes)?));
                    self.client.handle_input(&bytes, self.now);
                }
                Action::Close(c) if Some(c) == self.conn => {
                    lines.push("(connection closed by the server)".into());
                    self.conn = None;
                }
                _ => {}
            }
        }
        Ok(lines)
    }

    /// Count the bytes of one direction (0 client, 1 server); inflate them under COMPRESS.
    fn tap(&mut self, dir: usize, bytes: &[u8]) -> R<Vec<u8>> {
        self.wire[dir] += bytes.len() as u64;
        let plain = if self.client.is_compressed() {
            self.taps[dir]
                .get_or_insert_with(|| DeflateStream::new(PUSH_LEVEL, Limits::default()))
                .decompress(bytes)?
        } else {
            bytes.to_vec()
        };
        self.plain[dir] += plain.len() as u64;
        Ok(plain)
    }

    fn session_id(&self) -> R<String> {
        let sid = self.client.session_id().ok_or("no SESSIONID")?;
        Ok(lossy(sid.expose().as_bytes()))
    }

    // ------------------------------------------------------------------ the world outside

    fn tick(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.unix += secs as i64;
        self.d.server.set_unix_time(self.unix);
        self.d.store.set_clock(SearchClock::from_unix(self.unix));
        let _ = self.d.timeout(self.now);
    }

    /// A message is delivered into INBOX; returns what the server pushed, rendered.
    fn arrive(&mut self, subject: &str, from: &str) -> R<Vec<String>> {
        let msg = format!(
            "From: {from}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\r\nSee subject.\r\n"
        );
        let store = &mut self.d.store;
        let uid = store
            .inject("alice", "INBOX", msg.as_bytes(), vec![], None)
            .ok_or("inject")?;
        say!("store: new message UID {uid} from {from}: \"{subject}\"");
        self.sync_store()
    }

    /// Feed the store's changes to the server; returns what it pushed, rendered.
    fn sync_store(&mut self) -> R<Vec<String>> {
        let actions = self.d.sync_store(self.now);
        self.deliver(actions) // the client's events are checked with the next exchange
    }

    /// Another of alice's clients (webmail, say) adds flags, then maybe expunges.
    fn change(&mut self, uid: u32, flags: Vec<Flag>, expunge: bool) -> R<()> {
        let mailbox = Mailbox::inbox();
        say!(
            "store: another client adds ({}) to UID {uid}",
            fmt_flags(&flags)
        );
        let (uids, kind) = (vec![uid], StoreKind::Add);
        let mut ops = vec![StoreOp::StoreFlags {
            mailbox: mailbox.clone(),
            uids,
            kind,
            flags,
        }];
        if expunge {
            say!("store: another client expunges UID {uid}");
            ops.push(StoreOp::Expunge {
                mailbox,
                uids: Some(vec![uid]),
            });
        }
        for op in ops {
            let user = Bytes::from_static(b"alice");
            match self.d.store.handle(&Request::Store { user, op }) {
                Reply::Ok => print_lines("S", &self.sync_store()?),
                r => return Err(format!("store refused: {r:?}").into()),
            }
        }
        Ok(())
    }

    /// Print the out-of-band notifications sent since the last call; there must be `want`.
    fn notifications(&mut self, want: usize) -> R<()> {
        let sent: Vec<_> = self.d.notifier.sent.drain(..).collect();
        self.notified += sent.len();
        ensure(
            sent.len() == want,
            &format!("{want} notification(s), not {}", sent.len()),
        )?;
        for n in &sent {
            let (channel, to) = (n.channel.as_str(), lossy(&n.address));
            say!("notifier: {channel} to {to}, payload:");
            say!("  {}", lossy(&n.payload));
            let emn = EmnNotification::parse(&n.payload)?;
            say!(
                "(a wake-up for {}: the phone connects and collects the events)",
                emn.mailbox
            );
        }
        if want == 0 {
            say!("(no notification: only new urgent messages are pushed, PIMAP_EVENT_FILTER NEW)");
        }
        Ok(())
    }

    /// Events queued for the phone's INBOX.
    fn queued(&self) -> usize {
        let mailbox = Mailbox::inbox();
        let queued = self.d.server.queued_events(b"alice", b"phone1", &mailbox);
        queued.unwrap_or(0)
    }

    /// The store's INBOX through the phone's view filter: (UID, flags).
    fn visible(&self) -> Vec<(u32, Vec<Flag>)> {
        let all = self.d.store.messages("alice", "INBOX").unwrap_or_default();
        all.into_iter()
            .filter(|m| {
                !m.props
                    .header(b"From")
                    .is_some_and(|f| lossy(f).contains("spam"))
            })
            .map(|m| (m.uid, sorted(m.flags)))
            .collect()
    }

    /// The UID of the n-th message the phone sees.
    fn uid_at(&self, n: usize) -> R<u32> {
        Ok(self.visible().get(n - 1).ok_or("no such message")?.0)
    }

    /// Compare the client's view with the store (through the view filter).
    fn check_view(&self) -> R<String> {
        let view = self.client.mailbox().ok_or("no view")?;
        let entry = |m: &MessageEntry| {
            (
                m.uid.unwrap_or(0),
                sorted(m.flags.clone().unwrap_or_default()),
            )
        };
        let have: Vec<_> = view.messages().iter().map(entry).collect();
        let want = self.visible();
        ensure(
            have == want,
            &format!("the view {have:?} to be the store's {want:?}"),
        )?;
        let (n, last) = (have.len(), want.last().map_or(0, |m| m.0));
        Ok(format!(
            "view = store: {n} messages (UIDs and flags) up to UID {last}"
        ))
    }
}

// ---------------------------------------------------------------------- helpers

fn step(n: usize) {
    let (title, what) = STEPS[n - 1].split_once(" | ").unwrap_or_default();
    println!("\n== {n}. {title}");
    say!("P-IMAP: {what}");
}

fn ensure(ok: bool, what: &str) -> R<()> {
    if ok {
        Ok(())
    } else {
        Err(format!("expected {what}").into())
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn address(a: &pimap_types::Address) -> String {
    let part = |s: &Option<pimap_types::IString>| {
        s.as_ref().map_or(String::new(), |s| lossy(s.as_bytes()))
    };
    format!("{}@{}", part(&a.mailbox), part(&a.host))
}

fn fmt_flags(flags: &[Flag]) -> String {
    flags
        .iter()
        .map(|f| format!("\\{f:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sorted(mut flags: Vec<Flag>) -> Vec<Flag> {
    flags.retain(|f| *f != Flag::Recent);
    flags.sort_by_key(|f| format!("{f:?}"));
    flags
}

/// The client's local copy of the folder, from the view it kept.
fn local_folder(view: Option<&MailboxView>) -> R<LocalFolder> {
    let view = view.ok_or("no view kept")?;
    let messages = view.messages().iter();
    Ok(LocalFolder {
        uid_validity: view.uid_validity().ok_or("no UIDVALIDITY")?,
        messages: messages
            .filter_map(|m| Some((m.uid?, m.flags.clone().unwrap_or_default())))
            .collect(),
    })
}

fn logged_in(events: &[Event]) -> Option<&LoginOutcome> {
    events.iter().find_map(|e| match e {
        Event::LoggedIn(o) => Some(o),
        _ => None,
    })
}

fn completions(events: &[Event]) -> Vec<&Completion> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Completed(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Every command completed OK and the client met nothing it could not handle.
fn check_events(events: &[Event]) -> R<()> {
    for e in events {
        match e {
            Event::Completed(c) if !c.is_ok() => {
                return Err(format!("{} failed: {:?}", c.command, c.status).into())
            }
            Event::ProtocolError(_)
            | Event::ViewInconsistent(_)
            | Event::CompressionError(_)
            | Event::SessionSevered => return Err(format!("client event {e:?}").into()),
            _ => {}
        }
    }
    Ok(())
}

/// Split wire text into lines; a literal (`{n}`, `{n+}`, `~{n}`) is shown as its length.
fn render(bytes: &[u8]) -> Vec<String> {
    let (mut lines, mut cur, mut rest) = (Vec::new(), String::new(), bytes);
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(rest.len());
        let line = &rest[..end];
        cur.push_str(&lossy(line));
        rest = rest.get(end + 2..).unwrap_or_default();
        match literal_len(line) {
            Some(n) if n > 0 => {
                let n = n.min(rest.len());
                cur.push_str(&format!("<{n} octets>"));
                rest = &rest[n..];
            }
            _ => lines.push(std::mem::take(&mut cur)),
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let body = body.strip_suffix(b"+").unwrap_or(body);
    let open = body.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&body[open + 1..]).ok()?.parse().ok()
}

/// Print lines; a run of more than 5 FETCH responses shows its first 3 and its last.
fn print_lines(who: &str, lines: &[String]) {
    let is_fetch = |l: &String| {
        let mut w = l.split(' ');
        let number = |n: &str| n.parse::<u32>().is_ok();
        w.next() == Some("*") && w.next().is_some_and(number) && w.next() == Some("FETCH")
    };
    let mut i = 0;
    while i < lines.len() {
        let run = lines[i..].iter().take_while(|l| is_fetch(l)).count();
        if run > 5 {
            lines[i..i + 3].iter().for_each(|l| print_line(who, l));
            println!("{who}: ... ({} more)", run - 4);
            print_line(who, &lines[i + run - 1]);
            i += run;
        } else {
            print_line(who, &lines[i]);
            i += 1;
        }
    }
}

fn print_line(who: &str, line: &str) {
    if line.starts_with('(') {
        return say!("{line}"); // narration among the wire lines
    }
    match (MAX_LINE..line.len()).find(|&i| line.is_char_boundary(i)) {
        Some(cut) => println!("{who}: {} ... (+{} bytes)", &line[..cut], line.len() - cut),
        None => println!("{who}: {line}"),
    }
}
