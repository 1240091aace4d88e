use beeflow_core::action;

#[derive(schemars::JsonSchema)]
struct NotDeserialize {
    text: String,
}

#[action(name = "echo")]
async fn echo(payload: NotDeserialize) {
    let _ = payload.text;
}

fn main() {}
