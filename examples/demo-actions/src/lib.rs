//! The quickstarts' demo application, shared by every adapter's quickstart
//! (`example-quickstart` on axum, `example-actix-quickstart` on actix-web): the demo
//! actions, the demo token and the handshake policy. No web framework here.
//!
//! The actions register themselves through `inventory` when this crate is linked; calling
//! [`dispatcher`] (or anything else from it) makes sure it is.

pub mod actions;

use beeflow_core::{
    BuildError, Dispatcher, HandshakePolicy, HandshakeRequest, Problem, RateLimits,
};

/// The token the demo accepts in the `access-token` subprotocol.
pub const DEMO_TOKEN: &str = "demo-token";

/// The demo's dispatcher: every linked action, problem `type`s under
/// `problem_type_base_url` (`None`: `about:blank`), and the production defaults, except that
/// `BEEFLOW_RATE_LIMIT=off` in the environment turns the rate limits off (for load tests
/// and benchmarks).
///
/// # Errors
///
/// A duplicate action, event or recipient name among the linked crates.
pub fn dispatcher(problem_type_base_url: Option<&str>) -> Result<Dispatcher, BuildError> {
    let mut dispatcher = Dispatcher::builder().rate_limits(rate_limits());
    if let Some(base) = problem_type_base_url {
        dispatcher = dispatcher.problem_type_base(base);
    }
    dispatcher.build()
}

/// The rate limits the environment asks for: the defaults, or none at all with
/// `BEEFLOW_RATE_LIMIT=off`.
pub fn rate_limits() -> RateLimits {
    match std::env::var("BEEFLOW_RATE_LIMIT").as_deref() {
        Ok("off") => RateLimits::off(),
        _ => RateLimits::default(),
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: when a server should shut down gracefully.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            // Without a handler, Ctrl-C still works.
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Installs the Prometheus recorder every metric of beeflow goes to, and returns the handle
/// that renders them as Prometheus text (`GET /metrics` in the quickstarts). Call it before
/// building the dispatcher: the dispatcher takes its metric handles from the recorder in
/// place then.
///
/// # Panics
///
/// When another recorder is installed already.
pub fn install_metrics() -> metrics_exporter_prometheus::PrometheusHandle {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    // Action durations as a histogram with buckets rather than the exporter's default
    // summary: buckets add up across nodes (quantiles do not), and folding a sample into a
    // bucket costs a fraction of inserting it into a summary.
    const DURATION_BUCKETS: [f64; 12] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("beeflow_action_duration_seconds".into()),
            &DURATION_BUCKETS,
        )
        .expect("the bucket list is not empty")
        .install_recorder()
        .expect("no other metrics recorder is installed");
    // Without the exporter's own HTTP listener, histograms are folded in by hand.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    handle
}

/// Logs warnings and errors to stderr (`RUST_LOG` overrides), so that what beeflow warns
/// about (a broker that lost deliveries, a handler that panicked) is seen.
pub fn install_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The demo's handshake policy: [`DEMO_TOKEN`] authenticates as user `demo`, any other
/// token is refused with 401, and connections without a token are guests.
pub fn policy() -> HandshakePolicy {
    HandshakePolicy::deny_all()
        .authenticate(|request: HandshakeRequest| async move {
            match request.token() {
                Some(DEMO_TOKEN) => Ok(actions::User {
                    name: "demo".to_owned(),
                }),
                _ => Err(Problem::unauthenticated()),
            }
        })
        // A demo must be reachable from any client without setting up tokens first, so
        // guests are let in explicitly. A real application leaves this out: the default
        // denies every connection its authenticator does not accept.
        .allow_guests()
}

/// What the AsyncAPI document says about a quickstart serving these actions on
/// `127.0.0.1:port`; `command` is how that quickstart is started.
pub fn asyncapi_info(port: u16, command: &str) -> beeflow_core::schema::AsyncApiInfo {
    use beeflow_core::schema::{AsyncApiInfo, Server};
    AsyncApiInfo::new("beeflow quickstart", env!("CARGO_PKG_VERSION"))
        .with_description(
            "The beeflow demo server: typed actions, a streamed reply, a handler error and \
             authentication with guests allowed. Offer the subprotocols `access-token` and \
             `demo-token` to connect as user `demo`.",
        )
        .with_path("/ws/")
        .with_server(
            "local",
            Server::ws(format!("127.0.0.1:{port}")).with_description(format!("`{command}`")),
        )
}

/// What a quickstart prints once it listens on `address`.
pub fn banner(address: std::net::SocketAddr) -> String {
    format!(
        "beeflow quickstart listening on ws://{address}/ws/
talk to it with any WebSocket client, e.g. `websocat ws://{address}/ws/`, and send:
  {{\"msg_id\":\"00000000-0000-4000-8000-000000000001\",\"req_id\":\"00000000-0000-4000-8000-000000000002\",\"action\":\"health\",\"payload\":{{}}}}
actions: health {{}}, echo {{\"text\"}}, countdown {{\"from\": 1..10}}, fail {{}}, whoami {{}}
guests are allowed; authenticate with subprotocols [\"access-token\", \"{DEMO_TOKEN}\"]
schemas: http://{address}/schema/asyncapi.json and http://{address}/schema/schema.json
metrics (Prometheus text): http://{address}/metrics"
    )
}
