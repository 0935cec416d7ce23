//! NOTIFY (RFC 5465): which mailboxes and events a plain IMAP session is told about.

use super::core::{Atom, Mailbox};
use super::fetch::FetchAttr;

/// `NOTIFY NONE` or `NOTIFY SET [STATUS] groups`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotifyCommand {
    /// `NONE`: no unsolicited notifications beyond what RFC 3501 requires.
    None,
    /// `SET [STATUS] (group) ...`
    Set {
        /// `STATUS`: answer with the current STATUS of each named mailbox first.
        status: bool,
        /// Event groups (at least one).
        groups: Vec<NotifyGroup>,
    },
}

/// `(mailboxes events)` of NOTIFY SET.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyGroup {
    /// Which mailboxes.
    pub mailboxes: NotifyMailboxes,
    /// Which events; empty for `NONE`.
    pub events: Vec<NotifyEvent>,
}

/// The filter-mailboxes of an event group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotifyMailboxes {
    /// `SELECTED`
    Selected,
    /// `SELECTED-DELAYED`
    SelectedDelayed,
    /// `INBOXES`
    Inboxes,
    /// `PERSONAL`
    Personal,
    /// `SUBSCRIBED`
    Subscribed,
    /// `SUBTREE mailbox` or `SUBTREE (mailboxes)` (at least one).
    Subtree(Vec<Mailbox>),
    /// `MAILBOXES mailbox` or `MAILBOXES (mailboxes)` (at least one).
    Mailboxes(Vec<Mailbox>),
}

/// One event name of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotifyEvent {
    /// `MessageNew [(fetch-atts)]`: the attributes to send with each new message.
    MessageNew(Vec<FetchAttr>),
    /// `MessageExpunge`
    MessageExpunge,
    /// `FlagChange`
    FlagChange,
    /// `AnnotationChange`
    AnnotationChange,
    /// `MailboxName`
    MailboxName,
    /// `SubscriptionChange`
    SubscriptionChange,
    /// `MailboxMetadataChange`
    MailboxMetadataChange,
    /// `ServerMetadataChange`
    ServerMetadataChange,
    /// An event this crate does not model, kept as sent.
    Other(Atom),
}
