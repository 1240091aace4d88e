//! A first parameter that is neither a payload nor a context extractor the macro knows
//! names what an action's first parameter may be.

use beeflow_core::action;

struct Database;

#[action(name = "list")]
async fn list(db: Database) {
    let _ = db;
}

fn main() {}
