//! The arguments every macro shares: `name = "..."`, `crate = path` and `register = false`,
//! parsed with `parse_nested_meta` and checked key by key.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::parse::{Parse, Parser};
use syn::{Attribute, Expr, ExprLit, ExprPath, Lit, LitStr, Path, Token};

use crate::errors::Errors;

/// Which macro is being expanded, so messages name the construct the user wrote.
#[derive(Clone, Copy)]
pub(crate) struct Macro {
    /// The attribute's name: `action`, `recipient` or `event`.
    pub(crate) attr: &'static str,
    /// What the annotated functions are called in messages: `handlers`, `resolvers`.
    pub(crate) items: &'static str,
    /// The `RegistryBuilder` method that registers one explicitly: `action`, `resolver`.
    pub(crate) builder: &'static str,
}

impl Macro {
    /// `` `#[action]` `` and the like.
    pub(crate) fn display(self) -> String {
        format!("`#[{}]`", self.attr)
    }
}

/// The parsed arguments. Invalid values are reported and left out.
#[derive(Default)]
pub(crate) struct Args {
    /// The registered name, when given and valid.
    pub(crate) name: Option<LitStr>,
    /// Whether a `name` key was written at all (valid or not).
    name_given: bool,
    /// The path generated code reaches `beeflow_core` by.
    krate: Option<Path>,
    /// Whether to submit the definition to the global registry.
    pub(crate) register: Option<bool>,
    /// `#[event(droppable)]`: a slow client may miss the event.
    pub(crate) droppable: bool,
    /// `#[action(emits(A, B))]`: events the handler sends that its return type does not name.
    pub(crate) emits: Vec<syn::Type>,
    /// `#[action(problems("code", ...))]`: Problem codes of the application's own.
    pub(crate) problems: Vec<LitStr>,
    /// `#[action(concurrent)]`: requests run beside the connection's other requests.
    pub(crate) concurrent: bool,
}

impl Args {
    /// The path of the core crate: `crate = path`, or `::beeflow_core`.
    pub(crate) fn core(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::beeflow_core),
        }
    }

    /// `<core>::__private`, the only module generated code names.
    pub(crate) fn private(&self) -> TokenStream {
        let core = self.core();
        quote!(#core::__private)
    }

    /// Whether to register globally (the default).
    pub(crate) fn register(&self) -> bool {
        self.register.unwrap_or(true)
    }
}

/// Which keys have been seen, valid or not, so a repeated key is reported once, at its
/// second occurrence.
#[derive(Default)]
struct Seen {
    name: bool,
    krate: bool,
    register: bool,
    droppable: bool,
    emits: bool,
    problems: bool,
    concurrent: bool,
}

/// Parses the arguments of an attribute macro (`#[action(...)]`).
pub(crate) fn parse_args(mac: Macro, tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let mut seen = Seen::default();
    let parser = syn::meta::parser(|meta| entry(mac, &meta, &mut args, &mut seen, errors));
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    args
}

/// Parses every `#[event(...)]` helper attribute of a derive input.
pub(crate) fn parse_attrs(mac: Macro, attrs: &[Attribute], errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let mut seen = Seen::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(mac.attr)) {
        let parsed = attr.parse_nested_meta(|meta| entry(mac, &meta, &mut args, &mut seen, errors));
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    args
}

/// Reports a missing `name` at the attribute (the macro's call site).
pub(crate) fn require_name(mac: Macro, args: &Args, errors: &mut Errors) {
    if !args.name_given {
        errors.push(syn::Error::new(
            Span::call_site(),
            format!(
                "{} needs a name: write `#[{}(name = \"...\")]`",
                mac.display(),
                mac.attr
            ),
        ));
    }
}

/// One `key = value` entry. Errors about the entry are recorded and parsing goes on with
/// the next one; only malformed syntax ends the attribute.
fn entry(
    mac: Macro,
    meta: &ParseNestedMeta<'_>,
    args: &mut Args,
    seen: &mut Seen,
    errors: &mut Errors,
) -> syn::Result<()> {
    let (key, already) = if meta.path.is_ident("name") {
        ("name", &mut seen.name)
    } else if meta.path.is_ident("crate") {
        ("crate", &mut seen.krate)
    } else if meta.path.is_ident("register") {
        ("register", &mut seen.register)
    } else if meta.path.is_ident("droppable") && mac.attr == "event" {
        ("droppable", &mut seen.droppable)
    } else if meta.path.is_ident("emits") && mac.attr == "action" {
        ("emits", &mut seen.emits)
    } else if meta.path.is_ident("problems") && mac.attr == "action" {
        ("problems", &mut seen.problems)
    } else if meta.path.is_ident("concurrent") && mac.attr == "action" {
        ("concurrent", &mut seen.concurrent)
    } else {
        let key = meta.path.to_token_stream().to_string().replace(' ', "");
        let expected = match mac.attr {
            "event" => "`name`, `crate`, `register` or `droppable`",
            "action" => "`name`, `crate`, `register`, `concurrent`, `emits` or `problems`",
            _ => "`name`, `crate` or `register`",
        };
        errors.spanned(
            &meta.path,
            format!(
                "unknown key `{key}` in {}: expected {expected}",
                mac.display()
            ),
        );
        return skip_value(meta);
    };
    if std::mem::replace(already, true) {
        errors.spanned(
            &meta.path,
            format!("duplicate key `{key}` in {}: give it once", mac.display()),
        );
        return skip_value(meta);
    }
    if key == "droppable" || key == "concurrent" {
        // A flag: `#[event(droppable)]`, `#[action(concurrent)]`.
        if meta.input.peek(Token![=]) {
            errors.spanned(
                &meta.path,
                format!("`{key}` is a flag: write `#[{}({key})]`", mac.attr),
            );
            return skip_value(meta);
        }
        if key == "droppable" {
            args.droppable = true;
        } else {
            args.concurrent = true;
        }
        return Ok(());
    }
    if key == "emits" {
        // A list of event types: `emits(TaskAssigned, TaskMoved)`.
        let content;
        syn::parenthesized!(content in meta.input);
        let types = content.parse_terminated(syn::Type::parse, Token![,])?;
        args.emits.extend(types);
        return Ok(());
    }
    if key == "problems" {
        // A list of Problem codes: `problems("unknown_task", "board_closed")`.
        let content;
        syn::parenthesized!(content in meta.input);
        let codes = content.parse_terminated(<LitStr as syn::parse::Parse>::parse, Token![,])?;
        args.problems.extend(codes);
        return Ok(());
    }
    let value: Expr = meta.value()?.parse()?;
    match key {
        "name" => {
            args.name_given = true;
            args.name = name(&value, errors);
        }
        "crate" => args.krate = krate(&value, errors),
        _ => args.register = register(&value, errors),
    }
    Ok(())
}

/// Consumes whatever follows a key that is reported already: `= expr`, `(...)` or nothing.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

fn name(value: &Expr, errors: &mut Errors) -> Option<LitStr> {
    let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    else {
        errors.spanned(value, "`name` must be a string literal: `name = \"...\"`");
        return None;
    };
    let name = lit.value();
    // The same set the wire trims action names with (Python's `str.isspace`): Unicode
    // White_Space plus the separators U+001C..U+001F.
    let trimmed =
        name.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    if trimmed.is_empty() {
        errors.spanned(lit, "`name` must not be empty or blank");
        return None;
    }
    if trimmed.starts_with("beeflow.") {
        errors.spanned(
            lit,
            "names starting with `beeflow.` are reserved for beeflow's built-ins: choose another",
        );
        return None;
    }
    if trimmed != name {
        errors.spanned(
            lit,
            format!(
                "`name` must not start or end with whitespace (names are trimmed on the wire): write `name = {trimmed:?}`"
            ),
        );
        return None;
    }
    Some(lit.clone())
}

fn krate(value: &Expr, errors: &mut Errors) -> Option<Path> {
    match value {
        Expr::Path(ExprPath {
            qself: None, path, ..
        }) => return Some(path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => {
            if let Ok(path) = lit.parse_with(Path::parse_mod_style) {
                return Some(path);
            }
        }
        _ => {}
    }
    errors.spanned(
        value,
        "`crate` must be the path of `beeflow_core`, like `crate = ::my_crate::beeflow`",
    );
    None
}

fn register(value: &Expr, errors: &mut Errors) -> Option<bool> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Bool(lit),
        ..
    }) = value
    {
        return Some(lit.value);
    }
    errors.spanned(value, "`register` must be `true` or `false`");
    None
}
