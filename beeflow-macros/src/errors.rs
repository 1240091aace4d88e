//! Collecting every error a macro invocation has, so users fix them all in one pass.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The errors found so far, combined into one `syn::Error` (compare serde's `Ctxt`).
#[derive(Default)]
pub(crate) struct Errors {
    error: Option<syn::Error>,
}

impl Errors {
    /// Records `error`.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.error {
            Some(existing) => existing.combine(error),
            None => self.error = Some(error),
        }
    }

    /// Records every error of `other`.
    pub(crate) fn extend(&mut self, other: Self) {
        if let Some(error) = other.error {
            self.push(error);
        }
    }

    /// Records an error spanning `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Whether nothing went wrong.
    pub(crate) fn is_empty(&self) -> bool {
        self.error.is_none()
    }

    /// One `compile_error!` per recorded error (nothing when there are none).
    pub(crate) fn to_compile_error(&self) -> TokenStream {
        self.error
            .as_ref()
            .map(syn::Error::to_compile_error)
            .unwrap_or_default()
    }
}
