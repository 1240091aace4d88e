//! What the application tells the AsyncAPI document about itself: title, version, where the
//! endpoint is served.

use std::collections::BTreeMap;

/// The application's part of an AsyncAPI document: its title and version, an optional
/// description, the WebSocket path, and the servers it runs on.
///
/// ```
/// use beeflow_core::schema::{AsyncApiInfo, Server};
///
/// let info = AsyncApiInfo::new("Chat", "1.2.0")
///     .with_description("Rooms and direct messages.")
///     .with_path("/ws/")
///     .with_server("production", Server::wss("chat.example.com"))
///     .with_server("local", Server::ws("127.0.0.1:3000").with_description("`cargo run`"));
/// # let _ = info;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncApiInfo {
    pub(crate) title: String,
    pub(crate) version: String,
    pub(crate) description: Option<String>,
    pub(crate) path: String,
    pub(crate) servers: BTreeMap<String, Server>,
}

impl AsyncApiInfo {
    /// Information with a title and a version of the application's API (not of beeflow);
    /// the WebSocket path defaults to `/ws/` and there are no servers.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            version: version.into(),
            description: None,
            path: "/ws/".to_owned(),
            servers: BTreeMap::new(),
        }
    }

    /// Sets the description of the application (CommonMark).
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the path the WebSocket endpoint is served at (the channel address).
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Adds a server under `name` (e.g. `production`); a second server with the same name
    /// replaces the first. Servers are listed by name.
    #[must_use]
    pub fn with_server(mut self, name: impl Into<String>, server: Server) -> Self {
        self.servers.insert(name.into(), server);
        self
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The version of the application's API.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The WebSocket path.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// A server the endpoint runs on: a host (with port, if any) and `ws` or `wss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub(crate) host: String,
    pub(crate) protocol: String,
    pub(crate) description: Option<String>,
}

impl Server {
    /// A plain-text WebSocket server (`ws://host`).
    pub fn ws(host: impl Into<String>) -> Self {
        Self::new("ws", host)
    }

    /// A TLS WebSocket server (`wss://host`).
    pub fn wss(host: impl Into<String>) -> Self {
        Self::new("wss", host)
    }

    /// A server speaking `protocol` (an AsyncAPI protocol name such as `ws` or `wss`) at
    /// `host`, e.g. `example.com` or `127.0.0.1:3000`.
    pub fn new(protocol: impl Into<String>, host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            protocol: protocol.into(),
            description: None,
        }
    }

    /// Sets the description of this server (CommonMark).
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}
