//! A chat node process for the multi-node tests: `chat-node REDIS_URL`. Serves on a free
//! loopback port and prints `listening ADDR node ID` once it accepts connections.

use std::io::Write as _;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis_url = std::env::args()
        .nth(1)
        .ok_or("usage: chat-node REDIS_URL")?;
    example_multi_node::serve(0, &redis_url, Duration::from_secs(3600), |addr, node| {
        println!("listening {addr} node {node}");
        let _ = std::io::stdout().flush();
    })
    .await
}
