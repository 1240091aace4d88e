//! Every return shape `IntoEvents` accepts.

use beeflow_core::{Emit, Event, EventStream, IntoProblem, Problem, Recipient, action};
use serde::Serialize;

#[derive(Serialize, schemars::JsonSchema, Event)]
#[event(register = false)]
struct Tick {
    n: u32,
}

#[derive(Debug)]
struct MyError;

impl IntoProblem for MyError {
    fn into_problem(self) -> Problem {
        Problem::new(409, "conflict", "conflict", "Conflict")
    }
}

#[action(name = "unit", register = false)]
async fn unit() {}

#[action(name = "explicit_unit", register = false)]
async fn explicit_unit() -> () {}

#[action(name = "event", register = false)]
async fn event() -> Tick {
    Tick { n: 1 }
}

#[action(name = "vec", register = false)]
async fn vec() -> Vec<Tick> {
    vec![Tick { n: 1 }, Tick { n: 2 }]
}

#[action(name = "result", register = false)]
async fn result() -> Result<Tick, MyError> {
    Err(MyError)
}

#[action(name = "problem", register = false)]
async fn problem() -> Result<Vec<Emit>, Problem> {
    Ok(vec![Emit::to(Recipient::new("team", "red"), &Tick { n: 1 })?])
}

#[action(name = "emit", register = false)]
async fn emit() -> Result<Emit, Problem> {
    Emit::reply(&Tick { n: 1 })
}

#[action(name = "stream", register = false)]
async fn stream() -> EventStream {
    EventStream::new(futures_util::stream::iter([Tick { n: 1 }, Tick { n: 2 }]))
}

#[action(name = "result_stream", register = false)]
async fn result_stream() -> Result<EventStream, MyError> {
    Ok(EventStream::new(futures_util::stream::iter(Vec::<Tick>::new())))
}

#[action(name = "opaque", register = false)]
async fn opaque() -> impl beeflow_core::handler::IntoEvents {
    Tick { n: 1 }
}

fn main() {
    beeflow_core::Registry::builder()
        .action::<unit>()
        .action::<explicit_unit>()
        .action::<event>()
        .action::<vec>()
        .action::<result>()
        .action::<problem>()
        .action::<emit>()
        .action::<stream>()
        .action::<result_stream>()
        .action::<opaque>()
        .build()
        .unwrap();
}
