//! What the server's CAPABILITY list says: P-IMAP dialect (spec §10.3) and the extensions the
//! client uses.

use pimap_codec::Dialect;
use pimap_types::Capability;

/// The server's capabilities, interpreted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerCapabilities {
    /// The raw list, as last announced.
    pub list: Vec<Capability>,
    /// The P-IMAP draft revision the capabilities point to (0…12), if any P-IMAP atom is there.
    pub pimap_draft: Option<u8>,
}

impl ServerCapabilities {
    /// Interpret a capability list.
    pub fn new(list: Vec<Capability>) -> Self {
        let pimap_draft = detect_draft(&list);
        Self { list, pimap_draft }
    }

    /// Is `name` announced (case-insensitive)?
    pub fn has(&self, name: &str) -> bool {
        self.list.iter().any(|c| c.is(name))
    }

    /// LITERAL+ (RFC 7888): literals may be sent as `{n+}` without waiting.
    pub fn literal_plus(&self) -> bool {
        self.has("LITERAL+")
    }

    /// Does the server speak P-IMAP at all?
    pub fn is_pimap(&self) -> bool {
        self.pimap_draft.is_some()
    }

    /// The dialect to send: -01 for drafts 00/01, -08 otherwise (and for plain IMAP servers,
    /// where only RFC 3501 syntax is used anyway).
    pub fn dialect(&self) -> Dialect {
        match self.pimap_draft {
            Some(0) | Some(1) => Dialect::Draft01,
            _ => Dialect::Draft08,
        }
    }
}

/// Spec §10.3: which draft a CAPABILITY list points to.
fn detect_draft(caps: &[Capability]) -> Option<u8> {
    let has = |n: &str| caps.iter().any(|c| c.is(n));
    for c in caps {
        let b = c.0.as_bytes();
        let p = b"XPIMAPCOMPLYREV";
        if b.len() > p.len() && b.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)) {
            let digits = b.get(p.len()..).unwrap_or_default();
            if let Some(n) = std::str::from_utf8(digits)
                .ok()
                .and_then(|s| s.parse::<u8>().ok())
                .filter(|&n| n <= 12)
            {
                return Some(n);
            }
        }
    }
    if has("XPIMAPV1R2") {
        Some(12)
    } else if has("XPIMAPV1R1") {
        Some(if has("VFOLDER") { 11 } else { 8 })
    } else if has("XPIMAPV1") {
        Some(6)
    } else if has("XPIMAPPREF") {
        Some(if has("XTERSE") { 1 } else { 2 })
    } else if has("X-PIMAP-PREF") {
        Some(0)
    } else if has("XZIP") || has("XDELIVER") || has("XFILTER") {
        Some(2)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimap_types::Atom;

    fn caps(s: &str) -> ServerCapabilities {
        ServerCapabilities::new(
            s.split(' ')
                .map(|a| Capability(Atom::new(a.as_bytes().to_vec()).unwrap()))
                .collect(),
        )
    }

    #[test]
    fn dialect_table_of_spec_10_3() {
        assert_eq!(
            caps("IMAP4rev1 XPIMAPCOMPLYREV07 XPIMAPV1R1").pimap_draft,
            Some(7)
        );
        assert_eq!(caps("IMAP4rev1 XPIMAPV1R2").pimap_draft, Some(12));
        assert_eq!(caps("IMAP4rev1 XPIMAPV1R1 VFOLDER").pimap_draft, Some(11));
        assert_eq!(caps("IMAP4rev1 XPIMAPv1r1 XFILTER").pimap_draft, Some(8));
        assert_eq!(caps("IMAP4rev1 XPIMAPV1").pimap_draft, Some(6));
        assert_eq!(
            caps("IMAP4rev1 XPIMAPPREF XTERSE").dialect(),
            Dialect::Draft01
        );
        assert_eq!(caps("IMAP4rev1 XPIMAPPREF").pimap_draft, Some(2));
        assert_eq!(caps("IMAP4rev1 X-PIMAP-PREF").dialect(), Dialect::Draft01);
        assert_eq!(caps("IMAP4rev1 XDELIVER").pimap_draft, Some(2));
        let plain = caps("IMAP4rev1 IDLE LITERAL+");
        assert!(!plain.is_pimap());
        assert!(plain.literal_plus());
        assert_eq!(plain.dialect(), Dialect::Draft08);
    }
}
