use beeflow_core::recipient;

#[recipient(name = "team")]
async fn team(id: String) -> Vec<String> {
    vec![id]
}

fn main() {}
