use beeflow_core::action;

#[action(name = "echo")]
async fn echo(payload: impl serde::de::DeserializeOwned) {
    let _ = payload;
}

fn main() {}
