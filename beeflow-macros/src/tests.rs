//! Expansion checks that compile tests cannot make: what the generated code names.

use proc_macro2::TokenStream;
use quote::quote;

fn expand_action(args: TokenStream, item: TokenStream) -> String {
    crate::action::expand(args, item).to_string()
}

#[test]
fn crate_override_replaces_every_core_path() {
    let item = quote!(
        async fn echo(p: P, s: State<Db>) -> Echoed {
            todo!()
        }
    );
    let action = expand_action(quote!(name = "echo", crate = ::my::bf), item);
    let recipient = crate::recipient::expand(
        quote!(name = "team", crate = ::my::bf),
        quote!(
            async fn team(id: String, s: State<Db>) -> Vec<ConnectionId> {
                todo!()
            }
        ),
    )
    .to_string();
    let input = syn::parse_quote!(
        #[event(crate = ::my::bf)]
        struct Joined {}
    );
    let event = crate::event::expand(&input).to_string();
    for output in [action, recipient, event] {
        assert!(!output.contains("beeflow_core"), "{output}");
        assert!(output.contains(":: my :: bf :: __private ::"), "{output}");
        assert!(output.contains("inventory :: submit"), "{output}");
    }
}

#[test]
fn register_false_skips_the_submission() {
    let output = expand_action(
        quote!(name = "echo", register = false),
        quote!(
            async fn echo() {}
        ),
    );
    assert!(!output.contains("inventory"), "{output}");
    assert!(
        output.contains("impl :: beeflow_core :: __private :: Action for echo"),
        "{output}"
    );
}

#[test]
fn an_error_keeps_the_function_and_skips_the_submission() {
    let output = expand_action(
        quote!(name = ""),
        quote!(
            async fn echo() {}
        ),
    );
    assert!(output.contains("async fn echo ()"), "{output}");
    assert!(output.contains("compile_error"), "{output}");
    assert!(!output.contains("inventory"), "{output}");
}

#[test]
fn generated_items_are_prefixed() {
    let output = expand_action(
        quote!(name = "echo"),
        quote!(
            async fn echo(p: P, c: C) {}
        ),
    );
    for ident in output.split(|c: char| !c.is_alphanumeric() && c != '_') {
        if ident.starts_with('_') && ident != "_" && ident != "__private" {
            let ident = ident.to_lowercase();
            assert!(ident.starts_with("__beeflow_"), "{ident}");
        }
    }
}
