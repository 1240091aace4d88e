use beeflow_core::action;

#[action(name = "echo")]
async fn echo<P: serde::de::DeserializeOwned>(payload: P) {
    let _ = payload;
}

fn main() {}
