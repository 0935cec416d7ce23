//! Client-side macros (spec §10.4): a named, parameterised group of commands
//! sent as one pipeline, with the results gathered into one event. This is a library-level
//! feature of this crate; nothing of it appears on the wire.

use bytes::Bytes;

use pimap_codec::{CommandDecoder, DecoderOptions, Encode, EncodeOptions, Fragment, Tolerance};
use pimap_types::{ClientMessage, CommandBody, LiteralMode};

/// At most this many commands in one macro.
pub const MAX_MACRO_COMMANDS: usize = 64;

/// Why a macro cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MacroError {
    /// The template list is empty or longer than [`MAX_MACRO_COMMANDS`].
    #[error("a macro holds 1 to {MAX_MACRO_COMMANDS} commands, not {0}")]
    Size(usize),
    /// `$n` refers to an argument that was not given.
    #[error("template {template} uses ${arg} but only {given} arguments were given")]
    MissingArgument {
        /// Index of the template.
        template: usize,
        /// The argument number (1…9).
        arg: usize,
        /// How many were given.
        given: usize,
    },
    /// An argument holds CR, LF or NUL (it is sent as a quoted string).
    #[error("argument {0} contains CR, LF or NUL")]
    BadArgument(usize),
    /// A template does not expand to a valid command.
    #[error("template {template} is not a valid command: {reason}")]
    Syntax {
        /// Index of the template.
        template: usize,
        /// The decoder's complaint.
        reason: String,
    },
    /// A command that waits for a continuation (IDLE, AUTHENTICATE without initial response,
    /// a synchronizing literal) that is not the last one.
    #[error("template {0} needs a continuation and is not the last command")]
    ContinuationNotLast(usize),
}

/// A named list of command templates with `$1`…`$9` placeholders, e.g.
/// `["SELECT $1", "UID FETCH $2:* (UID FLAGS)"]`. Arguments are substituted as quoted strings.
///
/// ```
/// use pimap_client::ClientMacro;
/// use pimap_codec::EncodeOptions;
///
/// let m = ClientMacro::new("sync-folder", ["SELECT $1", "UID FETCH 1:* (UID FLAGS)"]);
/// let bodies = m.expand(&["Drafts"], EncodeOptions::default()).unwrap();
/// assert_eq!(bodies.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMacro {
    name: String,
    templates: Vec<String>,
}

impl ClientMacro {
    /// A macro from its name and command templates (without tags).
    pub fn new<I, S>(name: &str, templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            name: name.to_string(),
            templates: templates.into_iter().map(Into::into).collect(),
        }
    }

    /// The macro's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The templates.
    pub fn templates(&self) -> &[String] {
        &self.templates
    }

    /// Substitute the arguments and decode every template into a command; checks that only
    /// the last command may wait for a continuation (with `opts.literal_plus`, literals do not).
    pub fn expand(
        &self,
        args: &[&str],
        opts: EncodeOptions,
    ) -> Result<Vec<CommandBody>, MacroError> {
        let n = self.templates.len();
        if n == 0 || n > MAX_MACRO_COMMANDS {
            return Err(MacroError::Size(n));
        }
        for (i, a) in args.iter().enumerate() {
            if a.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(MacroError::BadArgument(i + 1));
            }
        }
        let mut out = Vec::with_capacity(n);
        for (ti, t) in self.templates.iter().enumerate() {
            let line = substitute(t, args, ti)?;
            let mut wire = b"M ".to_vec();
            wire.extend_from_slice(&line);
            wire.extend_from_slice(b"\r\n");
            let mut d = CommandDecoder::new(DecoderOptions {
                tolerance: Tolerance::Strict,
                ..DecoderOptions::default()
            });
            d.feed(&wire);
            let body = match d.next() {
                Ok(Some(ClientMessage::Command(c))) if d.buffered_len() == 0 => {
                    if let CommandBody::Other { name, .. } = &c.body {
                        return Err(MacroError::Syntax {
                            template: ti,
                            reason: format!("unknown command {}", name.to_str_lossy()),
                        });
                    }
                    c.body
                }
                Ok(_) => {
                    return Err(MacroError::Syntax {
                        template: ti,
                        reason: "incomplete or not a single command".into(),
                    })
                }
                Err(e) => {
                    return Err(MacroError::Syntax {
                        template: ti,
                        reason: e.to_string(),
                    })
                }
            };
            if ti + 1 < n && needs_continuation(&body, opts) {
                return Err(MacroError::ContinuationNotLast(ti));
            }
            out.push(body);
        }
        Ok(out)
    }
}

fn substitute(t: &str, args: &[&str], template: usize) -> Result<Vec<u8>, MacroError> {
    let b = t.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let digit = b.get(i + 1).copied().filter(|d| (b'1'..=b'9').contains(d));
        match (c, digit) {
            (b'$', Some(d)) => {
                let arg = usize::from(d - b'0');
                let v = args.get(arg - 1).ok_or(MacroError::MissingArgument {
                    template,
                    arg,
                    given: args.len(),
                })?;
                out.push(b'"');
                for &ch in v.as_bytes() {
                    if ch == b'"' || ch == b'\\' {
                        out.push(b'\\');
                    }
                    out.push(ch);
                }
                out.push(b'"');
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Does sending this command stop for a `+` from the server?
pub(crate) fn needs_continuation(body: &CommandBody, opts: EncodeOptions) -> bool {
    match body {
        CommandBody::Idle => true,
        CommandBody::Authenticate {
            initial_response, ..
        } => initial_response.is_none(),
        other => {
            let cmd = pimap_types::Command::new(
                pimap_types::Tag::new(Bytes::from_static(b"M")).unwrap_or_else(|_| fallback()),
                other.clone(),
            );
            cmd.fragments(opts).iter().any(|f| {
                matches!(
                    f,
                    Fragment::Literal {
                        mode: LiteralMode::Sync,
                        ..
                    }
                )
            })
        }
    }
}

fn fallback() -> pimap_types::Tag {
    match pimap_types::Tag::new(Bytes::from_static(b"A")) {
        Ok(t) => t,
        Err(_) => fallback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_checks_continuations() {
        let m = ClientMacro::new("m", ["SELECT $1", "FETCH 1:* (FLAGS)", "IDLE"]);
        let b = m.expand(&["a \"b\""], EncodeOptions::default()).unwrap();
        assert!(
            matches!(&b[0], CommandBody::Select { mailbox, .. } if mailbox.as_bytes() == b"a \"b\"")
        );
        assert_eq!(b.len(), 3);
        let bad = ClientMacro::new("m", ["IDLE", "NOOP"]);
        assert_eq!(
            bad.expand(&[], EncodeOptions::default()),
            Err(MacroError::ContinuationNotLast(0))
        );
        let missing = ClientMacro::new("m", ["SELECT $2"]);
        assert!(matches!(
            missing.expand(&["x"], EncodeOptions::default()),
            Err(MacroError::MissingArgument { arg: 2, .. })
        ));
        assert!(matches!(
            ClientMacro::new("m", ["NOSUCH x"]).expand(&[], EncodeOptions::default()),
            Err(MacroError::Syntax { .. })
        ));
        assert_eq!(
            ClientMacro::new("m", ["SELECT $1"]).expand(&["a\r\n"], EncodeOptions::default()),
            Err(MacroError::BadArgument(1))
        );
    }
}
