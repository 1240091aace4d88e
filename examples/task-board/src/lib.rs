//! A collaborative task board: users join boards, add tasks and assign them to each other;
//! an HTTP endpoint pushes announcements. A template for a real application: actions, one
//! shared state, an identity from the handshake, a connection hook, a REST route beside
//! the socket, and the schemas for the frontend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State as HttpState};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use beeflow_axum::Endpoint;
use beeflow_core::schema::AsyncApiInfo;
use beeflow_core::{
    ActionContext, BuildError, DisconnectContext, Dispatcher, Emit, Event, HandshakePolicy,
    HandshakeRequest, Identity, Problem, Recipient, State, action,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Every board's tasks: their titles by board and task id.
#[derive(Debug, Clone, Default)]
pub struct Tasks(Arc<Mutex<HashMap<(String, Uuid), String>>>);

#[derive(Deserialize, JsonSchema)]
struct JoinBoard {
    #[schemars(length(min = 1, max = 64))]
    board: String,
}

/// You joined a board: its events reach you from now on.
#[derive(Serialize, JsonSchema, Event)]
#[event(name = "board.joined")]
struct BoardJoined {
    board: String,
}

/// Joins a board.
#[action(name = "board.join")]
async fn join_board(payload: JoinBoard, cx: ActionContext) -> BoardJoined {
    cx.join(&payload.board);
    BoardJoined {
        board: payload.board,
    }
}

#[derive(Deserialize, JsonSchema)]
struct AddTask {
    board: String,
    #[schemars(length(min = 1, max = 100))]
    title: String,
}

/// A task was added to a board.
#[derive(Serialize, JsonSchema, Event)]
#[event(name = "task.added")]
struct TaskAdded {
    board: String,
    task_id: Uuid,
    title: String,
    by: String,
}

/// Adds a task to a board; everyone on the board hears of it.
#[action(name = "task.add", emits(TaskAdded))]
async fn add_task(
    payload: AddTask,
    Identity(by): Identity<String>,
    State(tasks): State<Tasks>,
) -> Result<Emit, Problem> {
    let task_id = Uuid::new_v4();
    let key = (payload.board.clone(), task_id);
    tasks.0.lock().unwrap().insert(key, payload.title.clone());
    let added = TaskAdded {
        board: payload.board.clone(),
        task_id,
        title: payload.title,
        by,
    };
    Emit::to(Recipient::group(payload.board), &added)
}

#[derive(Deserialize, JsonSchema)]
struct AssignTask {
    board: String,
    task_id: Uuid,
    user: String,
}

/// A task was assigned to a user.
#[derive(Serialize, JsonSchema, Event)]
#[event(name = "task.assigned")]
struct TaskAssigned {
    board: String,
    task_id: Uuid,
    user: String,
    by: String,
}

/// Assigns a task; the assignee and everyone on the board hear of it, once each.
#[action(name = "task.assign", emits(TaskAssigned), problems("unknown_task"))]
async fn assign_task(
    payload: AssignTask,
    Identity(by): Identity<String>,
    State(tasks): State<Tasks>,
) -> Result<Emit, Problem> {
    let key = (payload.board.clone(), payload.task_id);
    if !tasks.0.lock().unwrap().contains_key(&key) {
        return Err(
            Problem::new(404, "unknown_task", "unknown-task", "Unknown task")
                .with_detail(format!("Board '{}' has no task {}.", key.0, key.1)),
        );
    }
    let to = Recipient::user(payload.user.clone()).and(Recipient::group(payload.board.clone()));
    let assigned = TaskAssigned {
        board: payload.board,
        task_id: payload.task_id,
        user: payload.user,
        by,
    };
    Emit::to(to, &assigned)
}

/// An announcement pushed to a board over HTTP.
#[derive(Serialize, JsonSchema, Event)]
#[event(name = "announcement")]
struct Announcement {
    board: String,
    text: String,
}

#[derive(Deserialize)]
struct Announce {
    text: String,
}

/// `POST /boards/{board}/announce {"text": ...}`: answers how many connections it reached.
async fn announce(
    HttpState(dispatcher): HttpState<Dispatcher>,
    Path(board): Path<String>,
    uri: Uri,
    Json(body): Json<Announce>,
) -> Response {
    let event = Announcement {
        board: board.clone(),
        text: body.text,
    };
    match dispatcher.emit(Recipient::group(board), &event).await {
        Ok(report) => Json(json!({ "delivered": report.delivered })).into_response(),
        Err(problem) => beeflow_axum::problem(&dispatcher, &problem, uri.path()),
    }
}

/// The dispatcher: every action linked in, the task store, a log line per disconnect.
///
/// # Errors
///
/// A wiring mistake (see [`BuildError`]).
pub fn dispatcher() -> Result<Dispatcher, BuildError> {
    Dispatcher::builder()
        .state(Tasks::default())
        .on_disconnect(|cx: &DisconnectContext<'_>| {
            let boards: Vec<&str> = cx.groups().collect();
            tracing::info!(user = cx.user_id(), ?boards, "disconnected");
        })
        .build()
}

/// The router: the socket at `/ws/`, the announce route, and the schemas at
/// `/schema/asyncapi.json` and `/schema/schema.json`.
pub fn app(dispatcher: &Dispatcher) -> Router {
    // Demo tokens; a real application verifies a signed token here.
    let policy = HandshakePolicy::deny_all().authenticate(|request: HandshakeRequest| async move {
        match request.token() {
            Some("alice-token") => Ok("alice".to_owned()),
            Some("bob-token") => Ok("bob".to_owned()),
            _ => Err(Problem::unauthenticated()),
        }
    });
    let info = AsyncApiInfo::new("Task board", "1.0.0");
    Router::new()
        .route(
            "/ws/",
            Endpoint::new(dispatcher.clone())
                .policy(policy)
                .into_route(),
        )
        .route(
            "/schema/{document}",
            beeflow_axum::schema_route(dispatcher, &info),
        )
        .route("/boards/{board}/announce", post(announce))
        .with_state(dispatcher.clone())
}
