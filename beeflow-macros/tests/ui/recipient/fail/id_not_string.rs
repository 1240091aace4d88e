use beeflow_core::{ConnectionId, recipient};

#[recipient(name = "team")]
async fn team(id: u64) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id.to_string())]
}

fn main() {}
