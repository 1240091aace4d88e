//! Authenticated identities, in two parts: [`Principal`], the trait the application's own
//! identity type implements (it names the user a connection belongs to), and [`Identity`],
//! the handler argument that hands that value back.
//!
//! The handshake policy's authenticator returns a `Principal`; the connection keeps it,
//! type-erased, with its user id computed once; a handler taking `Identity<T>` gets it back
//! as `T`, and events addressed to `Recipient::user(id)` reach every connection of that user.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use crate::type_key::TypeKey;

/// An authenticated identity. Implement it for the type your authenticator returns; a
/// handler gets the value back with [`Identity<T>`](crate::Identity), and events addressed
/// to [`Recipient::user`](crate::Recipient::user)`(user_id)` reach every connection of it.
///
/// ```
/// use std::borrow::Cow;
/// use beeflow_core::Principal;
///
/// #[derive(Clone)]
/// struct User {
///     id: u64,
///     name: String,
/// }
///
/// impl Principal for User {
///     fn user_id(&self) -> Cow<'_, str> {
///         Cow::Owned(self.id.to_string())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a connection's identity",
    note = "implement `beeflow_core::Principal` for `{Self}`: it says which user the connection belongs to"
)]
pub trait Principal: Send + Sync + 'static {
    /// The id of the user this identity belongs to.
    fn user_id(&self) -> Cow<'_, str>;
}

macro_rules! principal_by_display {
    ($($ty:ty),*) => {$(
        impl Principal for $ty {
            fn user_id(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}

principal_by_display!(u32, u64, i32, i64, uuid::Uuid);

impl Principal for String {
    fn user_id(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl Principal for &'static str {
    fn user_id(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

/// The authenticated identity of the requesting connection, as the application's type `T`
/// (the [`Principal`] its authenticator returned).
///
/// A connection without an identity of type `T` (a guest) gets a 401 Problem; take
/// `Option<Identity<T>>` to serve guests too.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity<T>(pub T);

/// A connection's identity, type-erased, with its user id computed once.
#[derive(Clone)]
pub(crate) struct ErasedIdentity {
    pub(crate) value: Arc<dyn Any + Send + Sync>,
    pub(crate) user_id: Arc<str>,
    /// The application's type, to name it when a handler asks for another.
    pub(crate) type_key: TypeKey,
}

impl ErasedIdentity {
    pub(crate) fn new<I: Principal>(identity: I) -> Self {
        let user_id = identity.user_id().into();
        Self {
            value: Arc::new(identity),
            user_id,
            type_key: TypeKey::of::<I>(),
        }
    }
}
