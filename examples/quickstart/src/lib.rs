//! The quickstart server's application: the endpoint serving the shared demo actions
//! (`example-demo-actions`), used by the binary (`cargo run -p example-quickstart`), the
//! end-to-end tests and the benchmarks.

use axum::Router;
use beeflow_axum::Endpoint;
use beeflow_core::Dispatcher;

pub use example_demo_actions::{DEMO_TOKEN, actions};

/// The quickstart's router: the beeflow endpoint at `/ws/`, its AsyncAPI document and JSON
/// Schema bundle at `/schema/asyncapi.json` and `/schema/schema.json` (describing a server
/// on `127.0.0.1:port`), problem `type`s under `problem_type_base_url` (`None`:
/// `about:blank`).
///
/// # Errors
///
/// A duplicate action, event or recipient name among the linked crates.
pub fn app(dispatcher: &Dispatcher, port: u16) -> Router {
    let info = example_demo_actions::asyncapi_info(port, "cargo run -p example-quickstart");
    let schemas = beeflow_axum::schema_route(dispatcher, &info);
    let endpoint = Endpoint::new(dispatcher.clone()).policy(example_demo_actions::policy());
    Router::new()
        .route("/ws/", endpoint.clone().into_route())
        .route("/sse/", endpoint.into_sse_route())
        .route("/schema/{document}", schemas)
}
