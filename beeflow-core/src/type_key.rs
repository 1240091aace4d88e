//! A Rust type named at run time, for messages about wiring mistakes.

use std::any::{TypeId, type_name};

/// A Rust type, by id and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeKey {
    id: TypeId,
    name: &'static str,
}

impl TypeKey {
    /// The key of `T`.
    pub fn of<T: ?Sized + 'static>() -> Self {
        Self {
            id: TypeId::of::<T>(),
            name: type_name::<T>(),
        }
    }

    /// The type's id.
    pub fn id(&self) -> TypeId {
        self.id
    }

    /// The type's name, as [`std::any::type_name`] gives it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}
