//! The registry snapshot: every action, event and recipient type a server knows, built once
//! at startup, names sorted, duplicates rejected.

use std::collections::BTreeMap;
use std::fmt;

use crate::action::{Action, ActionDef};
use crate::event::{Event, EventDef};
use crate::recipient::{RecipientDef, RecipientType};

/// Where a registered item was defined, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// `module_path!()` of the definition.
    pub module: &'static str,
    /// `file!()` of the definition.
    pub file: &'static str,
    /// `line!()` of the definition.
    pub line: u32,
}

impl Location {
    /// A location from the `module_path!()`, `file!()` and `line!()` of a definition.
    pub const fn here(module: &'static str, file: &'static str, line: u32) -> Self {
        Self { module, file, line }
    }

    #[track_caller]
    fn caller() -> Self {
        let at = std::panic::Location::caller();
        Self::here("<explicit registration>", at.file(), at.line())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.module, self.file, self.line)
    }
}

/// A registry could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two definitions share one name.
    #[error("{kind} '{name}' is defined twice: at {first} and at {second}")]
    Duplicate {
        /// `action`, `event` or `recipient`.
        kind: &'static str,
        /// The shared name.
        name: &'static str,
        /// One definition.
        first: Location,
        /// The other definition.
        second: Location,
    },
}

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
/// assert!(registry.recipient("websocket").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, ActionDef>,
    events: BTreeMap<&'static str, EventDef>,
    recipients: BTreeMap<&'static str, RecipientDef>,
}

impl Registry {
    /// Collects every globally registered action, event and recipient type.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] when two definitions of one kind share a name; the error
    /// names both.
    pub fn global() -> Result<Self, RegistryError> {
        let mut builder = RegistryBuilder::empty();
        for def in inventory::iter::<ActionDef> {
            builder.add_action(*def)?;
        }
        for def in inventory::iter::<EventDef> {
            builder.add_event(*def)?;
        }
        for def in inventory::iter::<RecipientDef> {
            builder.add_recipient(*def)?;
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

    /// The recipient type registered under `name`.
    pub fn recipient(&self, name: &str) -> Option<&RecipientDef> {
        self.recipients.get(name)
    }

    /// Every action, sorted by name.
    pub fn actions(&self) -> impl ExactSizeIterator<Item = &ActionDef> {
        self.actions.values()
    }

    /// Every event, sorted by name.
    pub fn events(&self) -> impl ExactSizeIterator<Item = &EventDef> {
        self.events.values()
    }

    /// Every recipient type, sorted by name.
    pub fn recipients(&self) -> impl ExactSizeIterator<Item = &RecipientDef> {
        self.recipients.values()
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
            .add_action(crate::builtin::HEALTH_ACTION)
            .and_then(|()| builder.add_event(crate::builtin::HEALTH_EVENT))
            .and_then(|()| builder.add_recipient(crate::builtin::WEBSOCKET_RECIPIENT))
            .and_then(|()| builder.add_recipient(crate::builtin::USER_RECIPIENT))
            .and_then(|()| builder.add_recipient(crate::builtin::GROUP_RECIPIENT))
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
        let def = EventDef {
            name: E::NAME,
            type_name: std::any::type_name::<E>(),
            schema: |generator| generator.subschema_for::<E>(),
            location: Location::caller(),
        };
        self.record(|b| b.add_event(def));
        self
    }

    /// Adds a recipient type declared with `#[recipient]` (its generated type handle).
    #[must_use]
    pub fn recipient<R: RecipientType>(mut self) -> Self {
        self.record(|b| b.add_recipient(*R::DEF));
        self
    }

    /// Finishes the registry.
    ///
    /// # Errors
    ///
    /// The first duplicate name met while adding, naming both definitions.
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
            |a, b| a.type_name == b.type_name,
        )
    }

    fn add_recipient(&mut self, def: RecipientDef) -> Result<(), RegistryError> {
        insert(
            &mut self.registry.recipients,
            "recipient",
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
