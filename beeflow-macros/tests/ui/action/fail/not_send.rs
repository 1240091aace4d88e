use beeflow_core::action;

async fn tick() {}

#[action(name = "echo")]
async fn echo() {
    let counter = std::rc::Rc::new(1);
    tick().await;
    let _ = counter;
}

fn main() {}
