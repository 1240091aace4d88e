//! The actix quickstart on a thread of its own (actix runs its own runtime), for the tests
//! that drive it over real sockets.

use std::net::SocketAddr;

/// The actix quickstart serving on an ephemeral loopback port, until [`Self::stop`].
#[derive(Debug)]
pub struct ActixQuickstart {
    /// Where it listens.
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

impl ActixQuickstart {
    /// Starts it with the demo dispatcher (the production defaults).
    ///
    /// # Panics
    ///
    /// When it cannot bind or start.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (handles, handle) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let dispatcher = example_demo_actions::dispatcher(None).expect("dispatcher");
                let app = example_actix_quickstart::app(&dispatcher, addr.port());
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new().configure(app.clone())
                })
                .workers(1)
                .listen(listener)
                .expect("listen")
                .run();
                handles.send(server.handle()).expect("the test waits");
                server.await.expect("serve");
            });
        });
        let handle = handle.recv().expect("the server started");
        Self {
            addr,
            handle,
            thread,
        }
    }

    /// Stops it and waits for its thread.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        tokio::task::spawn_blocking(move || self.thread.join().expect("the server thread"))
            .await
            .expect("joined");
    }
}
