//! Request bodies: batches of IMAP commands with literals, continuation only last, bounded.

use bytes::Bytes;

use pimap_codec::{CommandDecoder, DecodeError, DecoderOptions};
use pimap_types::{ClientMessage, Command, CommandBody, Tag};

use crate::*;

// ------------------------------------------------------------------------ request bodies

/// What a body continues, when the previous response of the session ended with a `+`
/// continuation request (draft -12's status 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Awaiting {
    /// Nothing: the body holds commands only.
    #[default]
    Nothing,
    /// IDLE is running: the body may start with `DONE`.
    Done,
    /// AUTHENTICATE waits for data: the first line of the body is that data.
    AuthData,
}

/// Limits and decoding options of [`parse_request_body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyOptions {
    /// Largest body (default 16 MiB).
    pub max_body: usize,
    /// Most commands in one body (default 128; keep it below the server's
    /// `max_pipelined`).
    pub max_commands: usize,
    /// Command decoding limits and tolerance (use the server's).
    pub decoder: DecoderOptions,
    /// What the body continues (default: nothing).
    pub awaiting: Awaiting,
}

impl Default for BodyOptions {
    fn default() -> Self {
        Self {
            max_body: 16 << 20,
            max_commands: 128,
            decoder: DecoderOptions::default(),
            awaiting: Awaiting::Nothing,
        }
    }
}

impl BodyOptions {
    /// Defaults with these limits.
    pub fn new(max_body: usize, max_commands: usize) -> Self {
        Self {
            max_body,
            max_commands,
            ..Self::default()
        }
    }
}

/// Does this command make the server send a `+` continuation request (so it must be the
/// last of a batch)? IDLE, and AUTHENTICATE without an initial response.
pub fn needs_continuation(cmd: &Command) -> bool {
    matches!(
        cmd.body,
        CommandBody::Idle
            | CommandBody::Authenticate {
                initial_response: None,
                ..
            }
    )
}

/// One decoded item of a body: a message, or a command that failed to decode but whose tag
/// is known (the server answers it with `tag BAD`).
#[derive(Debug)]
pub(crate) enum Item {
    Msg(ClientMessage),
    Bad(Tag),
}

/// The tag at the start of `bytes`, if it is a valid one.
fn leading_tag(bytes: &[u8]) -> Option<Tag> {
    let end = bytes
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    Tag::new(Bytes::copy_from_slice(bytes.get(..end)?)).ok()
}

/// Decode a body into items; syntax errors with a known tag become [`Item::Bad`].
pub(crate) fn scan(
    body: &[u8],
    opts: &BodyOptions,
) -> Result<Vec<(Item, Option<DecodeError>)>, HttpError> {
    if body.len() > opts.max_body {
        return Err(HttpError::BodyTooLarge {
            size: body.len(),
            limit: opts.max_body,
        });
    }
    let mut dec = CommandDecoder::new(opts.decoder);
    dec.set_authenticate_data(opts.awaiting == Awaiting::AuthData);
    dec.feed(body);
    let mut items: Vec<(Item, Option<DecodeError>)> = Vec::new();
    loop {
        let r = dec.next();
        let first = items.is_empty();
        dec.set_authenticate_data(false);
        match r {
            Ok(Some(m)) => {
                let allowed = match &m {
                    ClientMessage::Command(_) => true,
                    ClientMessage::Done => first && opts.awaiting == Awaiting::Done,
                    ClientMessage::AuthData(_) => first && opts.awaiting == Awaiting::AuthData,
                };
                if !allowed {
                    return Err(HttpError::UnexpectedContinuationData);
                }
                items.push((Item::Msg(m), None));
            }
            Ok(None) => break,
            Err(e) => match e.tag() {
                Some(t) => items.push((Item::Bad(t), Some(e))),
                None => {
                    return Err(HttpError::Syntax {
                        tag: None,
                        error: Box::new(e),
                    })
                }
            },
        }
        if items.len() > opts.max_commands {
            return Err(HttpError::TooManyCommands {
                limit: opts.max_commands,
            });
        }
    }
    let rest = dec.buffered_len();
    if rest > 0 {
        let tail = body
            .get(body.len().saturating_sub(rest)..)
            .unwrap_or_default();
        return Err(HttpError::Incomplete {
            tag: leading_tag(tail),
            awaiting_literal: dec.awaiting_continuation(),
        });
    }
    if items.is_empty() {
        return Err(HttpError::EmptyBody);
    }
    if opts.awaiting == Awaiting::AuthData && items.len() > 1 {
        return Err(HttpError::CommandsAfterAuthData);
    }
    let last = items.len() - 1;
    for (i, (item, _)) in items.iter().enumerate() {
        if let Item::Msg(ClientMessage::Command(cmd)) = item {
            if i < last && needs_continuation(cmd) {
                return Err(HttpError::ContinuationNotLast {
                    tag: cmd.tag.clone(),
                });
            }
        }
    }
    Ok(items)
}

/// Decode the body of a POST (spec §8.1.4): one or more tagged commands, literal data after
/// a command line, a command needing a continuation only as the last one, `DONE` or
/// AUTHENTICATE data only first and only when [`BodyOptions::awaiting`] says so.
///
/// ```
/// use pimap_http::{parse_request_body, BodyOptions, HttpError};
/// use pimap_types::ClientMessage;
///
/// let body = b"a1 LOGIN {3}\r\njoe secret\r\na2 APPEND INBOX {5+}\r\nHello\r\n";
/// let msgs = parse_request_body(body, &BodyOptions::default())?;
/// assert_eq!(msgs.len(), 2);
///
/// let err = parse_request_body(b"a1 IDLE\r\na2 NOOP\r\n", &BodyOptions::default());
/// assert!(matches!(err, Err(HttpError::ContinuationNotLast { .. })));
/// # Ok::<(), HttpError>(())
/// ```
pub fn parse_request_body(
    body: &[u8],
    opts: &BodyOptions,
) -> Result<Vec<ClientMessage>, HttpError> {
    scan(body, opts)?
        .into_iter()
        .map(|(item, err)| match (item, err) {
            (Item::Msg(m), _) => Ok(m),
            (Item::Bad(tag), Some(error)) => Err(HttpError::Syntax {
                tag: Some(tag),
                error: Box::new(error),
            }),
            (Item::Bad(tag), None) => Err(HttpError::Incomplete {
                tag: Some(tag),
                awaiting_literal: false,
            }),
        })
        .collect()
}
