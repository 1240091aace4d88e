//! `#[recipient(name = "...")]`: an `async fn` becomes the resolver of a recipient type,
//! turning a recipient id into connection ids.
//!
//! [`FnMacro::expand`] parses the arguments and the item and validates the signature (plus
//! [`check_id_param`]); this module generates the code: [`generate`], or [`stub`] after a
//! signature error.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use crate::attr::{Args, Macro};
use crate::errors::Errors;
use crate::signature::{self, FnMacro};

const RECIPIENT: Macro = Macro {
    attr: "recipient",
    items: "resolvers",
    builder: "resolver",
};

/// Expands `#[recipient(args)] item`; see [`FnMacro::expand`].
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    FnMacro {
        mac: RECIPIENT,
        extra_check: check_id_param,
        generate,
        stub,
    }
    .expand(args, item)
}

/// The type handle, its `Resolver` impl, the type-erased resolver and the
/// registration.
fn generate(args: &Args, func: &ItemFn, name: &str, register: bool) -> TokenStream {
    let private = args.private();
    let ident = &func.sig.ident;
    let params = signature::param_types(&func.sig);
    let cx = format_ident!("__beeflow_cx");
    let id = format_ident!("__beeflow_id");
    let vars: Vec<_> = (0..params.len())
        .map(|i| format_ident!("__beeflow_arg{i}"))
        .collect();

    let mut bindings = TokenStream::new();
    for (i, (ty, var)) in params.iter().zip(&vars).enumerate() {
        bindings.extend(if i == 0 {
            // Bound through a trait at the type's span, so a type other than `String` is
            // reported there, with a message that says what to write instead.
            quote_spanned! {ty.span()=>
                let #var = <#ty as #private::FromRecipientId>::from_recipient_id(#id);
            }
        } else {
            quote_spanned! {ty.span()=>
                let #var = <#ty as #private::FromContext<#private::ResolveContext>>::from_context(&#cx)?;
            }
        });
    }
    let into_connections = {
        let turbofish = signature::output_turbofish(&func.sig);
        let span = signature::output_span(&func.sig);
        quote_spanned!(span=> #private::into_connections #turbofish)
    };
    // A future that is not `Send` is reported at the function's name.
    let future = quote_spanned! {ident.span()=>
        ::std::boxed::Box::pin(async move { #into_connections(#ident(#(#vars),*).await) })
    };
    // The arguments are extracted before the future starts; a failed extraction resolves
    // to its problem.
    let resolver = quote! {
        fn __beeflow_start(
            #cx: #private::ResolveContext,
            #id: ::std::string::String,
        ) -> ::core::result::Result<#private::ResolveFuture, #private::Problem> {
            #bindings
            ::core::result::Result::Ok(#future)
        }

        fn __beeflow_resolve(
            #cx: #private::ResolveContext,
            #id: ::std::string::String,
        ) -> #private::ResolveFuture {
            match __beeflow_start(#cx, #id) {
                ::core::result::Result::Ok(resolving) => resolving,
                ::core::result::Result::Err(problem) => ::std::boxed::Box::pin(
                    ::core::future::ready(::core::result::Result::Err(problem)),
                ),
            }
        }
    };
    let requirements = signature::requirements(
        &private,
        &quote!(#private::ResolveContext),
        &params[1.min(params.len())..],
    );
    let def = def(args, func, name);
    let registration = register.then(|| {
        quote! {
            #private::inventory::submit! {
                *<#ident as #private::Resolver>::DEF
            }
        }
    });
    let handle = signature::handle(RECIPIENT, func, name);
    quote! {
        #handle
        const _: () = {
            #resolver
            #requirements
            #def
            #registration
        };
    }
}

/// The `Resolver` impl of the handle.
fn def(args: &Args, func: &ItemFn, name: &str) -> TokenStream {
    let private = args.private();
    let ident = &func.sig.ident;
    let location = signature::location(&private, func);
    quote! {
        impl #private::Resolver for #ident {
            const DEF: &'static #private::ResolverDef =
                &#private::ResolverDef::new(#name, __beeflow_resolve, #location)
                    .with_requirements(__beeflow_requirements);
        }
    }
}

/// After an error in the signature: the handle and a `Resolver` impl that never runs.
fn stub(args: &Args, func: &ItemFn, name: &str) -> TokenStream {
    let private = args.private();
    let handle = signature::handle(RECIPIENT, func, name);
    let def = def(args, func, name);
    quote! {
        #handle
        const _: () = {
            fn __beeflow_resolve(
                _: #private::ResolveContext,
                _: ::std::string::String,
            ) -> #private::ResolveFuture {
                ::core::unreachable!("`#[recipient]` stub of a resolver that failed to compile")
            }
            fn __beeflow_requirements() -> ::std::vec::Vec<#private::Requirement> {
                ::std::vec::Vec::new()
            }
            #def
        };
    }
}

/// A resolver takes the recipient id first.
fn check_id_param(func: &ItemFn, errors: &mut Errors) {
    if func.sig.inputs.is_empty() {
        errors.push(syn::Error::new(
            func.sig.paren_token.span.join(),
            "`#[recipient]` resolvers take the recipient id (`String`) as their first parameter: \
             add `id: String`",
        ));
    }
}
