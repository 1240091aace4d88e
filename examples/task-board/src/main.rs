//! `cargo run -p example-task-board`: serves the task board on `ws://127.0.0.1:$PORT/ws/`
//! (`PORT` defaults to 3000) until Ctrl-C.

use std::error::Error;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt::init();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |port| port.parse())?;
    let dispatcher = example_task_board::dispatcher()?;
    let app = example_task_board::app(&dispatcher);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("task board on ws://{}/ws/", listener.local_addr()?);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    beeflow_axum::serve(listener, app, dispatcher, shutdown).await?;
    Ok(())
}
