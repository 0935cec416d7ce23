//! Changes in the message store, reported by the caller through
//! [`Server::mailbox_changed`](super::Server::mailbox_changed).

use std::sync::Arc;

use pimap_types::{Flag, Mailbox};

use super::props::MessageProps;

/// One change in a user's mailbox.
///
/// The store must report every change, including those caused by commands the server handed
/// to it (STORE, EXPUNGE, COPY, APPEND, ...), **before** it completes the request that caused
/// them: the server turns these changes into the untagged responses of that command (as IMAP
/// servers do) and into events for every other device session of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailboxChange {
    /// A new message arrived (delivery, APPEND, COPY, MOVE).
    New {
        /// Its UID (UIDs grow monotonically within a UIDVALIDITY).
        uid: u32,
        /// Its flags.
        flags: Vec<Flag>,
        /// Its immutable properties.
        props: Arc<MessageProps>,
    },
    /// The flags of a message changed.
    Flags {
        /// The message.
        uid: u32,
        /// All of its flags after the change.
        flags: Vec<Flag>,
        /// Its immutable properties (for the view filter).
        props: Arc<MessageProps>,
    },
    /// A message was permanently removed.
    Expunge {
        /// The message.
        uid: u32,
        /// Its immutable properties (for the view filter).
        props: Arc<MessageProps>,
    },
    /// The mailbox was created.
    Created,
    /// The mailbox was deleted.
    Deleted,
    /// The mailbox was renamed.
    Renamed {
        /// The new name.
        to: Mailbox,
    },
    /// The mailbox's UIDVALIDITY changed: every device that knows it must resynchronise.
    UidValidity(u32),
}

impl MailboxChange {
    /// The UID of a message change.
    pub fn uid(&self) -> Option<u32> {
        match self {
            MailboxChange::New { uid, .. }
            | MailboxChange::Flags { uid, .. }
            | MailboxChange::Expunge { uid, .. } => Some(*uid),
            _ => None,
        }
    }

    /// Is this a folder event (always pushed, spec §1.2)?
    pub fn is_folder_event(&self) -> bool {
        self.uid().is_none()
    }
}
