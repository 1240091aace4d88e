use beeflow_core::{ConnectionId, recipient};

#[recipient(name = "team")]
fn team(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

fn main() {}
