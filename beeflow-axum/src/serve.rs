//! Serving a router with what a WebSocket server needs from its HTTP server: a bound on
//! the time a client has to send its request, the client's address for the per-address
//! limits, `TCP_NODELAY`, and a graceful shutdown that closes every WebSocket with 1001
//! first. `axum::serve` has none of the first two: a client that opens a TCP connection
//! and sends nothing holds it forever.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use beeflow_core::{Dispatcher, ShutdownReport};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service;

/// The most of a request head hyper buffers; the core's own limit
/// (`Limits::max_header_bytes`) is below it.
const REQUEST_HEAD_BUFFER: usize = 1 << 20;

/// How long plain HTTP requests still running at shutdown get to finish, after the
/// WebSocket connections are closed.
const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `signal` resolves, then shuts down gracefully:
/// stops accepting, runs [`Dispatcher::shutdown`] on `dispatcher` (every WebSocket closed
/// with 1001 once its running request is done, within
/// [`Dispatcher::DEFAULT_SHUTDOWN_DEADLINE`]), and lets plain HTTP requests finish.
///
/// Every connection must send its request head within the dispatcher's
/// [`handshake_timeout`](beeflow_core::Limits::handshake_timeout), or is closed; each
/// request carries the client's address as `ConnectInfo<SocketAddr>`, which the
/// [`Endpoint`](crate::Endpoint) uses for the per-address upgrade limit; sockets are set
/// to `TCP_NODELAY`.
///
/// ```no_run
/// # async fn run(app: axum::Router, dispatcher: beeflow_core::Dispatcher) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// let stop = async {
///     let _ = tokio::signal::ctrl_c().await;
/// };
/// let report = beeflow_axum::serve(listener, app, dispatcher, stop).await?;
/// println!("closed {} connections, dropped {}", report.closed, report.dropped);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// Never while serving (a failed accept is retried after a pause); the `io::Result` is for
/// symmetry with `axum::serve`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    dispatcher: Dispatcher,
    signal: impl Future<Output = ()> + Send,
) -> io::Result<ShutdownReport> {
    let header_timeout = dispatcher.limits().handshake_timeout();
    // Every connection task holds a receiver: `closed` resolves once they have all ended.
    let (stop, stopping) = watch::channel(false);
    let mut signal = std::pin::pin!(signal);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut signal => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most often: wait for some to close instead of
                // spinning on the error.
                eprintln!("accepting a connection failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            let mut router = router.clone();
            async move { router.call(request.map(Body::new)).await }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            // Larger than hyper's default (about 400 KiB), so that an oversized request is
            // refused by the core, with a Problem, up to this size.
            .max_buf_size(REQUEST_HEAD_BUFFER)
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            // A client that hangs up or times out ends its connection; nothing to report.
            let mut connection = std::pin::pin!(connection);
            let stop = async {
                // The guard `wait_for` returns must not live across an await.
                let _ = stopping.wait_for(|stop| *stop).await.map(drop);
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    drop(stopping);
    let report = dispatcher
        .shutdown(Dispatcher::DEFAULT_SHUTDOWN_DEADLINE)
        .await;
    let _ = stop.send(true);
    let _ = tokio::time::timeout(HTTP_DRAIN, stop.closed()).await;
    Ok(report)
}
