//! A connection's first and last moments on the node: the application's connect hook
//! before it is admitted, and its disconnect hook before it leaves the hub.

use std::panic::AssertUnwindSafe;

use super::Node;
use crate::context::ConnectionInfo;
use crate::hooks::{ConnectContext, DisconnectContext};
use crate::problem::{Problem, panic_message};

impl Node {
    /// Runs the connect hook for a connection the hub has just registered. A refusal (or a
    /// panic, as `connect_hook_failed`) unregisters it again: it never opened, so the
    /// disconnect hook does not run for it.
    pub(crate) fn admit(&self, mut info: ConnectionInfo) -> Result<ConnectionInfo, Problem> {
        let Some(hook) = &self.hooks.on_connect else {
            return Ok(info);
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            hook(&mut ConnectContext {
                runtime: self,
                info: &mut info,
            })
        }));
        let refusal = match outcome {
            Ok(Ok(())) => return Ok(info),
            Ok(Err(problem)) => problem,
            Err(panic) => {
                tracing::error!(panic = panic_message(&*panic), "the connect hook panicked");
                Problem::connect_hook_failed()
            }
        };
        self.disconnect(&info.id);
        Err(refusal)
    }

    /// A connection ends: the disconnect hook sees it as it was (groups included), then it
    /// leaves the hub. Runs once per admitted connection, however it ended.
    pub(crate) fn disconnected(&self, info: &ConnectionInfo) {
        if let Some(hook) = &self.hooks.on_disconnect {
            let groups = self.hub.groups_of(&info.id);
            let context = DisconnectContext {
                runtime: self,
                info,
                groups,
            };
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| hook(&context))) {
                tracing::error!(
                    panic = panic_message(&*panic),
                    "the disconnect hook panicked"
                );
            }
        }
        self.disconnect(&info.id);
    }
}
