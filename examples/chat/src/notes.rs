//! Each room's notes: a map every member sees change live, kept by a `Synced` state under
//! the key `notes.<room>` and addressed to the room's group.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use beeflow_core::{ActionContext, Event, Problem, Recipient, Synced, action};
use serde::{Deserialize, Serialize};

/// One room's notes: text by name, in name order.
pub type Notes = BTreeMap<String, String>;

/// Every room's notes, by room (a handle: clones share them).
#[derive(Debug, Clone, Default)]
pub struct RoomNotes(Arc<Mutex<HashMap<String, Synced<Notes>>>>);

/// The synced state key of a room's notes.
pub fn notes_key(room: &str) -> String {
    format!("notes.{room}")
}

/// Sets a note of a room, or removes it when `text` is empty.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NoteRequest {
    /// The room.
    pub room: String,
    /// The note's name, 1 to 64 characters.
    pub name: String,
    /// Its text, at most 500 characters; empty removes the note.
    pub text: String,
}

/// The note was set: members see it arrive as a `beeflow.state.patch`.
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "noted")]
pub struct Noted {
    /// How many notes the room has now.
    pub notes: usize,
}

/// Sets or removes a note; every member of the room sees the change within 50 ms.
#[action(name = "note")]
pub async fn note(payload: NoteRequest, cx: ActionContext) -> Result<Noted, Problem> {
    let rooms = rooms(&cx)?;
    let NoteRequest { room, name, text } = payload;
    check(&room, 1..=64, "room")?;
    check(&name, 1..=64, "name")?;
    check(&text, 0..=500, "text")?;
    let mut rooms = rooms.0.lock().expect("notes lock");
    let notes = match rooms.entry(room) {
        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
        std::collections::hash_map::Entry::Vacant(entry) => {
            let key = notes_key(entry.key());
            let to = Recipient::group(entry.key().clone());
            let synced = Synced::new(&cx, key, to, BTreeMap::new()).map_err(failed)?;
            entry.insert(synced)
        }
    };
    if text.is_empty() {
        notes.remove(&name);
    } else {
        notes.insert(name, text);
    }
    notes.sync().map_err(failed)?;
    Ok(Noted { notes: notes.len() })
}

/// Asks for a room's notes as the server holds them now.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReadNotesRequest {
    /// The room.
    pub room: String,
}

/// A room's notes as the server holds them, serialized by the server (sorted by name).
#[derive(Debug, Serialize, schemars::JsonSchema, Event)]
#[event(name = "notes")]
pub struct NotesText {
    /// The notes object, as JSON text.
    pub json: String,
}

/// Reads a room's notes straight from the server's value, not through synced state.
#[action(name = "read_notes")]
pub async fn read_notes(
    payload: ReadNotesRequest,
    cx: ActionContext,
) -> Result<NotesText, Problem> {
    let rooms = rooms(&cx)?;
    let rooms = rooms.0.lock().expect("notes lock");
    let json = match rooms.get(&payload.room) {
        Some(notes) => serde_json::to_string(&**notes).map_err(failed)?,
        None => "{}".to_owned(),
    };
    Ok(NotesText { json })
}

/// The notes of the chat's dispatcher. Read from the context rather than required with
/// `State<RoomNotes>`: another application linking this crate (a test binary, the
/// multi-node example) builds its dispatcher without them, and must still build.
fn rooms(cx: &ActionContext) -> Result<&RoomNotes, Problem> {
    cx.state::<RoomNotes>()
        .ok_or_else(|| failed("this server keeps no room notes"))
}

fn check(value: &str, chars: std::ops::RangeInclusive<usize>, what: &str) -> Result<(), Problem> {
    let n = value.chars().count();
    if chars.contains(&n) {
        return Ok(());
    }
    Err(Problem::new(
        422,
        "invalid_chat_input",
        "invalid-chat-input",
        "Invalid chat input",
    )
    .with_detail(format!(
        "'{what}' must have {} to {} characters, not {n}.",
        chars.start(),
        chars.end()
    )))
}

fn failed(error: impl std::fmt::Display) -> Problem {
    Problem::new(500, "notes_failed", "notes-failed", "Notes failed").with_detail(error.to_string())
}
