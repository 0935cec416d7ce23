//! NOTIFY (RFC 5465) commands.

use super::{PResult, Parser};
use pimap_types::{CommandBody, Mailbox, NotifyCommand, NotifyEvent, NotifyGroup, NotifyMailboxes};

impl Parser<'_> {
    /// `NOTIFY` after the command name.
    pub(crate) fn notify(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        if self.kw(b"NONE") {
            return Ok(CommandBody::Notify(NotifyCommand::None));
        }
        self.expect_kw(b"SET", "SET or NONE")?;
        self.sp()?;
        let status = self.kw(b"STATUS");
        if status {
            self.sp()?;
        }
        let mut groups = Vec::new();
        loop {
            groups.push(self.notify_group()?);
            if !self.at(b' ') {
                break;
            }
            self.sp()?;
        }
        Ok(CommandBody::Notify(NotifyCommand::Set { status, groups }))
    }

    fn notify_group(&mut self) -> PResult<NotifyGroup> {
        self.expect(b'(', "(")?;
        let mailboxes = if self.kw(b"SELECTED-DELAYED") {
            NotifyMailboxes::SelectedDelayed
        } else if self.kw(b"SELECTED") {
            NotifyMailboxes::Selected
        } else if self.kw(b"INBOXES") {
            NotifyMailboxes::Inboxes
        } else if self.kw(b"PERSONAL") {
            NotifyMailboxes::Personal
        } else if self.kw(b"SUBSCRIBED") {
            NotifyMailboxes::Subscribed
        } else if self.kw(b"SUBTREE") {
            self.sp()?;
            NotifyMailboxes::Subtree(self.one_or_more_mailbox()?)
        } else if self.kw(b"MAILBOXES") {
            self.sp()?;
            NotifyMailboxes::Mailboxes(self.one_or_more_mailbox()?)
        } else {
            return self.err("filter-mailboxes");
        };
        self.sp()?;
        let mut events = Vec::new();
        if !self.kw(b"NONE") {
            self.expect(b'(', "( or NONE")?;
            loop {
                events.push(self.notify_event()?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        self.expect(b')', ")")?;
        Ok(NotifyGroup { mailboxes, events })
    }

    fn one_or_more_mailbox(&mut self) -> PResult<Vec<Mailbox>> {
        if !self.eat(b'(') {
            return Ok(vec![self.mailbox()?]);
        }
        let mut v = Vec::new();
        loop {
            v.push(self.mailbox()?);
            if self.eat(b')') {
                return Ok(v);
            }
            self.sp()?;
        }
    }

    fn notify_event(&mut self) -> PResult<NotifyEvent> {
        let name = self.atom()?;
        let up = name.as_bytes().to_ascii_uppercase();
        Ok(match up.as_slice() {
            b"MESSAGENEW" => {
                let mut atts = Vec::new();
                if self.at(b' ') && self.peek_at(1) == Some(b'(') {
                    self.sp()?;
                    match self.fetch_items()? {
                        pimap_types::FetchItems::List(v) => atts = v,
                        pimap_types::FetchItems::Macro(_) => return self.err("fetch attributes"),
                    }
                }
                NotifyEvent::MessageNew(atts)
            }
            b"MESSAGEEXPUNGE" => NotifyEvent::MessageExpunge,
            b"FLAGCHANGE" => NotifyEvent::FlagChange,
            b"ANNOTATIONCHANGE" => NotifyEvent::AnnotationChange,
            b"MAILBOXNAME" => NotifyEvent::MailboxName,
            b"SUBSCRIPTIONCHANGE" => NotifyEvent::SubscriptionChange,
            b"MAILBOXMETADATACHANGE" => NotifyEvent::MailboxMetadataChange,
            b"SERVERMETADATACHANGE" => NotifyEvent::ServerMetadataChange,
            _ => NotifyEvent::Other(name),
        })
    }
}
