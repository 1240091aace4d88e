//! A chat node on Redis: `REDIS_URL=redis://127.0.0.1:6379/ PORT=3001 cargo run -p
//! example-multi-node`, and again with `PORT=3002` in a second terminal.

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    example_demo_actions::install_logging();
    let port: u16 = std::env::var("PORT").map_or(Ok(3001), |p| p.parse())?;
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let clock_secs: u64 = std::env::var("CHAT_CLOCK_SECS").map_or(Ok(10), |p| p.parse())?;
    example_multi_node::serve(
        port,
        &redis_url,
        Duration::from_secs(clock_secs.max(1)),
        |addr, node| {
            // The first line is machine-readable: tests read the address from it.
            println!("listening {addr} node {node}");
            println!("beeflow chat node {node} on http://{addr}/ through {redis_url}");
        },
    )
    .await
}
