//! The quickstart server: `cargo run -p example-quickstart`.
//!
//! Serves `ws://127.0.0.1:$PORT/ws/` (PORT defaults to 3000), and its schemas at
//! `http://127.0.0.1:$PORT/schema/asyncapi.json` and `.../schema/schema.json`. Problem
//! `type` URLs start with `$BEEFLOW_PROBLEM_TYPE_BASE_URL` (unset: `about:blank`).
//! Everything is in memory.
//!
//! `cargo run -p example-quickstart -- schema asyncapi|json [--out FILE]` writes the AsyncAPI
//! 3.0 document or the JSON Schema bundle to stdout (or FILE) instead of serving. TypeScript
//! types come from the bundle (a file or the URL above) by `npx beeflow-codegen` of the
//! TypeScript client (`clients/typescript`).

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;

use beeflow_core::Registry;
use beeflow_core::schema::{AsyncApiInfo, render};
use example_quickstart::app;

const USAGE: &str = "usage: example-quickstart [schema asyncapi|json [--out FILE]]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {port:?}"))?,
        Err(_) => 3000,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        None => serve(port).await,
        Some((command, rest)) if command == "schema" => schema(port, rest),
        Some(_) => Err(USAGE.into()),
    }
}

/// What the AsyncAPI document says about the quickstart.
fn info(port: u16) -> AsyncApiInfo {
    example_demo_actions::asyncapi_info(port, "cargo run -p example-quickstart")
}

/// `schema <kind> [--out FILE]`.
fn schema(port: u16, args: &[String]) -> Result<(), Box<dyn Error>> {
    let (kind, out) = match args {
        [kind] => (kind.as_str(), None),
        [kind, flag, file] if flag == "--out" => (kind.as_str(), Some(PathBuf::from(file))),
        _ => return Err(USAGE.into()),
    };
    // Linking the demo actions registers them; the registry is the one `app()` serves.
    let registry = Registry::global()?;
    let text = match kind {
        "asyncapi" => render(&registry.asyncapi(&info(port))),
        "json" => render(&registry.json_schema_bundle()),
        _ => return Err(USAGE.into()),
    };
    match out {
        Some(file) => {
            if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(file, text)?;
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

async fn serve(port: u16) -> Result<(), Box<dyn Error>> {
    example_demo_actions::install_logging();
    let metrics = example_demo_actions::install_metrics();
    let base = std::env::var("BEEFLOW_PROBLEM_TYPE_BASE_URL").ok();
    let dispatcher = example_demo_actions::dispatcher(base.as_deref())?;
    // Prometheus text of every metric beeflow records.
    let app = app(&dispatcher, port).route(
        "/metrics",
        axum::routing::get(move || std::future::ready(metrics.render())),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{}", example_demo_actions::banner(listener.local_addr()?));
    // TCP_NODELAY, the request-head timeout, client addresses and the graceful shutdown
    // (WebSockets closed with 1001 first) on Ctrl-C and SIGTERM.
    let report = beeflow_axum::serve(
        listener,
        app,
        dispatcher,
        example_demo_actions::shutdown_signal(),
    )
    .await?;
    println!(
        "shut down: {} connections closed, {} dropped",
        report.closed, report.dropped
    );
    Ok(())
}
