//! The opt-in schema routes of both adapters, over real sockets.

use beeflow_core::schema::{AsyncApiInfo, Server, render};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` with HTTP/1.1; returns the status line, the headers (lower-cased names) and
/// the body.
async fn get(address: std::net::SocketAddr, path: &str) -> (String, Vec<(String, String)>, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    &headers.iter().find(|(n, _)| n == name).unwrap().1
}

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
    let (status, headers, body) = get(address, "/schema/asyncapi.json").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_eq!(body, render(&dispatcher.registry().asyncapi(info)));

    let (status, headers, body) = get(address, "/schema/schema.json?v=1").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_eq!(body, render(&dispatcher.registry().json_schema_bundle()));

    let (status, headers, body) = get(address, "/schema/openapi.json").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert_eq!(header(&headers, "content-type"), "application/problem+json");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "unknown_schema_document");
    assert_eq!(problem["status"], 404);
    assert_eq!(
        problem["type"],
        "https://example.com/problems/unknown-schema-document"
    );
    assert_eq!(problem["instance"], "/schema/openapi.json");
}
