//! `crate = path` reaches the core through a renamed import or a re-export.

use beeflow_core as bf;

mod reexport {
    pub use beeflow_core as beeflow;
}

#[bf::action(name = "renamed", crate = bf, register = false)]
async fn renamed() {}

#[reexport::beeflow::action(name = "reexported", crate = crate::reexport::beeflow, register = false)]
async fn reexported() {}

#[reexport::beeflow::action(name = "quoted", crate = "crate::reexport::beeflow", register = false)]
async fn quoted() {}

fn main() {
    let registry = bf::Registry::builder()
        .action::<renamed>()
        .action::<reexported>()
        .action::<quoted>()
        .build()
        .unwrap();
    assert_eq!(registry.action("renamed").unwrap().name, "renamed");
}
