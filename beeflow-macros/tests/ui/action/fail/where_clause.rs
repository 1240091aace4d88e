use beeflow_core::action;

#[action(name = "echo")]
async fn echo()
where
    String: Clone,
{
}

fn main() {}
