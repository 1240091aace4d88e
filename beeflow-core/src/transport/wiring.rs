//! The check an adapter runs when it mounts an endpoint: do the handlers' `Identity<T>`
//! arguments match what the handshake policy authenticates connections as? Only the
//! adapter holds both the dispatcher and the policy, so this cannot happen in
//! `DispatcherBuilder::build`.

use std::fmt;

use crate::context::Requirement;
use crate::dispatch::Dispatcher;
use crate::handshake::HandshakePolicy;

/// An action that takes an identity the handshake policy never gives: every request to it
/// would fail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdentityMismatch {
    /// The action's name.
    pub action: &'static str,
    /// The identity type the action takes (`Identity<T>` or `Option<Identity<T>>`).
    pub wanted: &'static str,
    /// The type the policy authenticates connections as; `None` when it admits only guests.
    pub authenticated: Option<&'static str>,
}

impl fmt::Display for IdentityMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (action, wanted) = (self.action, self.wanted);
        match self.authenticated {
            Some(authenticated) => write!(
                f,
                "action `{action}` takes `Identity<{wanted}>`, but the handshake policy \
                 authenticates connections as `{authenticated}`: its requests will fail with \
                 `identity_mismatch` (500)"
            ),
            None => write!(
                f,
                "action `{action}` takes `Identity<{wanted}>`, but the handshake policy admits \
                 only guests: its requests will fail with `unauthenticated` (401)"
            ),
        }
    }
}

/// Finds the actions of `dispatcher` whose `Identity<T>` arguments `policy` can never
/// satisfy, and logs each at error level. Adapters call it when an endpoint gets its policy,
/// so the mistake shows at start-up rather than as a 401 or 500 on every request.
pub fn check_policy(dispatcher: &Dispatcher, policy: &HandshakePolicy) -> Vec<IdentityMismatch> {
    let authenticated = policy.identity_type();
    // A policy that admits nobody serves no request: nothing to check.
    if authenticated.is_none() && !policy.admits_guests() {
        return Vec::new();
    }
    let mut mismatches = Vec::new();
    for def in dispatcher.registry().actions() {
        for requirement in (def.requirements)() {
            let Requirement::IdentityOf(wanted) = requirement else {
                continue;
            };
            if authenticated.is_some_and(|authenticated| authenticated.id() == wanted.id()) {
                continue;
            }
            let mismatch = IdentityMismatch {
                action: def.name,
                wanted: wanted.name(),
                authenticated: authenticated.map(|key| key.name()),
            };
            tracing::error!("{mismatch}");
            mismatches.push(mismatch);
        }
    }
    mismatches
}
