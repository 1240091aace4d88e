//! Resolvers: the functions that turn a recipient of an application-registered type into
//! connection ids, and how they are registered.

use std::future::Future;
use std::pin::Pin;

use crate::context::{Requirement, ResolveContext};
use crate::location::Location;
use crate::problem::{IntoProblem, Problem};
use crate::recipient::ConnectionId;

/// The future a resolver returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = Result<Vec<ConnectionId>, Problem>> + Send>>;

/// A type-erased resolver: the recipient id in, connection ids out.
pub type Resolve = fn(ResolveContext, String) -> ResolveFuture;

/// How a recipient type is registered: its name and its resolver.
///
/// Built by `#[recipient]`; read it through [`Registry::resolver`](crate::Registry::resolver).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ResolverDef {
    /// The recipient type name, sent as `recipient`.
    pub name: &'static str,
    /// Resolves a recipient id into connection ids.
    pub resolve: Resolve,
    /// Where the resolver was defined.
    pub location: Location,
    /// What the resolver's arguments need from the dispatcher.
    pub requirements: fn() -> Vec<Requirement>,
}

impl ResolverDef {
    /// Builds the registration; the macros' generated code calls it. Not public API: use
    /// the macros, or the registry builder.
    #[doc(hidden)]
    pub const fn new(name: &'static str, resolve: Resolve, location: Location) -> Self {
        Self {
            name,
            resolve,
            location,
            requirements: Vec::new,
        }
    }

    /// Sets what the resolver's arguments need; the macros' generated code calls it.
    #[doc(hidden)]
    #[must_use]
    pub const fn with_requirements(mut self, requirements: fn() -> Vec<Requirement>) -> Self {
        self.requirements = requirements;
        self
    }
}

inventory::collect!(ResolverDef);

/// The type handle `#[recipient]` generates for a resolver, used to register it explicitly
/// with [`RegistryBuilder::resolver`](crate::registry::RegistryBuilder::resolver).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a recipient resolver",
    note = "annotate an `async fn` with `#[beeflow_core::recipient(name = \"...\")]` and pass its name"
)]
pub trait Resolver {
    /// The resolver's registration.
    const DEF: &'static ResolverDef;
}

/// What a `#[recipient]` resolver may return: connection ids, or a `Result` of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid `#[recipient]` return type",
    note = "a recipient resolver returns `Vec<ConnectionId>` or `Result<Vec<ConnectionId>, E>` where `E: IntoProblem`"
)]
pub trait IntoConnections {
    /// Performs the conversion.
    ///
    /// # Errors
    ///
    /// The resolver's own error, as a problem.
    fn into_connections(self) -> Result<Vec<ConnectionId>, Problem>;
}

impl IntoConnections for Vec<ConnectionId> {
    fn into_connections(self) -> Result<Vec<ConnectionId>, Problem> {
        Ok(self)
    }
}

impl<E: IntoProblem> IntoConnections for Result<Vec<ConnectionId>, E> {
    fn into_connections(self) -> Result<Vec<ConnectionId>, Problem> {
        self.map_err(IntoProblem::into_problem)
    }
}
