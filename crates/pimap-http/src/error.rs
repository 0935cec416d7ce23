//! Why a request or a chunked stream was refused.

use pimap_codec::DecodeError;
use pimap_server::{ConnId, ServerError};
use pimap_types::Tag;

use crate::*;

// ------------------------------------------------------------------------------ errors

/// Why a request (or chunked stream) was refused. Every variant that concerns one command
/// carries its tag when it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The body is larger than [`BodyOptions::max_body`].
    #[error("request body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The body size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The body holds no command.
    #[error("request body holds no command")]
    EmptyBody,
    /// More than [`BodyOptions::max_commands`] commands.
    #[error("more than {limit} commands in one request")]
    TooManyCommands {
        /// The configured limit.
        limit: usize,
    },
    /// A command that needs a continuation request (IDLE, AUTHENTICATE without initial
    /// response) is followed by more commands (-12 A.1: the server must answer 5xx).
    #[error("command {tag:?} needs a continuation but is not the last of the request")]
    ContinuationNotLast {
        /// Its tag.
        tag: Tag,
    },
    /// The body ends inside a command (a missing CRLF, or literal data shorter than
    /// announced).
    #[error("request body ends inside a command")]
    Incomplete {
        /// The tag of the incomplete command, when readable.
        tag: Option<Tag>,
        /// The body ends right after a synchronizing literal announcement.
        awaiting_literal: bool,
    },
    /// A command could not be decoded.
    #[error("bad command: {error}")]
    Syntax {
        /// Its tag, when readable.
        tag: Option<Tag>,
        /// The decoder's error (boxed: it carries the offending frame).
        error: Box<DecodeError>,
    },
    /// `DONE` or AUTHENTICATE data at the start of a body with no pending continuation, or
    /// anywhere else in a body.
    #[error("continuation data (DONE or AUTHENTICATE data) without a pending continuation")]
    UnexpectedContinuationData,
    /// More lines after AUTHENTICATE data: the server reads commands only once the
    /// authentication exchange is over (RFC 3501 §6.2.2), so they cannot share its body.
    #[error("commands follow AUTHENTICATE data in the same request")]
    CommandsAfterAuthData,
    /// [`HttpConfig::max_sessions`] reached.
    #[error("too many HTTP sessions (limit {limit})")]
    TooManySessions {
        /// The configured limit.
        limit: usize,
    },
    /// A POST for a session whose previous POST is still being answered.
    #[error("the session is still answering a previous request")]
    SessionBusy,
    /// Not a persistent stream of these sessions.
    #[error("unknown stream {0:?}")]
    UnknownStream(ConnId),
    /// The server refused (connection limit, closed connection).
    #[error("server: {0}")]
    Server(#[from] ServerError),
    /// Chunked transfer coding error.
    #[error("chunked coding: {0}")]
    Chunked(#[from] ChunkedError),
}

impl HttpError {
    /// The tag of the offending command, when known.
    pub fn tag(&self) -> Option<&Tag> {
        match self {
            HttpError::ContinuationNotLast { tag } => Some(tag),
            HttpError::Incomplete { tag, .. } | HttpError::Syntax { tag, .. } => tag.as_ref(),
            _ => None,
        }
    }

    /// The HTTP status for this refusal: 413 (too large), 409 (session busy), 503 (too
    /// many sessions, server limit), 500 (continuation not last, as -12 A.1 asks), else 400.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BodyTooLarge { .. } => 413,
            HttpError::SessionBusy => 409,
            HttpError::TooManySessions { .. } | HttpError::Server(_) => 503,
            HttpError::ContinuationNotLast { .. } => 500,
            _ => 400,
        }
    }

    /// An IMAP-style body explaining the refusal: `tag BAD text` when the tag is known,
    /// else `* BAD text` (the body stays authoritative, spec §8.1.3).
    pub fn imap_body(&self) -> Vec<u8> {
        let text = self.to_string().replace(['\r', '\n'], " ");
        match self.tag() {
            Some(t) => format!("{} BAD {text}\r\n", t.to_str_lossy()).into_bytes(),
            None => format!("* BAD {text}\r\n").into_bytes(),
        }
    }
}
