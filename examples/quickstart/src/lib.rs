//! The quickstart server's application: the endpoint and its demo actions, shared by the
//! binary (`cargo run -p example-quickstart`), the end-to-end tests and the benchmarks.

pub mod actions;

use axum::Router;
use beeflow_axum::Endpoint;
use beeflow_core::Dispatcher;
use beeflow_core::handshake::{HandshakePolicy, HandshakeRequest, unauthenticated};

/// The token the demo accepts in the `access-token` subprotocol.
pub const DEMO_TOKEN: &str = "demo-token";

/// The quickstart's router: the beeflow endpoint at `/ws/`, problem `type`s under `base`
/// (`None`: `about:blank`).
///
/// # Errors
///
/// A duplicate action, event or recipient name among the linked crates.
pub fn app(problem_type_base_url: Option<&str>) -> Result<Router, beeflow_core::RegistryError> {
    let mut dispatcher = Dispatcher::builder();
    if let Some(base) = problem_type_base_url {
        dispatcher = dispatcher.problem_type_base_url(base);
    }
    let policy = HandshakePolicy::deny_all()
        .authenticate(|request: HandshakeRequest| async move {
            match request.token() {
                Some(DEMO_TOKEN) => Ok(actions::User {
                    name: "demo".to_owned(),
                }),
                _ => Err(unauthenticated()),
            }
        })
        // A demo must be reachable from any client without setting up tokens first, so
        // guests are let in explicitly. A real application leaves this out: the default
        // denies every connection its authenticator does not accept.
        .allow_guests();
    let endpoint = Endpoint::new(dispatcher.build()?).policy(policy);
    Ok(Router::new().route("/ws/", endpoint.into_route()))
}
