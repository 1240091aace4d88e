//! The chat example: `cargo run -p example-chat`, then open http://127.0.0.1:3000/ in two
//! browser tabs.
//!
//! `PORT` changes the port (default 3000); `CHAT_CLOCK_SECS` the clock period (default 10).

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    example_demo_actions::install_logging();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let clock_secs: u64 = std::env::var("CHAT_CLOCK_SECS").map_or(Ok(10), |p| p.parse())?;
    let dispatcher = example_chat::dispatcher().build()?;
    example_chat::spawn_clock(dispatcher.clone(), Duration::from_secs(clock_secs.max(1)));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    println!("beeflow chat on http://{address}/ (open it in two tabs)");
    println!(
        "announce to everyone: curl -X POST -H 'content-type: application/json' -d '{{\"text\":\"hi\"}}' http://{address}/announce"
    );
    example_chat::serve(listener, dispatcher).await?;
    Ok(())
}
