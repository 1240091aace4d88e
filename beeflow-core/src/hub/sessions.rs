//! The SSE sessions of this node (`docs/protocol.md` §7): where an action POSTed for a
//! stream's connection is handed to the task that runs the connection, whichever node the
//! POST arrived at.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::recipient::ConnectionId;

/// What a stream's connection was given to reach it: its id and a secret, which the POST
/// must name together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionKey {
    pub(crate) connection: ConnectionId,
    pub(crate) secret: Uuid,
}

impl SessionKey {
    /// `<connection id>~<secret>`: what the stream announces and a POST names.
    pub(crate) fn render(&self) -> String {
        format!("{}~{}", self.connection.as_str(), self.secret.simple())
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (connection, secret) = text.rsplit_once('~')?;
        Some(Self {
            connection: ConnectionId::new(connection),
            secret: Uuid::try_parse(secret).ok()?,
        })
    }
}

/// Why a forwarded action was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotForwarded {
    /// No session of this node has the key (ended, or never was).
    Unknown,
    /// The session's action queue is full.
    Busy,
}

struct Session {
    secret: Uuid,
    /// The stream's user: a POST must come from the same one.
    user: Option<Box<str>>,
    actions: mpsc::Sender<String>,
}

/// Every SSE session of this node, by connection.
#[derive(Default)]
pub(crate) struct Sessions {
    sessions: Mutex<HashMap<ConnectionId, Session>>,
}

impl Sessions {
    /// Registers a session for `connection`; actions for it arrive on the returned
    /// receiver, at most `capacity` waiting.
    pub(crate) fn open(
        &self,
        connection: &ConnectionId,
        user: Option<&str>,
        capacity: usize,
    ) -> (SessionKey, mpsc::Receiver<String>) {
        let (actions, receiver) = mpsc::channel(capacity.max(1));
        let secret = Uuid::new_v4();
        let user = user.map(Into::into);
        let session = Session {
            secret,
            user,
            actions,
        };
        self.lock().insert(connection.clone(), session);
        let key = SessionKey {
            connection: connection.clone(),
            secret,
        };
        (key, receiver)
    }

    pub(crate) fn close(&self, connection: &ConnectionId) {
        self.lock().remove(connection);
    }

    /// Hands `action` (an envelope's text), sent by `user`, to the session `key` names.
    pub(crate) fn forward(
        &self,
        key: &SessionKey,
        user: Option<&str>,
        action: String,
    ) -> Result<(), NotForwarded> {
        let sessions = self.lock();
        let session = sessions
            .get(&key.connection)
            .filter(|session| session.secret == key.secret && session.user.as_deref() == user)
            .ok_or(NotForwarded::Unknown)?;
        session
            .actions
            .try_send(action)
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => NotForwarded::Busy,
                mpsc::error::TrySendError::Closed(_) => NotForwarded::Unknown,
            })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Session>> {
        self.sessions.lock().expect("sessions lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_needs_its_secret_and_its_session() {
        let sessions = Sessions::default();
        let connection = ConnectionId::new("node.1");
        let (key, mut actions) = sessions.open(&connection, Some("ada"), 1);
        assert_eq!(SessionKey::parse(&key.render()), Some(key.clone()));
        let forged = SessionKey {
            secret: Uuid::new_v4(),
            ..key.clone()
        };
        let ada = Some("ada");
        assert_eq!(
            sessions.forward(&forged, ada, "x".into()),
            Err(NotForwarded::Unknown)
        );
        assert_eq!(
            sessions.forward(&key, Some("bob"), "x".into()),
            Err(NotForwarded::Unknown)
        );
        assert_eq!(
            sessions.forward(&key, None, "x".into()),
            Err(NotForwarded::Unknown)
        );
        assert_eq!(sessions.forward(&key, ada, "a".into()), Ok(()));
        assert_eq!(
            sessions.forward(&key, ada, "b".into()),
            Err(NotForwarded::Busy)
        );
        assert_eq!(actions.try_recv().unwrap(), "a");
        sessions.close(&connection);
        assert_eq!(
            sessions.forward(&key, ada, "c".into()),
            Err(NotForwarded::Unknown)
        );
        assert_eq!(SessionKey::parse("no-secret"), None);
    }
}
