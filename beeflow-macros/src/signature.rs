//! What `#[action]` and `#[recipient]` share: finding the `async fn`, checking its
//! signature, and the type handle generated beside it.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, ItemFn, Lit, Meta, ReturnType, Signature, Type};

use crate::attr::{self, Args, Macro};
use crate::errors::Errors;

/// How one attribute macro on an `async fn` generates its code.
pub(crate) struct FnMacro {
    /// Which macro this is.
    pub(crate) mac: Macro,
    /// Checks beyond [`check`], recorded with the signature's errors.
    pub(crate) extra_check: fn(&ItemFn, &mut Errors),
    /// The full expansion (handle, impl, erased fn, registration when the flag is set).
    pub(crate) generate: fn(&Args, &ItemFn, &str, bool) -> TokenStream,
    /// The handle and an impl that never runs, for a signature with errors.
    pub(crate) stub: fn(&Args, &ItemFn, &str) -> TokenStream,
}

impl FnMacro {
    /// Parses, validates and expands `#[mac(args)] item`. Never fails outright: errors are
    /// emitted as `compile_error!`s beside the user's function (and the type handle when
    /// possible), so one mistake gives one error. Errors in the arguments alone still get
    /// the full expansion, minus the registration, so types are checked in the same pass.
    pub(crate) fn expand(&self, args: TokenStream, item: TokenStream) -> TokenStream {
        let mac = self.mac;
        let mut errors = Errors::default();
        let args = attr::parse_args(mac, args, &mut errors);
        attr::require_name(mac, &args, &mut errors);
        let mut func = match parse_fn(mac, item, &mut errors) {
            Ok(func) => func,
            Err(item) => {
                let errors = errors.to_compile_error();
                return quote!(#item #errors);
            }
        };
        let mut sig_errors = Errors::default();
        check(mac, &func.sig, &mut sig_errors);
        (self.extra_check)(&func, &mut sig_errors);
        let sig_ok = sig_errors.is_empty();
        errors.extend(sig_errors);
        // Reported above; rustc would add "functions cannot be both `const` and `async`".
        func.sig.constness = None;
        // The macro requires `async`, so a handler that never awaits is not a mistake.
        func.attrs
            .push(syn::parse_quote!(#[allow(clippy::unused_async)]));

        let name = args
            .name
            .as_ref()
            .map_or_else(|| func.sig.ident.unraw().to_string(), syn::LitStr::value);
        let generated = if is_method(&func.sig) {
            // Inside an `impl`: no struct can go there, so only the error is added.
            TokenStream::new()
        } else if sig_ok {
            (self.generate)(&args, &func, &name, errors.is_empty() && args.register())
        } else {
            (self.stub)(&args, &func, &name)
        };
        let errors = errors.to_compile_error();
        quote! {
            #func
            #generated
            #errors
        }
    }
}

/// The annotated item as a function, or (after recording an error) its tokens unchanged so
/// they can be emitted again beside the error.
fn parse_fn(mac: Macro, item: TokenStream, errors: &mut Errors) -> Result<ItemFn, TokenStream> {
    if let Ok(syn::Item::Fn(func)) = syn::parse2::<syn::Item>(item.clone()) {
        return Ok(func);
    }
    errors.push(syn::Error::new(
        first_keyword(&item),
        format!("{} can only be applied to an `async fn`", mac.display()),
    ));
    Err(item)
}

/// The span of an item's first keyword (`struct`, `impl`, ...), after its attributes and
/// visibility, so an error underlines one token instead of the whole item.
fn first_keyword(item: &TokenStream) -> Span {
    let mut tokens = item.clone().into_iter().peekable();
    while let Some(token) = tokens.next() {
        match &token {
            // `#[...]`: skip the bracketed group too.
            TokenTree::Punct(punct) if punct.as_char() == '#' => {
                tokens.next();
            }
            // `pub` and `pub(...)`.
            TokenTree::Ident(ident) if ident == "pub" => {
                if matches!(tokens.peek(), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)
                {
                    tokens.next();
                }
            }
            _ => return token.span(),
        }
    }
    Span::call_site()
}

/// Whether the function takes `self` (so it is a method inside an `impl`, where no type
/// handle can be emitted).
fn is_method(sig: &Signature) -> bool {
    sig.inputs
        .iter()
        .any(|arg| matches!(arg, FnArg::Receiver(_)))
}

/// Records every way `sig` is not a plain, non-generic `async fn`.
fn check(mac: Macro, sig: &Signature, errors: &mut Errors) {
    let what = format!("{} {}", mac.display(), mac.items);
    if let Some(token) = &sig.constness {
        errors.spanned(
            token,
            format!("{what} cannot be `const fn`: remove `const`"),
        );
    }
    if sig.asyncness.is_none() {
        errors.spanned(sig.fn_token, format!("{what} must be `async fn`"));
    }
    if let Some(token) = &sig.unsafety {
        errors.spanned(
            token,
            format!("{what} cannot be `unsafe fn`: remove `unsafe`"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, format!("{what} cannot be `extern fn`: remove the ABI"));
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            format!(
                "{what} cannot be generic: remove the generic parameters and name concrete types"
            ),
        );
    } else if let Some(clause) = &sig.generics.where_clause {
        errors.spanned(
            clause,
            format!("{what} cannot have a `where` clause: remove it"),
        );
    }
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => errors.spanned(
                receiver,
                format!("{what} must be free functions, not methods: remove the `self` parameter and move the fn out of the `impl`"),
            ),
            FnArg::Typed(typed) if contains_impl(typed.ty.to_token_stream()) => errors.spanned(
                &typed.ty,
                format!("{what} cannot take `impl Trait` parameters: name a concrete type"),
            ),
            FnArg::Typed(_) => {}
        }
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, format!("{what} cannot be variadic"));
    }
}

/// The types of the typed parameters, in order.
pub(crate) fn param_types(sig: &Signature) -> Vec<&Type> {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(&*typed.ty),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Whether `ty` is spelled as one of the context extractors an action may take instead of
/// a payload (`ActionContext`, `State<T>`, `Identity<T>`, `Option<Identity<T>>`,
/// `ConnectionId`, `ConnectionState<T>`, by their last path segment). The macro sees only tokens, so a
/// payload type must not reuse these names.
pub(crate) fn is_context_extractor(ty: &Type) -> bool {
    let Some(segment) = last_segment(ty) else {
        return false;
    };
    match segment.ident.to_string().as_str() {
        "ActionContext" | "State" | "Identity" | "ConnectionId" | "ConnectionState" => true,
        "Option" => first_generic(segment)
            .and_then(last_segment)
            .is_some_and(|inner| inner.ident == "Identity"),
        _ => false,
    }
}

/// `fn __beeflow_requirements()`: what the extractors `types` (taken from context `cx`)
/// need from the dispatcher, for the registration.
pub(crate) fn requirements(
    private: &TokenStream,
    cx: &TokenStream,
    types: &[&Type],
) -> TokenStream {
    quote! {
        fn __beeflow_requirements() -> ::std::vec::Vec<#private::Requirement> {
            let mut requirements = ::std::vec::Vec::new();
            #(
                requirements.extend(<#types as #private::FromContext<#cx>>::requirement());
            )*
            requirements
        }
    }
}

/// Whether `ty` is `()`.
pub(crate) fn is_unit(ty: &Type) -> bool {
    match ty {
        Type::Tuple(tuple) => tuple.elems.is_empty(),
        Type::Paren(paren) => is_unit(&paren.elem),
        _ => false,
    }
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Paren(paren) => last_segment(&paren.elem),
        Type::Group(group) => last_segment(&group.elem),
        _ => None,
    }
}

fn first_generic(segment: &syn::PathSegment) -> Option<&Type> {
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }),
        _ => None,
    }
}

/// `::<R>` for the declared return type `R`, so a bad return type is reported at `R`;
/// nothing when there is none (`()`) or it cannot be named (`impl Trait`).
pub(crate) fn output_turbofish(sig: &Signature) -> TokenStream {
    match &sig.output {
        ReturnType::Type(_, ty) if !contains_impl(ty.to_token_stream()) => quote!(::<#ty>),
        _ => TokenStream::new(),
    }
}

/// The span errors about the return type point at: the type, or the signature's name when
/// there is none.
pub(crate) fn output_span(sig: &Signature) -> Span {
    match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    }
}

pub(crate) fn contains_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => contains_impl(group.stream()),
        _ => false,
    })
}

/// The type handle beside the function: a braced struct of the same name and visibility.
/// Braced structs live only in the type namespace, so it does not clash with the `fn`.
pub(crate) fn handle(mac: Macro, func: &ItemFn, name: &str) -> TokenStream {
    let vis = &func.vis;
    let ident = &func.sig.ident;
    let doc = format!(
        "The type handle of the `{attr}` `{name}` (the `#[{attr}]` fn `{ident}`): register it \
         explicitly with `Registry::builder().{builder}::<{ident}>()`.",
        attr = mac.attr,
        builder = mac.builder,
    );
    quote! {
        #[allow(non_camel_case_types, dead_code)]
        #[doc = #doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        #vis struct #ident {}
    }
}

/// `Location::new(..)` with the line of the function's name.
pub(crate) fn location(private: &TokenStream, func: &ItemFn) -> TokenStream {
    let line = quote_spanned!(func.sig.ident.span()=> ::core::line!());
    quote!(#private::Location::new(::core::module_path!(), ::core::file!(), #line))
}

/// The function's doc comment: its `///` lines joined with `\n`, each without the one space
/// that follows `///`. Docs that are not string literals (`#[doc = include_str!(..)]`) are
/// spliced in with `concat!`.
pub(crate) fn description(func: &ItemFn) -> TokenStream {
    let mut literal = Vec::new();
    let mut parts = Vec::new();
    for attr in &func.attrs {
        let Meta::NameValue(doc) = &attr.meta else {
            continue;
        };
        if !doc.path.is_ident("doc") {
            continue;
        }
        match &doc.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(line),
                ..
            }) => {
                let line = line.value();
                let line = line.strip_prefix(' ').unwrap_or(&line).to_owned();
                parts.push(line.to_token_stream());
                literal.push(line);
            }
            other => parts.push(other.to_token_stream()),
        }
    }
    if literal.len() == parts.len() {
        return literal.join("\n").into_token_stream();
    }
    let mut joined = TokenStream::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            joined.extend(quote!("\n",));
        }
        joined.extend(quote!(#part,));
    }
    quote!(::core::concat!(#joined))
}
