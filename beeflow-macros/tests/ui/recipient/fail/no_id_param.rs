use beeflow_core::{ConnectionId, recipient};

#[recipient(name = "everyone")]
async fn everyone() -> Vec<ConnectionId> {
    Vec::new()
}

fn main() {}
