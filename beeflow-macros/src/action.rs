//! `#[action(name = "...")]`: an `async fn` becomes a registered action handler.
//!
//! [`FnMacro::expand`] parses the arguments and the item and validates the signature; this
//! module generates the code: [`generate`], or [`stub`] after a signature error.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use crate::attr::{Args, Macro};
use crate::errors::Errors;
use crate::signature::{self, FnMacro};

const ACTION: Macro = Macro {
    attr: "action",
    items: "handlers",
    builder: "action",
};

/// Expands `#[action(args)] item`; see [`FnMacro::expand`].
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    FnMacro {
        mac: ACTION,
        extra_check: no_extra_check,
        generate,
        stub,
    }
    .expand(args, item)
}

/// The type handle, its `Action` impl, the type-erased handler and the registration.
fn generate(args: &Args, func: &ItemFn, name: &str, register: bool) -> TokenStream {
    let private = args.private();
    let ident = &func.sig.ident;
    let params = signature::param_types(&func.sig);
    let cx = format_ident!("__beeflow_cx");
    let raw = format_ident!("__beeflow_raw");
    let vars: Vec<_> = (0..params.len())
        .map(|i| format_ident!("__beeflow_arg{i}"))
        .collect();

    let mut checks = TokenStream::new();
    let mut bindings = TokenStream::new();
    // The first parameter is the payload unless it is a context extractor or `()`: then
    // the action takes no payload and accepts any object.
    let payload = params
        .first()
        .filter(|ty| !signature::is_context_extractor(ty) && !signature::is_unit(ty));
    let (payload_type, payload_schema) = match payload {
        Some(payload) => {
            // One const body checks the payload type and names every function that needs
            // its bounds, so rustc reports a bad payload type once, at the type.
            let var = &vars[0];
            checks.extend(quote_spanned! {payload.span()=>
                #[allow(clippy::type_complexity)]
                const __BEEFLOW_PAYLOAD: (
                    fn(&str, &str) -> ::core::result::Result<#payload, #private::Problem>,
                    fn(&mut #private::schemars::SchemaGenerator) -> #private::schemars::Schema,
                ) = {
                    #private::assert_payload::<#payload>();
                    (#private::decode_payload::<#payload>, #private::schema_for::<#payload>)
                };
            });
            bindings.extend(quote! {
                let #var = (__BEEFLOW_PAYLOAD.0)(#name, #raw)?;
            });
            (
                quote!(::core::stringify!(#payload)),
                quote!(__BEEFLOW_PAYLOAD.1),
            )
        }
        None => {
            checks.extend(quote! {
                fn __beeflow_any_object(
                    _: &mut #private::schemars::SchemaGenerator,
                ) -> #private::schemars::Schema {
                    #private::schemars::json_schema!({ "type": "object" })
                }
            });
            (quote!("object"), quote!(__beeflow_any_object))
        }
    };
    let first_extractor = usize::from(payload.is_some());
    let extractors: Vec<&syn::Type> = params[first_extractor..]
        .iter()
        .copied()
        .filter(|ty| !signature::is_unit(ty))
        .collect();
    checks.extend(signature::requirements(
        &private,
        &quote!(#private::ActionContext),
        &extractors,
    ));
    for (ty, var) in params.iter().zip(&vars).skip(first_extractor) {
        if signature::is_unit(ty) {
            bindings.extend(quote!(let #var = ();));
            continue;
        }
        bindings.extend(quote_spanned! {ty.span()=>
            let #var = <#ty as #private::FromContext<#private::ActionContext>>::from_context(&#cx)?;
        });
    }
    // A nameable return type is checked once, in one const that also names what it
    // declares for the schema documents, so a bad return type is one error, at the type.
    let into_events = match nameable_output(func) {
        Some(ty) => {
            checks.extend(quote_spanned! {ty.span()=>
                #[allow(clippy::type_complexity)]
                const __BEEFLOW_RETURN: (
                    fn(#ty) -> ::core::result::Result<#private::Events, #private::Problem>,
                    fn(&mut #private::Replies),
                ) = (#private::into_events::<#ty>, <#ty as #private::IntoEvents>::declare);
            });
            quote!((__BEEFLOW_RETURN.0))
        }
        None => {
            let span = signature::output_span(&func.sig);
            quote_spanned!(span=> #private::into_events)
        }
    };
    // A future that is not `Send` is reported at the function's name.
    let future = quote_spanned! {ident.span()=>
        ::std::boxed::Box::pin(async move { #into_events(#ident(#(#vars),*).await) })
    };
    let handler = quote! {
        fn __beeflow_handler(
            #cx: #private::ActionContext,
            #raw: &str,
        ) -> ::core::result::Result<#private::HandlerFuture, #private::Problem> {
            #bindings
            ::core::result::Result::Ok(#future)
        }
    };
    checks.extend(replies(args, func));
    let def = def(args, func, name, &payload_type, &payload_schema);
    let registration = register.then(|| {
        quote! {
            #private::inventory::submit! {
                *<#ident as #private::Action>::DEF
            }
        }
    });
    let handle = signature::handle(ACTION, func, name);
    quote! {
        #handle
        const _: () = {
            #checks
            #handler
            #def
            #registration
        };
    }
}

/// `fn __beeflow_replies()`: what the return type names, then `emits(...)` and
/// `problems(...)`.
fn replies(args: &Args, func: &ItemFn) -> TokenStream {
    let private = args.private();
    let from_return = nameable_output(func)
        .map(|_| quote!((__BEEFLOW_RETURN.1)(&mut replies);))
        .unwrap_or_default();
    let emits = args.emits.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            replies.event(<#ty as #private::Event>::NAME);
        }
    });
    let problems = &args.problems;
    quote! {
        fn __beeflow_replies() -> #private::Replies {
            let mut replies = #private::Replies::default();
            #from_return
            #(#emits)*
            replies.problems(&[#(#problems),*]);
            replies
        }
    }
}

/// The declared return type, unless there is none (`()`) or it cannot be named
/// (`impl Trait`).
fn nameable_output(func: &ItemFn) -> Option<&syn::Type> {
    match &func.sig.output {
        syn::ReturnType::Type(_, ty) if !signature::contains_impl(ty.to_token_stream()) => Some(ty),
        _ => None,
    }
}

/// The `Action` impl of the handle.
fn def(
    args: &Args,
    func: &ItemFn,
    name: &str,
    payload_type: &TokenStream,
    payload_schema: &TokenStream,
) -> TokenStream {
    let private = args.private();
    let ident = &func.sig.ident;
    let description = signature::description(func);
    let location = signature::location(&private, func);
    let concurrent = args.concurrent;
    quote! {
        impl #private::Action for #ident {
            const DEF: &'static #private::ActionDef = &#private::ActionDef::new(
                #name,
                __beeflow_handler,
                #payload_type,
                #payload_schema,
                #description,
                #location,
            )
            .with_requirements(__beeflow_requirements)
            .with_replies(__beeflow_replies)
            .with_concurrent(#concurrent);
        }
    }
}

/// After an error in the signature: the handle and an `Action` impl that never runs, so
/// code naming the handle does not fail a second time.
fn stub(args: &Args, func: &ItemFn, name: &str) -> TokenStream {
    let private = args.private();
    let handle = signature::handle(ACTION, func, name);
    let def = def(
        args,
        func,
        name,
        &quote!("object"),
        &quote!(__beeflow_any_object),
    );
    quote! {
        #handle
        const _: () = {
            fn __beeflow_handler(
                _: #private::ActionContext,
                _: &str,
            ) -> ::core::result::Result<#private::HandlerFuture, #private::Problem> {
                ::core::unreachable!("`#[action]` stub of a handler that failed to compile")
            }
            fn __beeflow_any_object(
                _: &mut #private::schemars::SchemaGenerator,
            ) -> #private::schemars::Schema {
                #private::schemars::json_schema!({ "type": "object" })
            }
            fn __beeflow_requirements() -> ::std::vec::Vec<#private::Requirement> {
                ::std::vec::Vec::new()
            }
            fn __beeflow_replies() -> #private::Replies {
                #private::Replies::default()
            }
            #def
        };
    }
}

/// Actions need nothing beyond the shared signature checks.
fn no_extra_check(_: &ItemFn, _: &mut Errors) {}
