//! The registry snapshot: every action, event and recipient type a server knows, built once
//! at startup, names sorted, duplicates rejected; and the records it is built from.

use std::collections::BTreeMap;

pub use crate::action::{ActionDef, Handler, HandlerFuture};
pub use crate::event::EventDef;
pub use crate::location::Location;
pub use crate::resolver::{Resolve, ResolveFuture, ResolverDef};

use crate::action::Action;
use crate::builtin;
use crate::event::Event;
use crate::resolver::Resolver;

/// A registry could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two definitions share one name.
    #[error("{kind} '{name}' is defined twice: at {first} and at {second}")]
    Duplicate {
        /// `action`, `event` or `recipient type`.
        kind: &'static str,
        /// The shared name.
        name: &'static str,
        /// One definition.
        first: Location,
        /// The other definition.
        second: Location,
    },
    /// A name in the `beeflow.` namespace, which the protocol's own built-ins use.
    #[error(
        "{kind} '{name}' at {location}: names starting with `beeflow.` are reserved for beeflow's built-ins"
    )]
    Reserved {
        /// `action`, `event` or `recipient type`.
        kind: &'static str,
        /// The name.
        name: &'static str,
        /// The definition.
        location: Location,
    },
}

/// The prefix of the names beeflow keeps for the protocol's own actions and events.
pub const RESERVED_PREFIX: &str = "beeflow.";

/// Every action, event and recipient type a server dispatches, keyed and sorted by name.
///
/// [`Registry::global`] collects everything the `#[action]`, `#[derive(Event)]` and
/// `#[recipient]` macros registered in the linked crates. Tests build explicit registries
/// with [`Registry::builder`] so they don't depend on global registrations.
///
/// ```
/// use beeflow_core::Registry;
///
/// let registry = Registry::builder().build().unwrap();
/// assert!(registry.action("health").is_some());
/// assert!(registry.resolver("websocket").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, ActionDef>,
    events: BTreeMap<&'static str, EventDef>,
    resolvers: BTreeMap<&'static str, ResolverDef>,
}

impl Registry {
    /// Collects every globally registered action, event and recipient type.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] when two definitions of one kind share a name (the error
    /// names both), [`RegistryError::Reserved`] for a name starting with `beeflow.`.
    pub fn global() -> Result<Self, RegistryError> {
        let mut builder = RegistryBuilder::empty();
        for def in inventory::iter::<ActionDef> {
            builder.add_action(*def)?;
        }
        for def in inventory::iter::<EventDef> {
            builder.add_event(*def)?;
        }
        for def in inventory::iter::<ResolverDef> {
            builder.add_resolver(*def)?;
        }
        Ok(builder.registry)
    }

    /// Starts an explicit registry holding only the built-ins (action `health`, event
    /// `health`, recipient types `websocket`, `user` and `group`).
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::with_builtins()
    }

    /// The action registered under `name`.
    pub fn action(&self, name: &str) -> Option<&ActionDef> {
        self.actions.get(name)
    }

    /// The event registered under `name`.
    pub fn event(&self, name: &str) -> Option<&EventDef> {
        self.events.get(name)
    }

    /// The resolver of the recipient type registered under `name`.
    pub fn resolver(&self, name: &str) -> Option<&ResolverDef> {
        self.resolvers.get(name)
    }

    /// Every action, sorted by name.
    pub fn actions(&self) -> impl ExactSizeIterator<Item = &ActionDef> {
        self.actions.values()
    }

    /// Every event, sorted by name.
    pub fn events(&self) -> impl ExactSizeIterator<Item = &EventDef> {
        self.events.values()
    }

    /// The resolver of every recipient type, sorted by name.
    pub fn resolvers(&self) -> impl ExactSizeIterator<Item = &ResolverDef> {
        self.resolvers.values()
    }
}

/// Builds an explicit [`Registry`]; see [`Registry::builder`].
#[derive(Debug)]
pub struct RegistryBuilder {
    registry: Registry,
    error: Option<RegistryError>,
}

impl RegistryBuilder {
    fn empty() -> Self {
        Self {
            registry: Registry::default(),
            error: None,
        }
    }

    fn with_builtins() -> Self {
        let mut builder = Self::empty();
        builder
            .add_action(builtin::HEALTH_ACTION)
            .and_then(|()| builder.add_event(builtin::HEALTH_EVENT))
            .and_then(|()| builder.add_resolver(builtin::WEBSOCKET_RESOLVER))
            .and_then(|()| builder.add_resolver(builtin::USER_RESOLVER))
            .and_then(|()| builder.add_resolver(builtin::GROUP_RESOLVER))
            .and_then(|()| builder.add_action(builtin::v2::SUBSCRIBE))
            .and_then(|()| builder.add_action(builtin::v2::UNSUBSCRIBE))
            .and_then(|()| builder.add_action(builtin::v2::PRESENCE))
            .and_then(|()| builder.add_action(builtin::v2::RECOVER))
            .and_then(|()| builder.add_event(builtin::v2::PRESENCE_EVENT))
            .and_then(|()| builder.add_event(builtin::v2::JOIN_EVENT))
            .and_then(|()| builder.add_event(builtin::v2::LEAVE_EVENT))
            .expect("built-ins have distinct names");
        #[cfg(feature = "sync")]
        builder
            .add_action(builtin::state::GET)
            .and_then(|()| builder.add_event(builtin::state::PATCH_EVENT))
            .and_then(|()| builder.add_event(builtin::state::SNAPSHOT_EVENT))
            .expect("built-ins have distinct names");
        builder
    }

    /// Adds an action declared with `#[action]` (its generated type handle).
    #[must_use]
    pub fn action<A: Action>(mut self) -> Self {
        self.record(|b| b.add_action(*A::DEF));
        self
    }

    /// Adds an event type.
    #[must_use]
    #[track_caller]
    pub fn event<E: Event>(mut self) -> Self {
        let def = EventDef::of::<E>();
        self.record(|b| b.add_event(def));
        self
    }

    /// Adds a recipient type declared with `#[recipient]` (the resolver's generated type
    /// handle).
    #[must_use]
    pub fn resolver<R: Resolver>(mut self) -> Self {
        self.record(|b| b.add_resolver(*R::DEF));
        self
    }

    /// Finishes the registry.
    ///
    /// # Errors
    ///
    /// The first duplicate name met while adding, naming both definitions, or the first
    /// name in the reserved `beeflow.` namespace.
    pub fn build(self) -> Result<Registry, RegistryError> {
        match self.error {
            Some(err) => Err(err),
            None => Ok(self.registry),
        }
    }

    fn record(&mut self, add: impl FnOnce(&mut Self) -> Result<(), RegistryError>) {
        if self.error.is_none()
            && let Err(err) = add(self)
        {
            self.error = Some(err);
        }
    }

    fn add_action(&mut self, def: ActionDef) -> Result<(), RegistryError> {
        insert(
            &mut self.registry.actions,
            "action",
            def.name,
            def,
            |d| d.location,
            |a, b| a.location == b.location,
        )
    }

    fn add_event(&mut self, def: EventDef) -> Result<(), RegistryError> {
        // Explicit event registrations carry the call site, so the payload type decides
        // whether two registrations are one definition.
        insert(
            &mut self.registry.events,
            "event",
            def.name,
            def,
            |d| d.location,
            |a, b| a.payload_type == b.payload_type,
        )
    }

    fn add_resolver(&mut self, def: ResolverDef) -> Result<(), RegistryError> {
        insert(
            &mut self.registry.resolvers,
            "recipient type",
            def.name,
            def,
            |d| d.location,
            |a, b| a.location == b.location,
        )
    }
}

fn insert<D>(
    map: &mut BTreeMap<&'static str, D>,
    kind: &'static str,
    name: &'static str,
    def: D,
    location: fn(&D) -> Location,
    same_definition: fn(&D, &D) -> bool,
) -> Result<(), RegistryError> {
    // beeflow's own built-ins are defined in this crate; nothing else may take the prefix.
    if name.starts_with(RESERVED_PREFIX) && !location(&def).module.starts_with("beeflow_core") {
        return Err(RegistryError::Reserved {
            kind,
            name,
            location: location(&def),
        });
    }
    if let Some(existing) = map.get(name) {
        // The same definition reached twice (e.g. registered explicitly and globally) is not
        // a conflict.
        if same_definition(existing, &def) {
            return Ok(());
        }
        return Err(RegistryError::Duplicate {
            kind,
            name,
            first: location(existing),
            second: location(&def),
        });
    }
    map.insert(name, def);
    Ok(())
}
