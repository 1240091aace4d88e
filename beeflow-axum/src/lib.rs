//! beeflow adapter for axum 0.8.
//!
//! Not written yet: this crate reserves its place in the workspace. Until it lands, drive a
//! [`beeflow_core::Session`] directly or use [`beeflow_core::testing::TestClient`].
