//! XDELIVER (spec §3.7, §9) with an outcome that is never ambiguous: the message is sent (and
//! saved when SAVETO asks) or it is not sent, and the device learns which, also when its
//! connection died before the answer.
//!
//! Steps: with SAVETO, the mailbox is checked first (a missing one means `NO [TRYCREATE]` and
//! nothing is sent, so a retry cannot send twice); then the submission; then the saved copy.
//! A SAVETO failure after the message was sent is reported as sent but not saved: tagged
//! `OK [XDELIVER-UNSAVED]`, never `NO` (the device must not send it again).
//!
//! When the device's connection is gone, the steps go on and the outcome is kept in its
//! device session (at most [`MAX_OUTCOMES`]), then reported as an untagged response of this
//! crate's (documented in the README):
//!
//! * `* OK [XDELIVERED <tag> SAVED <uidvalidity> <uid>]`: sent, and saved with this UID;
//! * `* OK [XDELIVERED <tag> SENT]`: sent (no SAVETO);
//! * `* OK [XDELIVERED <tag> UNSAVED]`: sent, but the SAVETO copy failed;
//! * `* NO [XDELIVERED <tag> NOTSENT]`: not sent.
//!
//! `<tag>` is the tag of the XDELIVER command. The report goes to the session's connection at
//! once if it has one again, else with the next resumption's LOGIN response.

use bytes::Bytes;

use pimap_types::{Atom, Code, Data, Flag, Mailbox, Status, StatusAttr, Tag, XDeliverCommand};

use super::commands::{set_of, Pending};
use super::output::ConnId;
use super::request::{Reply, Request, StoreOp, Submission};
use super::server::Server;

/// Outcomes kept per device session for a device that is not connected (oldest dropped).
pub const MAX_OUTCOMES: usize = 64;

/// Where an XDELIVER stands.
#[derive(Debug)]
pub(crate) enum Stage {
    /// Checking that the SAVETO mailbox exists; the submission waits.
    CheckSaveTo(Submission),
    /// Submitting; then saving to this mailbox, if any.
    Submit {
        save_to: Option<Mailbox>,
        message: Bytes,
    },
    /// Sent; saving the copy.
    Save,
}

/// One XDELIVER in progress.
#[derive(Debug)]
pub(crate) struct Step {
    pub tag: Tag,
    /// The device session to tell if the connection is gone.
    pub session: Option<u64>,
    pub stage: Stage,
}

/// The final outcome of an XDELIVER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Saved { uid_validity: u32, uid: u32 },
    Sent,
    Unsaved,
    NotSent,
}

impl Outcome {
    /// `XDELIVERED <tag> ...` as an untagged status.
    fn report(&self, tag: &Tag) -> (Status, Code, &'static str) {
        let t = String::from_utf8_lossy(tag.as_bytes());
        let (status, args, text) = match self {
            Outcome::Saved { uid_validity, uid } => (
                Status::Ok,
                format!("{t} SAVED {uid_validity} {uid}"),
                "Message sent and saved",
            ),
            Outcome::Sent => (Status::Ok, format!("{t} SENT"), "Message sent"),
            Outcome::Unsaved => (
                Status::Ok,
                format!("{t} UNSAVED"),
                "Message sent but not saved",
            ),
            Outcome::NotSent => (Status::No, format!("{t} NOTSENT"), "Message not sent"),
        };
        let code = Atom::new(&b"XDELIVERED"[..])
            .map(|name| Code::Other {
                name,
                args: Some(Bytes::from(args)),
            })
            .unwrap_or(Code::Alert);
        (status, code, text)
    }
}

fn unsaved_code() -> Option<Code> {
    Atom::new(&b"XDELIVER-UNSAVED"[..])
        .ok()
        .map(|name| Code::Other { name, args: None })
}

impl Server {
    /// `XDELIVER`: check SAVETO, then submit.
    pub(crate) fn xdeliver(&mut self, conn: ConnId, tag: Tag, cmd: XDeliverCommand) {
        if !self.offers("XDELIVER") {
            return self.no(conn, tag, "XDELIVER is not offered: no submission path");
        }
        let (user, session) = match self.session_of(conn) {
            Some(s) => (s.user.clone(), s.device.is_some()),
            None => (Bytes::new(), false),
        };
        let session = if session {
            self.conns.get(&conn).and_then(|c| c.session)
        } else {
            None
        };
        let (kind, save_to, envelope, message) = match cmd {
            XDeliverCommand::Classic {
                kind,
                save_to,
                envelope,
                message,
            } => (kind, save_to, envelope, message),
            XDeliverCommand::Text(message) => (pimap_types::DeliverKind::New, None, None, message),
            XDeliverCommand::Capability => {
                let caps = pimap_types::IString::try_from("SAVETO")
                    .into_iter()
                    .collect();
                self.send_data(conn, Data::XDeliverCapability(caps));
                return self.ok(conn, tag, None, "XDELIVER completed");
            }
        };
        let submission = Submission {
            user: user.clone(),
            kind,
            save_to: save_to.clone(),
            envelope,
            message: message.data.clone(),
        };
        match save_to {
            Some(mailbox) => {
                let op = StoreOp::Status {
                    mailbox,
                    items: vec![StatusAttr::UidValidity],
                };
                let step = Step {
                    tag,
                    session,
                    stage: Stage::CheckSaveTo(submission),
                };
                self.request(conn, Request::Store { user, op }, Pending::XDeliver(step));
            }
            None => self.submit(conn, tag, session, submission),
        }
    }

    fn submit(&mut self, conn: ConnId, tag: Tag, session: Option<u64>, sub: Submission) {
        let step = Step {
            tag,
            session,
            stage: Stage::Submit {
                save_to: sub.save_to.clone(),
                message: sub.message.clone(),
            },
        };
        self.request(conn, Request::Submit(sub), Pending::XDeliver(step));
    }

    /// A step completed; `alive`: the connection that asked still waits for it.
    pub(crate) fn xdeliver_step(&mut self, conn: ConnId, alive: bool, step: Step, reply: Reply) {
        let Step {
            tag,
            session,
            stage,
        } = step;
        match (stage, reply) {
            (Stage::CheckSaveTo(sub), Reply::Status(_)) => {
                if alive {
                    self.submit(conn, tag, session, sub);
                } else {
                    // Nobody waits for the answer: do not send behind the device's back.
                    self.outcome(session, tag, Outcome::NotSent);
                }
            }
            (Stage::CheckSaveTo(_), reply) => {
                if alive {
                    let text = match &reply {
                        Reply::No { text, .. } => {
                            format!("SAVETO mailbox unusable ({text}); nothing sent")
                        }
                        _ => "SAVETO mailbox unusable; nothing sent".to_string(),
                    };
                    self.deliver(conn, false);
                    self.status(conn, Some(tag), Status::No, Some(Code::TryCreate), &text);
                } else {
                    self.outcome(session, tag, Outcome::NotSent);
                }
            }
            (Stage::Submit { save_to, message }, Reply::Submitted | Reply::Ok) => match save_to {
                Some(mailbox) => {
                    let user = session
                        .and_then(|k| self.sessions.get(&k))
                        .map(|s| s.user.clone())
                        .or_else(|| self.session_of(conn).map(|s| s.user.clone()))
                        .unwrap_or_default();
                    let op = StoreOp::Append {
                        mailbox,
                        flags: vec![Flag::Seen],
                        date: None,
                        message,
                    };
                    let step = Step {
                        tag,
                        session,
                        stage: Stage::Save,
                    };
                    self.request(conn, Request::Store { user, op }, Pending::XDeliver(step));
                }
                None if alive => {
                    self.deliver(conn, false);
                    self.ok(conn, tag, None, "XDELIVER completed");
                }
                None => self.outcome(session, tag, Outcome::Sent),
            },
            (Stage::Submit { .. }, reply) => {
                if alive {
                    let (code, text) = match reply {
                        Reply::No { code, text } => (code, text),
                        _ => (None, "Submission returned an unexpected reply".to_string()),
                    };
                    self.deliver(conn, false);
                    self.status(
                        conn,
                        Some(tag),
                        Status::No,
                        code,
                        &format!("Not sent: {text}"),
                    );
                } else {
                    self.outcome(session, tag, Outcome::NotSent);
                }
            }
            (Stage::Save, Reply::Appended { uid_validity, uid }) => {
                if alive {
                    self.deliver(conn, false);
                    let code = set_of(&[uid]).map(|uids| Code::AppendUid { uid_validity, uids });
                    self.ok(conn, tag, code, "XDELIVER completed");
                } else {
                    self.outcome(session, tag, Outcome::Saved { uid_validity, uid });
                }
            }
            (Stage::Save, reply) => {
                if alive {
                    let why = match reply {
                        Reply::No { text, .. } => text,
                        _ => "unexpected reply".to_string(),
                    };
                    self.deliver(conn, false);
                    let text = format!("Message sent but not saved: {why}");
                    self.status(conn, Some(tag), Status::Ok, unsaved_code(), &text);
                } else {
                    self.outcome(session, tag, Outcome::Unsaved);
                }
            }
        }
    }

    /// Report an outcome to the device: on its connection if it has one, else at its next
    /// resumption.
    fn outcome(&mut self, session: Option<u64>, tag: Tag, outcome: Outcome) {
        let Some(sk) = session else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&sk) else {
            return;
        };
        match s.conn {
            Some(c) => self.report_outcome(c, &tag, &outcome),
            None => {
                if s.xdeliver_outcomes.len() >= MAX_OUTCOMES {
                    s.xdeliver_outcomes.pop_front();
                }
                s.xdeliver_outcomes.push_back((tag, outcome));
            }
        }
    }

    fn report_outcome(&mut self, conn: ConnId, tag: &Tag, outcome: &Outcome) {
        let (status, code, text) = outcome.report(tag);
        self.status(conn, None, status, Some(code), text);
    }

    /// Outcomes kept for a device that was away, reported on its new connection.
    pub(crate) fn report_kept_outcomes(&mut self, conn: ConnId, sk: u64) {
        let kept: Vec<(Tag, Outcome)> = match self.sessions.get_mut(&sk) {
            Some(s) => s.xdeliver_outcomes.drain(..).collect(),
            None => return,
        };
        for (tag, outcome) in kept {
            self.report_outcome(conn, &tag, &outcome);
        }
    }
}
