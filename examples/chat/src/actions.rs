//! The chat's actions and events: rooms are groups, whispers go to users.

use beeflow_core::{ActionContext, Emit, Event, Problem, Recipient, action};
use serde::{Deserialize, Serialize};

/// The group every chat connection joins; the clock and announcements go to it.
pub const EVERYONE: &str = "everyone";

/// A room to join or leave.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RoomRequest {
    /// The room name, 1 to 64 characters.
    pub room: String,
}

/// Joins a room: its messages arrive from now on.
#[action(name = "join_room")]
pub async fn join_room(payload: RoomRequest, cx: ActionContext) -> Result<Joined, Problem> {
    let room = valid_room(payload.room)?;
    cx.join(&room);
    Ok(Joined { room })
}

/// Leaves a room.
#[action(name = "leave_room")]
pub async fn leave_room(payload: RoomRequest, cx: ActionContext) -> Result<Left, Problem> {
    let room = valid_room(payload.room)?;
    cx.leave(&room);
    Ok(Left { room })
}

/// The requester joined a room.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "joined")]
pub struct Joined {
    /// The room.
    pub room: String,
}

/// The requester left a room.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "left")]
pub struct Left {
    /// The room.
    pub room: String,
}

/// A message for a room.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SayRequest {
    /// The room (the sender need not be in it).
    pub room: String,
    /// 1 to 500 characters.
    pub text: String,
}

/// A message in a room, sent to every member on every node.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "message")]
pub struct Message {
    /// The room.
    pub room: String,
    /// Who wrote it.
    pub from: String,
    /// What they wrote.
    pub text: String,
}

/// Says something in a room.
#[action(name = "say")]
pub async fn say(payload: SayRequest, cx: ActionContext) -> Result<Emit, Problem> {
    let room = valid_room(payload.room)?;
    let text = valid_text(payload.text)?;
    let from = cx.user_id().unwrap_or("guest").to_owned();
    Emit::to(
        Recipient::group(room.clone()),
        &Message { room, from, text },
    )
}

/// A private message.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WhisperRequest {
    /// The user to send it to (every one of their connections gets it).
    pub to: String,
    /// 1 to 500 characters.
    pub text: String,
}

/// A private message, sent to every connection of the addressed user.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "whisper")]
pub struct Whisper {
    /// Who wrote it.
    pub from: String,
    /// What they wrote.
    pub text: String,
}

/// Sends a private message to a user.
#[action(name = "whisper")]
pub async fn whisper(payload: WhisperRequest, cx: ActionContext) -> Result<Emit, Problem> {
    let text = valid_text(payload.text)?;
    let from = cx.user_id().unwrap_or("guest").to_owned();
    Emit::to(Recipient::user(payload.to), &Whisper { from, text })
}

/// The server's clock, pushed to everyone by a timer.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "clock", droppable)]
pub struct Clock {
    /// Seconds since the Unix epoch.
    pub unix_seconds: u64,
}

/// An announcement posted over HTTP, pushed to everyone.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "announcement")]
pub struct Announcement {
    /// The announcement.
    pub text: String,
}

fn invalid(detail: String) -> Problem {
    Problem::new(
        422,
        "invalid_chat_input",
        "invalid-chat-input",
        "Invalid chat input",
    )
    .with_detail(detail)
}

fn valid_room(room: String) -> Result<String, Problem> {
    match room.chars().count() {
        1..=64 => Ok(room),
        n => Err(invalid(format!(
            "'room' must have 1 to 64 characters, not {n}."
        ))),
    }
}

fn valid_text(text: String) -> Result<String, Problem> {
    match text.chars().count() {
        1..=500 => Ok(text),
        n => Err(invalid(format!(
            "'text' must have 1 to 500 characters, not {n}."
        ))),
    }
}
