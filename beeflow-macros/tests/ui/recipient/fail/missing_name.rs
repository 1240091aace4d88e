use beeflow_core::{ConnectionId, recipient};

#[recipient]
async fn team(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

fn main() {}
