//! The opt-in schema routes of both adapters, over real sockets.

use beeflow_core::schema::{AsyncApiInfo, Server, render};
use beeflow_tests::http;

fn dispatcher_and_info() -> (beeflow_core::Dispatcher, AsyncApiInfo) {
    let dispatcher =
        example_demo_actions::dispatcher(Some("https://example.com/problems")).unwrap();
    let info =
        AsyncApiInfo::new("quickstart", "1.0.0").with_server("local", Server::ws("localhost"));
    (dispatcher, info)
}

#[tokio::test]
async fn the_axum_route_serves_both_documents_and_problems() {
    let (dispatcher, info) = dispatcher_and_info();
    let app = axum::Router::new().route(
        "/schema/{document}",
        beeflow_axum::schema_route(&dispatcher, &info),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    check_documents(address, &dispatcher, &info).await;
}

#[tokio::test]
async fn the_actix_resource_serves_both_documents_and_problems() {
    let (dispatcher, info) = dispatcher_and_info();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (served, handle) = (dispatcher.clone(), info.clone());
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new().service(beeflow_actix::schema_resource(
                    &served,
                    &handle,
                    "/schema/{document}",
                ))
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
            stop_tx.send(server.handle()).unwrap();
            server.await.unwrap();
        });
    });
    let handle = stop_rx.recv().unwrap();
    check_documents(address, &dispatcher, &info).await;
    handle.stop(false).await;
    server.join().unwrap();
}

async fn check_documents(
    address: std::net::SocketAddr,
    dispatcher: &beeflow_core::Dispatcher,
    info: &AsyncApiInfo,
) {
    let response = http::get(address, "/schema/asyncapi.json").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.body, render(&dispatcher.registry().asyncapi(info)));

    let response = http::get(address, "/schema/schema.json?v=1").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.body,
        render(&dispatcher.registry().json_schema_bundle())
    );

    let response = http::get(address, "/schema/openapi.json").await;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let problem = response.json();
    assert_eq!(problem["code"], "unknown_schema_document");
    assert_eq!(problem["status"], 404);
    assert_eq!(
        problem["type"],
        "https://example.com/problems/unknown-schema-document"
    );
    assert_eq!(problem["instance"], "/schema/openapi.json");
}
