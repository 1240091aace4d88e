use beeflow_core::{ConnectionId, Identity, recipient};

#[derive(Clone)]
struct User;

#[recipient(name = "team")]
async fn team(id: String, _user: Identity<User>) -> Vec<ConnectionId> {
    vec![ConnectionId::new(id)]
}

fn main() {}
