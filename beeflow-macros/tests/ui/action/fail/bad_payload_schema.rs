use beeflow_core::action;

#[derive(serde::Deserialize)]
struct NoSchema {
    text: String,
}

#[action(name = "echo")]
async fn echo(payload: NoSchema) {
    let _ = payload.text;
}

fn main() {}
