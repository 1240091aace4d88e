use beeflow_core::action;

struct Service;

impl Service {
    #[action(name = "echo")]
    async fn echo(&self) {}
}

fn main() {}
