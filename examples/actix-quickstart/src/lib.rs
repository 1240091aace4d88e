//! The actix quickstart's application: the endpoint serving the shared demo actions
//! (`example-demo-actions`), used by the binary (`cargo run -p example-actix-quickstart`),
//! the end-to-end tests and the benchmarks.

use actix_web::web::ServiceConfig;
use beeflow_actix::Endpoint;
use beeflow_core::Dispatcher;

pub use example_demo_actions::{DEMO_TOKEN, actions};

/// The quickstart's application as an actix `configure` function: the beeflow endpoint at
/// `/ws/`, its AsyncAPI document and JSON Schema bundle at `/schema/asyncapi.json` and
/// `/schema/schema.json` (describing a server on `127.0.0.1:port`), problem `type`s under
/// `problem_type_base_url` (`None`: `about:blank`).
///
/// Mount it with `App::new().configure(app.clone())` in the `HttpServer` factory, which
/// runs once per worker.
///
/// # Errors
///
/// A duplicate action, event or recipient name among the linked crates.
pub fn app(
    dispatcher: &Dispatcher,
    port: u16,
) -> impl Fn(&mut ServiceConfig) + Clone + Send + 'static {
    let info = example_demo_actions::asyncapi_info(port, "cargo run -p example-actix-quickstart");
    let schema = (dispatcher.clone(), info);
    let endpoint = Endpoint::new(dispatcher.clone()).policy(example_demo_actions::policy());
    move |config: &mut ServiceConfig| {
        config.service(endpoint.clone().into_resource("/ws/"));
        config.service(endpoint.clone().into_sse_resource("/sse/"));
        config.service(beeflow_actix::schema_resource(
            &schema.0,
            &schema.1,
            "/schema/{document}",
        ));
    }
}
