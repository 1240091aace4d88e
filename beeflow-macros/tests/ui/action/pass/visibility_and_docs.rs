//! The handle has the fn's visibility; multi-line docs become the description; raw
//! identifiers work.

mod handlers {
    use beeflow_core::action;

    /// First line.
    ///
    ///   Indented line.
    #[action(name = "documented", register = false)]
    pub async fn documented() {}

    #[action(name = "type", register = false)]
    pub(crate) async fn r#type() {}

    #[doc = "Made with"]
    #[doc = concat!(" concat", "!")]
    #[action(name = "concat_doc", register = false)]
    pub async fn concat_doc() {}
}

fn main() {
    let registry = beeflow_core::Registry::builder()
        .action::<handlers::documented>()
        .action::<handlers::r#type>()
        .action::<handlers::concat_doc>()
        .build()
        .unwrap();
    assert_eq!(
        registry.action("documented").unwrap().description,
        "First line.\n\n  Indented line."
    );
    assert_eq!(registry.action("type").unwrap().description, "");
    assert_eq!(registry.action("concat_doc").unwrap().description, "Made with\n concat!");
    let _ = handlers::documented();
}
