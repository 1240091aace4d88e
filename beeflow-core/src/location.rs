//! Where a registered item was defined, for error messages that name both sides of a
//! conflict.

use std::fmt;

/// Where a registered item was defined, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// `module_path!()` of the definition.
    pub module: &'static str,
    /// `file!()` of the definition.
    pub file: &'static str,
    /// `line!()` of the definition.
    pub line: u32,
}

impl Location {
    /// A location from the `module_path!()`, `file!()` and `line!()` of a definition.
    pub const fn new(module: &'static str, file: &'static str, line: u32) -> Self {
        Self { module, file, line }
    }

    /// The caller's file and line, for an item registered explicitly at run time.
    #[track_caller]
    pub(crate) fn caller() -> Self {
        let at = std::panic::Location::caller();
        Self::new("<explicit registration>", at.file(), at.line())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.module, self.file, self.line)
    }
}
