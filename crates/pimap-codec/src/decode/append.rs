//! APPEND: the plain form, MULTIAPPEND (RFC 3502), CATENATE (RFC 4469) and the P-IMAP
//! XCOMPOSE form (-09…-11).

use super::{PResult, Parser};
use pimap_types::{
    AppendContent, AppendMessage, CatenatePart, CommandBody, ComposePart, DateTime, Flag, Literal8,
    Mailbox,
};

impl Parser<'_> {
    /// `APPEND` after the command name.
    pub(crate) fn append(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut messages = Vec::new();
        loop {
            self.sp()?;
            let mut flags = Vec::new();
            if self.at(b'(') {
                flags = self.flag_list()?;
                self.sp()?;
            }
            let mut date = None;
            if self.at(b'"') {
                date = Some(self.date_time()?);
                self.sp()?;
            }
            if messages.is_empty() && self.tolerant() && self.kw(b"XCOMPOSE") {
                return self.append_compose(mailbox, flags, date);
            }
            let content = if self.kw(b"CATENATE") {
                self.sp()?;
                AppendContent::Catenate(self.catenate_parts()?)
            } else {
                AppendContent::Literal(self.literal_arg()?)
            };
            messages.push(AppendMessage {
                flags,
                date,
                content,
            });
            if !self.at(b' ') || self.peek_at(1).is_none_or(|b| b == b'\r' || b == b'\n') {
                break;
            }
        }
        if messages.len() == 1 {
            if let Some(AppendMessage {
                flags,
                date,
                content: AppendContent::Literal(message),
            }) = messages.first().cloned()
            {
                return Ok(CommandBody::Append {
                    mailbox,
                    flags,
                    date,
                    message,
                });
            }
        }
        Ok(CommandBody::AppendMulti { mailbox, messages })
    }

    /// `"(" cat-part *(SP cat-part) ")"`
    fn catenate_parts(&mut self) -> PResult<Vec<CatenatePart>> {
        self.expect(b'(', "(")?;
        let mut v = Vec::new();
        loop {
            if self.kw(b"TEXT") {
                self.sp()?;
                v.push(CatenatePart::Text(self.literal_arg()?));
            } else if self.kw(b"URL") {
                self.sp()?;
                v.push(CatenatePart::Url(self.astring()?));
            } else {
                return self.err("TEXT or URL");
            }
            if self.eat(b')') {
                return Ok(v);
            }
            self.sp()?;
        }
    }

    /// The text after `XCOMPOSE` (-09…-11, E-43: the missing SP before `(` is accepted, and
    /// `URL astring` is a compose-part).
    fn append_compose(
        &mut self,
        mailbox: Mailbox,
        flags: Vec<Flag>,
        date: Option<DateTime>,
    ) -> PResult<CommandBody> {
        self.eat(b' ');
        self.expect(b'(', "(")?;
        let mut parts = Vec::new();
        loop {
            let lit = |p: &mut Self| -> PResult<Literal8> {
                let (data, binary) = p.literal_any()?;
                Ok(Literal8 { data, binary })
            };
            let part = if self.kw(b"TEXT") {
                self.sp()?;
                ComposePart::Text(lit(self)?)
            } else if self.kw(b"STEXT") {
                self.sp()?;
                ComposePart::SText(lit(self)?)
            } else if self.kw(b"DTEXT") {
                self.sp()?;
                let url = self.astring()?;
                self.sp()?;
                ComposePart::DText {
                    url,
                    delta: lit(self)?,
                }
            } else if self.kw(b"URL") {
                self.sp()?;
                ComposePart::Url(self.astring()?)
            } else {
                return self.err("TEXT, STEXT, DTEXT or URL");
            };
            parts.push(part);
            if self.eat(b')') {
                break;
            }
            self.sp()?;
        }
        Ok(CommandBody::AppendCompose {
            mailbox,
            flags,
            date,
            parts,
        })
    }
}
