use beeflow_core::{ConnectionId, recipient};

#[recipient(name = "team")]
async fn team<'a>(id: String) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

fn main() {}
