//! NOTIFY (RFC 5465) commands.

use super::Encoder;
use pimap_types::{Mailbox, NotifyCommand, NotifyEvent, NotifyMailboxes};

impl Encoder {
    /// `NOTIFY NONE` / `NOTIFY SET [STATUS] groups`.
    pub(crate) fn notify(&mut self, n: &NotifyCommand) {
        self.raw(b"NOTIFY ");
        let (status, groups) = match n {
            NotifyCommand::None => return self.raw(b"NONE"),
            NotifyCommand::Set { status, groups } => (*status, groups),
        };
        self.raw(b"SET");
        if status {
            self.raw(b" STATUS");
        }
        for g in groups {
            self.raw(b" (");
            match &g.mailboxes {
                NotifyMailboxes::Selected => self.raw(b"SELECTED"),
                NotifyMailboxes::SelectedDelayed => self.raw(b"SELECTED-DELAYED"),
                NotifyMailboxes::Inboxes => self.raw(b"INBOXES"),
                NotifyMailboxes::Personal => self.raw(b"PERSONAL"),
                NotifyMailboxes::Subscribed => self.raw(b"SUBSCRIBED"),
                NotifyMailboxes::Subtree(v) => {
                    self.raw(b"SUBTREE ");
                    self.mailboxes(v);
                }
                NotifyMailboxes::Mailboxes(v) => {
                    self.raw(b"MAILBOXES ");
                    self.mailboxes(v);
                }
            }
            self.sp();
            if g.events.is_empty() {
                self.raw(b"NONE");
            } else {
                self.byte(b'(');
                for (i, e) in g.events.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.notify_event(e);
                }
                self.byte(b')');
            }
            self.byte(b')');
        }
    }

    fn mailboxes(&mut self, v: &[Mailbox]) {
        match v {
            [one] => self.mailbox(one),
            _ => {
                self.byte(b'(');
                for (i, m) in v.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.mailbox(m);
                }
                self.byte(b')');
            }
        }
    }

    fn notify_event(&mut self, e: &NotifyEvent) {
        match e {
            NotifyEvent::MessageNew(atts) => {
                self.raw(b"MessageNew");
                if !atts.is_empty() {
                    self.raw(b" (");
                    for (i, a) in atts.iter().enumerate() {
                        if i > 0 {
                            self.sp();
                        }
                        self.fetch_attr(a);
                    }
                    self.byte(b')');
                }
            }
            NotifyEvent::MessageExpunge => self.raw(b"MessageExpunge"),
            NotifyEvent::FlagChange => self.raw(b"FlagChange"),
            NotifyEvent::AnnotationChange => self.raw(b"AnnotationChange"),
            NotifyEvent::MailboxName => self.raw(b"MailboxName"),
            NotifyEvent::SubscriptionChange => self.raw(b"SubscriptionChange"),
            NotifyEvent::MailboxMetadataChange => self.raw(b"MailboxMetadataChange"),
            NotifyEvent::ServerMetadataChange => self.raw(b"ServerMetadataChange"),
            NotifyEvent::Other(a) => self.atom(a),
        }
    }
}
