//! `#[derive(Event)]` with optional `#[event(name = "...", crate = path, register = false, droppable)]`.
//!
//! Stages: [`attr::parse_attrs`] (the helper attributes), the shape check (no generics, no
//! unions), then the `Event` impl and the registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Data, DeriveInput};

use crate::attr::{self, Macro};
use crate::errors::Errors;

const EVENT: Macro = Macro {
    attr: "event",
    items: "events",
    builder: "event",
};

/// Expands `#[derive(Event)]`. When only the attribute is wrong, the `Event` impl is still
/// emitted (under the type's name, unregistered) so uses of the type do not fail again.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let args = attr::parse_attrs(EVENT, &input.attrs, &mut errors);
    let mut shape_ok = true;
    if let Data::Union(data) = &input.data {
        errors.spanned(
            data.union_token,
            "`#[derive(Event)]` does not support unions: use a struct or an enum",
        );
        shape_ok = false;
    }
    if !input.generics.params.is_empty() {
        errors.spanned(
            &input.generics,
            "`#[derive(Event)]` does not support generic types: an event has one name and one \
             schema, so derive it on a concrete type",
        );
        shape_ok = false;
    } else if let Some(clause) = &input.generics.where_clause {
        errors.spanned(
            clause,
            "`#[derive(Event)]` does not support `where` clauses: remove it",
        );
        shape_ok = false;
    }
    if !shape_ok {
        return errors.to_compile_error();
    }

    let private = args.private();
    let ident = &input.ident;
    let type_name = ident.unraw().to_string();
    let droppable = args.droppable;
    let name = args
        .name
        .as_ref()
        .map_or_else(|| type_name.clone(), syn::LitStr::value);
    let registration = (errors.is_empty() && args.register()).then(|| {
        let line = quote_spanned!(ident.span()=> ::core::line!());
        // The schema is reached through the `Event` bound, not `JsonSchema` directly, and
        // the name is written out instead of read from `Event::NAME`: when the type lacks a
        // supertrait, the `impl` above is then the only place rustc reports it.
        quote! {
            fn __beeflow_schema<E: #private::Event>(
                generator: &mut #private::schemars::SchemaGenerator,
            ) -> #private::schemars::Schema {
                #private::schema_for::<E>(generator)
            }

            #private::inventory::submit! {
                #private::EventDef::new(
                    #name,
                    ::core::concat!(::core::module_path!(), "::", #type_name),
                    __beeflow_schema::<#ident>,
                    #private::Location::new(::core::module_path!(), ::core::file!(), #line),
                )
            }
        }
    });
    let errors = errors.to_compile_error();
    quote! {
        const _: () = {
            impl #private::Event for #ident {
                const NAME: &'static str = #name;
                const DROPPABLE: bool = #droppable;
            }
            #registration
        };
        #errors
    }
}
