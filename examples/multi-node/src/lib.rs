//! One node of the multi-node chat: the chat example with its deliveries to other nodes
//! going through Redis. Start two (see this example's README) and they chat across nodes.

use std::time::Duration;

use beeflow_core::broker::RedisBroker;

/// Serves the chat on `127.0.0.1:port` (0: any free port), connected to other nodes through
/// the Redis at `redis_url`, until the process ends. Calls `ready` with the bound address
/// and this node's id once it accepts connections.
///
/// # Errors
///
/// An invalid Redis URL, a port that cannot be bound, or a duplicate registration.
pub async fn serve(
    port: u16,
    redis_url: &str,
    clock: Duration,
    ready: impl FnOnce(std::net::SocketAddr, &str),
) -> Result<(), Box<dyn std::error::Error>> {
    // The one line that makes a node part of a cluster:
    let dispatcher = example_chat::dispatcher()
        .broker(RedisBroker::new(redis_url)?)
        .build()?;
    example_chat::spawn_clock(dispatcher.clone(), clock);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    ready(listener.local_addr()?, dispatcher.node_id());
    example_chat::serve(listener, dispatcher).await?;
    Ok(())
}
