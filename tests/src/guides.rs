//! The guides' Rust code, compiled and run as doctests of this crate, so the guides cannot
//! drift from the API. A snippet that cannot run here is marked `no_run` (a server that
//! would listen forever, a broker that would connect to Redis) or, if it cannot even
//! compile, `rust,ignore`, with the reason beside it in the guide.
//!
//! Every guide is included, also those without Rust code: a code block left untagged is
//! compiled as Rust, so a shell or JSON block that lost its tag fails here instead of
//! rendering as broken Rust.
//!
//! All snippets end up in one merged doctest binary, so the `#[action]`s of different
//! guides share one global registry there. A snippet that builds a dispatcher therefore
//! names its registry explicitly (`Registry::builder()`, usually on a hidden line).

#[doc = include_str!("../../README.md")]
struct Readme;

#[doc = include_str!("../../docs/README.md")]
struct Guides;

#[doc = include_str!("../../docs/actions.md")]
struct Actions;

#[doc = include_str!("../../docs/adapters.md")]
struct Adapters;

#[doc = include_str!("../../docs/architecture.md")]
struct Architecture;

#[doc = include_str!("../../docs/backpressure.md")]
struct Backpressure;

#[doc = include_str!("../../docs/benchmarks.md")]
struct Benchmarks;

#[doc = include_str!("../../docs/errors.md")]
struct Errors;

#[doc = include_str!("../../docs/guardrails.md")]
struct Guardrails;

#[doc = include_str!("../../docs/lifecycle.md")]
struct Lifecycle;

#[doc = include_str!("../../docs/events.md")]
struct Events;

#[doc = include_str!("../../docs/protocol.md")]
struct Protocol;

#[doc = include_str!("../../docs/recipients.md")]
struct Recipients;

#[doc = include_str!("../../docs/scaling.md")]
struct Scaling;

#[doc = include_str!("../../docs/schema.md")]
struct Schema;

#[doc = include_str!("../../docs/testing.md")]
struct Testing;

#[doc = include_str!("../../examples/README.md")]
struct Examples;

#[doc = include_str!("../../examples/multi-node/README.md")]
struct MultiNode;
