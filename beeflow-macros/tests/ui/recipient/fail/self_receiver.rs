use beeflow_core::{ConnectionId, recipient};

struct Teams;

impl Teams {
    #[recipient(name = "team")]
    async fn team(self, id: String) -> Vec<ConnectionId> {
        vec![ConnectionId::new(id)]
    }
}

fn main() {}
