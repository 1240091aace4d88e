use beeflow_core::recipient;

#[recipient(name = "team")]
impl Clone for Team {
    fn clone(&self) -> Self {
        Team
    }
}

struct Team;

fn main() {}
