//! XMACRO: this crate's own wire-level macro extension (not part of any P-IMAP draft).
//!
//! Grammar (capability `XMACRO`):
//! ```text
//! xmacro-cmd = "XMACRO" SP ( "DEFINE" SP macro-name SP "(" template *(SP template) ")"
//!                          / "RUN" SP macro-name *(SP astring)
//!                          / "DELETE" SP macro-name
//!                          / "LIST" )
//! template   = string     ; one command line without tag; $1..$9 substituted by RUN args
//! xmacro-resp = "*" SP "XMACRO" SP macro-name SP "(" template *(SP template) ")"
//! ```

use super::core::{Atom, IString};

/// Maximum templates in one macro definition accepted by the decoder.
pub const MAX_MACRO_TEMPLATES: usize = 32;

/// XMACRO commands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum XMacroCommand {
    /// `XMACRO DEFINE name (templates)`.
    Define {
        /// Macro name.
        name: Atom,
        /// Command templates without tags (non-empty, at most [`MAX_MACRO_TEMPLATES`]).
        templates: Vec<IString>,
    },
    /// `XMACRO RUN name args`.
    Run {
        /// Macro name.
        name: Atom,
        /// Arguments for `$1`..`$9`.
        args: Vec<IString>,
    },
    /// `XMACRO DELETE name`.
    Delete {
        /// Macro name.
        name: Atom,
    },
    /// `XMACRO LIST`.
    List,
}

/// `* XMACRO name (templates)`: one defined macro.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XMacroListing {
    /// Macro name.
    pub name: Atom,
    /// Its templates.
    pub templates: Vec<IString>,
}
