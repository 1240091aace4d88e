//! The actix quickstart server: `cargo run -p example-actix-quickstart`.
//!
//! The same contract as the axum quickstart: serves `ws://127.0.0.1:$PORT/ws/` (PORT
//! defaults to 3000), and its schemas at `http://127.0.0.1:$PORT/schema/asyncapi.json` and
//! `.../schema/schema.json`. Problem `type` URLs start with `$BEEFLOW_PROBLEM_TYPE_BASE_URL`
//! (unset: `about:blank`). Everything is in memory.

use actix_web::{App, HttpServer};
use example_actix_quickstart::app;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {port:?}"))?,
        Err(_) => 3000,
    };
    example_demo_actions::install_logging();
    let metrics = example_demo_actions::install_metrics();
    let base = std::env::var("BEEFLOW_PROBLEM_TYPE_BASE_URL").ok();
    let dispatcher = example_demo_actions::dispatcher(base.as_deref())?;
    let app = app(&dispatcher, port);
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new().configure(app.clone()).route(
            // Prometheus text of every metric beeflow records.
            "/metrics",
            actix_web::web::get().to(move || std::future::ready(metrics.render())),
        )
    })
    // Replies are small writes: without TCP_NODELAY, Nagle's algorithm holds them back
    // behind delayed ACKs (up to ~40 ms) whenever a client pipelines requests.
    .tcp_nodelay(true)
    // The request head must arrive within the handshake timeout.
    .client_request_timeout(dispatcher.limits().handshake_timeout())
    // Signals are handled below, so the WebSockets close with 1001 before the server
    // stops; actix's own handling would wait for them, then drop them.
    .disable_signals()
    .bind(("127.0.0.1", port))?;
    println!("{}", example_demo_actions::banner(server.addrs()[0]));
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        example_demo_actions::shutdown_signal().await;
        let report = dispatcher
            .shutdown(beeflow_core::Dispatcher::DEFAULT_SHUTDOWN_DEADLINE)
            .await;
        println!(
            "shut down: {} connections closed, {} dropped",
            report.closed, report.dropped
        );
        handle.stop(true).await;
    });
    server.await?;
    Ok(())
}
