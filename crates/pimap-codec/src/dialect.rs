//! Which draft's syntax is sent, and how tolerant reading is.

/// The P-IMAP draft dialect used when *sending*.
///
/// Draft -08 ("P-IMAP 1.1") is primary; draft -01 is fully supported. Reading accepts both
/// regardless of the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// draft-maes-lemonade-p-imap-01: XFILTER generation 1 (`folder V|N|B`), XTERSE,
    /// XGETPIMAPPREF, XDELIVER generation A, gzip XZIP framed as `* {n}`, `NONE` filters.
    Draft01,
    /// draft-maes-lemonade-p-imap-08 (default): named XFILTER, PIMAP_XFILTER,
    /// XGETPIMAPPREFS, XDELIVER generation D, DEFLATE XZIP as `* XZIP ~{n}`.
    #[default]
    Draft08,
}

impl Dialect {
    /// The draft number this dialect stands for (1 for -01, 8 for -08).
    pub fn draft(self) -> u8 {
        match self {
            Dialect::Draft01 => 1,
            Dialect::Draft08 => 8,
        }
    }
}

impl Dialect {
    /// XFILTER generation sent (1 or 3).
    pub fn xfilter_generation(self) -> u8 {
        match self {
            Dialect::Draft01 => 1,
            Dialect::Draft08 => 3,
        }
    }
}

/// Reading policy (spec §0.4, §10.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tolerance {
    /// Accept only the corrected send-forms of -08 and -01 plus RFC 3501 and its
    /// extensions.
    Strict,
    /// Additionally accept every alias and typo of the drafts (Appendix A "receive").
    #[default]
    Drafts,
}
