//! End-to-end conformance: `docs/protocol.md` over real sockets, a real WebSocket client on
//! 127.0.0.1 against real servers, once per adapter.
//!
//! Each test is written once, as `async fn(&dyn Adapter)` in `protocol`, `auth` or
//! `limits`, and `suite!` below instantiates it for every adapter: `axum::auth::...`,
//! `actix::auth::...`. `cargo test -p beeflow-tests --test conformance actix::` runs one
//! adapter. A new test goes into the list; a new adapter is one `impl Adapter` (see
//! `adapters.rs`) and one line in `suite!`.

mod adapters;
mod admission;
mod auth;
mod concurrency;
mod guardrails;
mod lifecycle;
mod limits;
mod protocol;
mod recovery;
mod subscriptions;
mod support;
mod version2;

/// Expands to `mod $adapter { mod $group { #[tokio::test] async fn $test() } }` for one
/// adapter.
macro_rules! instantiate {
    ($adapter:ident = $instance:expr; $($group:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        mod $adapter {
            $(mod $group {
                $(#[tokio::test]
                async fn $test() {
                    crate::$group::$test(&$instance).await;
                })*
            })*
        }
    };
}

/// The adapters every test runs against.
macro_rules! suite {
    ($($tests:tt)*) => {
        instantiate!(axum = crate::adapters::Axum; $($tests)*);
        instantiate!(actix = crate::adapters::Actix; $($tests)*);
    };
}

suite! {
    protocol: [
        health_over_a_real_socket,
        pipelined_requests_are_answered_in_order,
        invalid_messages_get_problems_and_the_connection_stays_open,
        unknown_action_problem_is_exact,
        instance_is_the_path_without_the_query,
        deep_and_huge_payloads_keep_the_connection,
        typed_payloads_streams_and_handler_errors,
        fragmented_messages_are_reassembled,
        pings_get_pongs,
        a_client_close_is_answered_with_a_close,
        invalid_utf8_in_a_text_frame_closes_with_1007,
        invalid_utf8_across_fragments_closes_with_1007,
    ],
    auth: [
        token_in_subprotocol_is_accepted_and_only_the_marker_is_echoed,
        missing_or_wrong_token_is_a_401_problem,
        query_token_is_ignored_unless_opted_in,
        disallowed_origin_is_a_403_problem,
        a_plain_http_request_gets_a_problem_not_an_upgrade,
        other_methods_are_not_allowed,
        quickstart_identity_reaches_handlers,
    ],
    admission: [
        actions_over_the_rate_limit_get_a_429_and_persisting_closes_with_1008,
        upgrades_over_the_per_address_rate_get_a_429_with_retry_after,
        connections_over_the_limits_are_refused_with_problems,
        a_slow_authenticator_gets_a_408,
        a_page_of_another_origin_or_an_unreadable_origin_is_refused,
        shutdown_finishes_the_running_request_then_closes_with_1001,
        shutdown_drops_what_is_still_open_at_the_deadline,
        a_huge_unknown_action_name_is_not_repeated_whole,
        a_connection_that_sends_no_request_is_closed_after_the_handshake_timeout,
        oversized_request_headers_get_a_431_problem,
    ],
    guardrails: [
        a_silent_client_is_pinged_then_closed_with_1011,
        a_client_that_answers_pings_stays_connected,
        an_unfinished_frame_is_closed_with_1008,
        pongs_between_fragments_do_not_extend_a_message,
        a_client_that_pipelines_more_than_its_queue_holds_gets_every_reply,
        a_stream_to_a_reading_client_is_paced_not_closed,
        a_client_that_stops_reading_is_dropped_after_the_write_timeout,
    ],
    concurrency: [
        a_slow_concurrent_request_does_not_hold_up_later_ones,
        at_most_the_limit_of_concurrent_requests_run_at_once,
        a_shutdown_lets_running_concurrent_requests_finish,
    ],
    lifecycle: [
        the_connect_hook_joins_groups_and_stores_state_for_handlers,
        the_connect_hook_refuses_with_its_problem,
        the_disconnect_hook_runs_once_however_a_connection_ends,
    ],
    version2: [
        beeflow_v2_is_selected_when_offered_and_never_the_token,
        every_v2_request_ends_with_one_completion_or_problem,
        a_v1_client_gets_no_completion,
    ],
    subscriptions: [
        patterns_reach_exactly_the_groups_they_match,
        an_event_reaches_a_connection_once_however_many_ways_it_matches,
        subscriptions_are_denied_without_a_hook_and_by_it,
        malformed_topics_and_the_limit_get_problems,
        a_v1_client_does_not_see_the_built_ins,
        presence_is_a_snapshot_then_joins_and_leaves,
    ],
    recovery: [
        a_client_that_comes_back_recovers_what_it_missed,
        a_recovery_that_cannot_be_complete_replays_nothing,
        v2_frames_carry_the_position_and_the_event_id_and_v1_frames_do_not,
        a_user_recovers_its_own_stream,
        events_published_during_a_recovery_are_neither_lost_nor_doubled,
    ],
    limits: [
        a_message_over_the_limit_closes_with_1009,
        fragments_over_the_limit_close_with_1009,
        the_default_limit_is_above_one_mebibyte,
    ],
}
