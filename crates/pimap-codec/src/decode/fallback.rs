//! The command fallback: a well-formed command this crate does not model.

use super::{PResult, Parser};
use pimap_types::{Atom, CommandBody};

impl Parser<'_> {
    /// `name [SP args]` where `args` is any well-formed sequence of IMAP values: atoms and
    /// other tokens, quoted strings, literals, balanced `(...)` and `[...]`. No control
    /// characters outside literals.
    pub(crate) fn other_command(&mut self, name: Atom) -> PResult<CommandBody> {
        if self.at_eol() {
            return Ok(CommandBody::Other { name, args: None });
        }
        self.expect(b' ', "SP")?;
        let start = self.pos;
        self.generic_args()?;
        let end = self.pos;
        if end == start {
            return self.err("arguments");
        }
        Ok(CommandBody::Other {
            name,
            args: Some(self.slice(start, end)),
        })
    }

    fn generic_args(&mut self) -> PResult<()> {
        let mut open = 0u32;
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    if open > 0 {
                        return self.err(")");
                    }
                    return Ok(());
                }
                Some(b'(') => {
                    self.enter()?;
                    open += 1;
                    self.pos += 1;
                }
                Some(b')') => {
                    if open == 0 {
                        return self.err("no unmatched )");
                    }
                    open -= 1;
                    self.leave();
                    self.pos += 1;
                }
                Some(b'"') => {
                    self.quoted()?;
                }
                Some(b'{') => {
                    self.literal_any()?;
                }
                Some(b'~') if self.peek_at(1) == Some(b'{') => {
                    self.literal_any()?;
                }
                Some(b'[') => self.skip_brackets()?,
                Some(b) if b < b' ' || b == 0x7f => return self.err("no control character"),
                Some(_) => self.pos += 1,
            }
        }
    }
}
