//! The demo actions: a validated typed payload, a stream of events over time, a handler
//! error, and the connection's identity.

use std::borrow::Cow;
use std::time::Duration;

use beeflow_core::{Event, EventStream, Identity, IntoProblem, Principal, Problem, action};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

/// The identity of a connection that authenticated with the demo token.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's name.
    pub name: String,
}

impl Principal for User {
    /// The name: the demo has one user per name.
    fn user_id(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

/// Text to send back.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoRequest {
    /// 1 to 280 characters.
    text: String,
}

/// The echoed text.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "echo")]
pub struct Echoed {
    /// The text the client sent.
    text: String,
}

/// Why an echo was refused.
#[derive(Debug)]
pub enum EchoError {
    /// The text was empty.
    Empty,
    /// The text had this many characters, more than 280.
    TooLong(usize),
}

impl IntoProblem for EchoError {
    fn into_problem(self) -> Problem {
        let problem = Problem::new(
            422,
            "invalid_echo_text",
            "invalid-echo-text",
            "Invalid echo text",
        );
        match self {
            EchoError::Empty => problem.with_detail("'text' must not be empty."),
            EchoError::TooLong(n) => problem.with_detail(format!(
                "'text' has {n} characters; at most 280 are allowed."
            )),
        }
    }
}

/// Sends the text back; it must have 1 to 280 characters.
#[action(name = "echo")]
pub async fn echo(payload: EchoRequest) -> Result<Echoed, EchoError> {
    match payload.text.chars().count() {
        0 => Err(EchoError::Empty),
        n if n > 280 => Err(EchoError::TooLong(n)),
        _ => Ok(Echoed { text: payload.text }),
    }
}

/// Where to count down from.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CountdownRequest {
    /// 1 to 10.
    from: u8,
}

/// One step of a countdown.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "countdown")]
pub struct Tick {
    /// Steps left; 0 is the last event.
    remaining: u8,
}

/// Counts down to zero, one event every 100 ms, each sent as soon as it is due.
#[action(name = "countdown")]
pub async fn countdown(payload: CountdownRequest) -> Result<EventStream, Problem> {
    if !(1..=10).contains(&payload.from) {
        return Err(Problem::new(
            422,
            "invalid_countdown",
            "invalid-countdown",
            "Invalid countdown",
        )
        .with_detail("'from' must be between 1 and 10."));
    }
    let ticks = futures_util::stream::iter((0..=payload.from).rev()).then(|remaining| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Tick { remaining }
    });
    Ok(EventStream::new(ticks))
}

/// An action that always fails, to show a handler error as a Problem.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FailRequest {}

/// Always fails with 503 `demo_unavailable`.
#[action(name = "fail")]
pub async fn fail(_payload: FailRequest) -> Result<(), Problem> {
    Err(Problem::new(
        503,
        "demo_unavailable",
        "demo-unavailable",
        "Demo unavailable",
    )
    .with_detail("This action always fails, to show how handler errors look."))
}

/// Who the connection is.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "whoami")]
pub struct WhoAmI {
    /// The authenticated user's name, or `guest`.
    name: String,
}

/// Empty payload.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WhoAmIRequest {}

/// Tells the connection who it is authenticated as.
#[action(name = "whoami")]
pub async fn whoami(_payload: WhoAmIRequest, user: Option<Identity<User>>) -> WhoAmI {
    WhoAmI {
        name: user.map_or_else(|| "guest".to_owned(), |Identity(user)| user.name),
    }
}
