use beeflow_core::action;

struct Db;

#[action(name = "echo")]
async fn echo(_payload: serde_json::Value, db: Db) {
    let _ = db;
}

fn main() {}
