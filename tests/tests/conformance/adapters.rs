//! The adapters under test. Each one only knows how to start a server; every test in the
//! suite runs against each of them (see the `suite!` list in `main.rs`).
//!
//! A new adapter is one `impl Adapter` with one function, `spawn`, plus its line in
//! `suite!`. Override `quickstart` only when the adapter has a quickstart example of its own.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use beeflow_core::Dispatcher;
use beeflow_core::HandshakePolicy;

use crate::support::{Server, TIMEOUT};

/// Starts servers of one web framework on 127.0.0.1:0.
pub(crate) trait Adapter {
    /// Serves `dispatcher` at `/ws/` behind `policy` until the returned [`Server`] drops.
    fn spawn(&self, dispatcher: Dispatcher, policy: HandshakePolicy) -> Server;

    /// The adapter's quickstart example, problem `type`s under `base`. By default, the
    /// shared demo dispatcher and policy through [`Adapter::spawn`].
    fn quickstart(&self, base: Option<&str>) -> Server {
        let dispatcher = example_demo_actions::dispatcher(base).expect("no duplicate names");
        self.spawn(dispatcher, example_demo_actions::policy())
    }
}

/// `beeflow-axum`, served on the test's own runtime.
pub(crate) struct Axum;

impl Adapter for Axum {
    fn spawn(&self, dispatcher: Dispatcher, policy: HandshakePolicy) -> Server {
        let endpoint = beeflow_axum::Endpoint::new(dispatcher.clone()).policy(policy);
        serve_axum(
            axum::Router::new().route("/ws/", endpoint.into_route()),
            dispatcher,
        )
    }

    fn quickstart(&self, base: Option<&str>) -> Server {
        let dispatcher = example_demo_actions::dispatcher(base).expect("no duplicate names");
        serve_axum(example_quickstart::app(&dispatcher, 0), dispatcher)
    }
}

/// `beeflow-actix`, served by an actix system on a thread of its own.
pub(crate) struct Actix;

impl Adapter for Actix {
    fn spawn(&self, dispatcher: Dispatcher, policy: HandshakePolicy) -> Server {
        let timeout = dispatcher.limits().handshake_timeout();
        let endpoint = beeflow_actix::Endpoint::new(dispatcher).policy(policy);
        serve_actix(
            move |config| {
                config.service(endpoint.clone().into_resource("/ws/"));
            },
            timeout,
        )
    }

    fn quickstart(&self, base: Option<&str>) -> Server {
        let dispatcher = example_demo_actions::dispatcher(base).expect("no duplicate names");
        let timeout = dispatcher.limits().handshake_timeout();
        serve_actix(example_actix_quickstart::app(&dispatcher, 0), timeout)
    }
}

/// Serves `app` with `beeflow_axum::serve`, as the quickstart does, on the current tokio
/// runtime; the server task is aborted on drop (and its connections end with the test's
/// runtime).
fn serve_axum(app: axum::Router, dispatcher: Dispatcher) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("address");
    let listener = tokio::net::TcpListener::from_std(listener).expect("inside a runtime");
    let serving = beeflow_axum::serve(listener, app, dispatcher, std::future::pending());
    let task = tokio::spawn(serving);
    Server::new(addr, AbortOnDrop(task.abort_handle()))
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `configure` with one worker on a thread running its own actix system, with the
/// request-head timeout the quickstart sets; stopped (not gracefully) and joined on drop.
fn serve_actix<F>(configure: F, request_timeout: Duration) -> Server
where
    F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
{
    let (started, addr) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new().configure(configure.clone())
            })
            .workers(1)
            .disable_signals()
            .tcp_nodelay(true)
            .client_request_timeout(request_timeout)
            .bind(("127.0.0.1", 0))
            .expect("bind");
            let addr: SocketAddr = server.addrs()[0];
            let server = server.run();
            started
                .send((addr, server.handle()))
                .expect("the test waits");
            let _ = server.await;
        });
    });
    let (addr, handle) = addr.recv_timeout(TIMEOUT).expect("actix server started");
    Server::new(
        addr,
        StopActix {
            handle,
            thread: Some(thread),
        },
    )
}

struct StopActix {
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Drop for StopActix {
    fn drop(&mut self) {
        // The stop command is sent at once; the returned future only reports completion.
        drop(self.handle.stop(false));
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !thread.is_finished() {
            if Instant::now() > deadline {
                assert!(
                    std::thread::panicking(),
                    "the actix server did not stop within 5 s"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = thread.join();
    }
}
