//! The two ways to reach Redis, behind one face: a single server (or a primary with
//! replicas), with one multiplexed connection for commands and one for pub/sub; or a Redis
//! Cluster, with one cluster connection that routes each command by its key and brings
//! sharded pub/sub messages as RESP3 pushes.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::try_join_all;
use redis::aio::{ConnectionLike, MultiplexedConnection, PubSubSink, PubSubStream};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Msg, Pipeline, PushInfo, PushKind, RedisFuture, RedisResult, Value};
use tokio::sync::mpsc;

/// Where Redis is.
pub(super) enum Client {
    Single(redis::Client),
    /// The cluster's seed nodes: a fresh client per session, so each has its own pushes.
    Cluster(Arc<[String]>),
}

impl Client {
    pub(super) fn single(url: &str) -> RedisResult<Self> {
        redis::Client::open(url).map(Self::Single)
    }

    pub(super) fn cluster(nodes: Vec<String>) -> RedisResult<Self> {
        // Checked now, so a bad address is an error of the constructor, not of every retry.
        ClusterClientBuilder::new(nodes.clone()).build()?;
        Ok(Self::Cluster(nodes.into()))
    }

    /// Whether channels are sharded (`SPUBLISH`, `SSUBSCRIBE`) and keys grouped by slot.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// A connection for commands and a subscriber beside it.
    pub(super) async fn connect(&self) -> RedisResult<(Connection, Subscriber)> {
        match self {
            Self::Single(client) => {
                let commands = client.get_multiplexed_async_connection().await?;
                let (sink, stream) = client.get_async_pubsub().await?.split();
                Ok((
                    Connection::Single(commands),
                    Subscriber::Single { sink, stream },
                ))
            }
            Self::Cluster(nodes) => {
                let (pushes, receiver) = mpsc::unbounded_channel();
                let client = ClusterClientBuilder::new(nodes.to_vec())
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(pushes)
                    .build()?;
                let connection = client.get_async_connection().await?;
                Ok((
                    Connection::Cluster(connection.clone()),
                    Subscriber::Cluster {
                        connection,
                        pushes: receiver,
                    },
                ))
            }
        }
    }
}

/// A connection for commands, cheap to clone.
#[derive(Clone)]
pub(super) enum Connection {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(cmd, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Subscriptions, and the messages they bring.
pub(super) enum Subscriber {
    Single {
        sink: PubSubSink,
        stream: PubSubStream,
    },
    Cluster {
        connection: ClusterConnection,
        pushes: mpsc::UnboundedReceiver<PushInfo>,
    },
}

impl Subscriber {
    /// Subscribes to `channels`: in one `SUBSCRIBE`, or in a cluster one `SSUBSCRIBE` per
    /// channel (each may live on another shard), all on their way at once.
    pub(super) async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Self::Single { sink, .. } => sink.subscribe(channels).await,
            Self::Cluster { connection, .. } => {
                let subscriptions = channels.iter().map(|channel| {
                    let mut connection = connection.clone();
                    async move { connection.ssubscribe(channel).await }
                });
                try_join_all(subscriptions).await.map(drop)
            }
        }
    }

    pub(super) async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Self::Single { sink, .. } => sink.unsubscribe(channel).await,
            Self::Cluster { connection, .. } => connection.sunsubscribe(channel).await,
        }
    }

    /// Subscribes to the channels matching `globs`. In a cluster these are the classic
    /// channels group events are also published on for patterns (sharded pub/sub has none).
    pub(super) async fn psubscribe(&mut self, globs: &[String]) -> RedisResult<()> {
        match self {
            Self::Single { sink, .. } => sink.psubscribe(globs).await,
            Self::Cluster { connection, .. } => connection.psubscribe(globs).await,
        }
    }

    pub(super) async fn punsubscribe(&mut self, glob: &str) -> RedisResult<()> {
        match self {
            Self::Single { sink, .. } => sink.punsubscribe(glob).await,
            Self::Cluster { connection, .. } => connection.punsubscribe(glob).await,
        }
    }

    /// The next message; an error when a connection it came on was lost (what was published
    /// meanwhile is lost to this node).
    pub(super) async fn next(&mut self) -> RedisResult<Msg> {
        let closed = || redis::RedisError::from((redis::ErrorKind::Io, "subscription closed"));
        match self {
            Self::Single { stream, .. } => stream.next().await.ok_or_else(closed),
            Self::Cluster { pushes, .. } => loop {
                let push = pushes.recv().await.ok_or_else(closed)?;
                if push.kind == PushKind::Disconnection {
                    return Err(closed());
                }
                // Confirmations of (un)subscriptions are not messages.
                if let Some(message) = Msg::from_push_info(push) {
                    return Ok(message);
                }
            },
        }
    }
}
