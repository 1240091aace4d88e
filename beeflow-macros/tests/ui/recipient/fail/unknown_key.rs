use beeflow_core::{ConnectionId, recipient};

#[recipient(name = "team", kind = "team")]
async fn team(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

fn main() {}
