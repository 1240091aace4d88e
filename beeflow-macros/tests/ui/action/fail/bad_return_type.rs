use beeflow_core::action;

#[action(name = "echo")]
async fn echo() -> String {
    String::new()
}

fn main() {}
