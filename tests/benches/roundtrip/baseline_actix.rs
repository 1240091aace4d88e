//! The actix baseline: a minimal hand-written actix-ws server answering `health` in the
//! same wire format, with no framework (see `baseline_health.rs` for what it does with a
//! frame). Like the beeflow adapter it answers pings and close frames itself
//! and uses beeflow's default message limits, so the comparison measures the framework.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, Session};
use beeflow_core::Limits;

use crate::baseline_health::Connection;

pub(crate) fn configure(config: &mut ServiceConfig) {
    config.route("/ws/", web::get().to(upgrade));
}

async fn upgrade(request: HttpRequest, body: web::Payload) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&request, body)?;
    let limits = Limits::default();
    let stream = stream
        .max_frame_size(limits.max_frame_size())
        .aggregate_continuations()
        .max_continuation_size(limits.max_message_size());
    actix_web::rt::spawn(serve(session, stream));
    Ok(response)
}

async fn serve(mut session: Session, mut stream: AggregatedMessageStream) {
    let mut connection = Connection::new();
    while let Some(Ok(message)) = stream.recv().await {
        let text = match message {
            AggregatedMessage::Text(text) => text,
            AggregatedMessage::Ping(data) => {
                let _ = session.pong(&data).await;
                continue;
            }
            AggregatedMessage::Close(reason) => {
                let _ = session.close(reason).await;
                return;
            }
            _ => continue,
        };
        let Some(reply) = connection.answer(&text) else {
            continue;
        };
        if session.text(reply).await.is_err() {
            return;
        }
    }
}
