use beeflow_core::{ConnectionId, recipient};

#[recipient(name = "team", register = false, register = false)]
async fn team(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

fn main() {}
