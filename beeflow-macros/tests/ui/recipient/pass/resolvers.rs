//! Resolvers with extractors and every return shape.

use beeflow_core::{ConnectionId, IntoProblem, Problem, ResolveContext, State, recipient};

#[derive(Clone)]
struct Db;

#[derive(Debug)]
struct DbError;

impl IntoProblem for DbError {
    fn into_problem(self) -> Problem {
        Problem::new(503, "db_down", "db-down", "Database unavailable")
    }
}

/// Everyone in a team.
#[recipient(name = "team", register = false)]
async fn team(id: String, State(_db): State<Db>, _cx: ResolveContext) -> Result<Vec<ConnectionId>, DbError> {
    Ok(vec![ConnectionId::new(id)])
}

#[recipient(name = "nobody", register = false)]
async fn nobody(_id: String) -> Vec<ConnectionId> {
    Vec::new()
}

#[recipient(name = "problem", register = false)]
async fn problem(_id: String) -> Result<Vec<ConnectionId>, Problem> {
    Err(Problem::action_failed())
}

fn main() {
    let registry = beeflow_core::Registry::builder()
        .resolver::<team>()
        .resolver::<nobody>()
        .resolver::<problem>()
        .build()
        .unwrap();
    assert_eq!(registry.resolver("team").unwrap().name, "team");
    assert!(registry.resolver("nobody").is_some());
}
