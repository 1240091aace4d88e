//! Rate limits: how many actions a connection and a user may send, and how many upgrades
//! one client address may make, per second. Token buckets (GCRA) from the `governor` crate.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A rate: `per_second` on average, in bursts of up to `burst` at once.
///
/// ```
/// use beeflow_core::Rate;
///
/// let rate = Rate::per_second(100).with_burst(200);
/// assert_eq!((rate.per_second_limit(), rate.burst()), (100, 200));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    per_second: u32,
    burst: u32,
}

impl Rate {
    /// `n` per second, in bursts of up to `n`.
    pub const fn per_second(n: u32) -> Self {
        Self {
            per_second: n,
            burst: n,
        }
    }

    /// The same average, in bursts of up to `burst` at once.
    #[must_use]
    pub const fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// The average per second.
    pub const fn per_second_limit(&self) -> u32 {
        self.per_second
    }

    /// The most at once.
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    fn quota(self) -> Option<Quota> {
        let per_second = NonZeroU32::new(self.per_second)?;
        let burst = NonZeroU32::new(self.burst)?;
        Some(Quota::per_second(per_second).allow_burst(burst))
    }
}

/// The rate limits of a dispatcher ([`DispatcherBuilder::rate_limits`](crate::DispatcherBuilder::rate_limits)).
///
/// An action over a limit is answered with a `rate_limited` Problem (429) saying when to
/// retry; a connection refused more often than [`RateLimits::close_after`] allows is
/// closed with 1008. An upgrade over the per-address limit is refused with the same
/// Problem over HTTP.
///
/// ```
/// use beeflow_core::{Rate, RateLimits};
///
/// let limits = RateLimits::default()
///     .per_connection(Rate::per_second(20).with_burst(40))
///     .action("export", Rate::per_second(1));
/// # let _ = limits;
/// let off = RateLimits::off(); // for load tests
/// # let _ = off;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    per_connection: Option<Rate>,
    per_user: Option<Rate>,
    upgrades_per_address: Option<Rate>,
    actions: HashMap<String, Rate>,
    close_after: u32,
}

impl Default for RateLimits {
    /// 100 actions per second per connection in bursts of 200; 300 per second per user in
    /// bursts of 600; 10 upgrades per second per client address in bursts of 20; closed
    /// at the 21st refusal within 10 s.
    fn default() -> Self {
        Self {
            per_connection: Some(Rate::per_second(100).with_burst(200)),
            per_user: Some(Rate::per_second(300).with_burst(600)),
            upgrades_per_address: Some(Rate::per_second(10).with_burst(20)),
            actions: HashMap::new(),
            close_after: 20,
        }
    }
}

impl RateLimits {
    /// No rate limit at all: for load tests and benchmarks.
    pub fn off() -> Self {
        Self {
            per_connection: None,
            per_user: None,
            upgrades_per_address: None,
            actions: HashMap::new(),
            close_after: 0,
        }
    }

    /// Actions one connection may send (`None`: unlimited).
    #[must_use]
    pub fn per_connection(mut self, rate: impl Into<Option<Rate>>) -> Self {
        self.per_connection = rate.into();
        self
    }

    /// Actions all connections of one user together may send (`None`: unlimited). Guests
    /// have only the per-connection limit.
    #[must_use]
    pub fn per_user(mut self, rate: impl Into<Option<Rate>>) -> Self {
        self.per_user = rate.into();
        self
    }

    /// Upgrade requests one client address may make (`None`: unlimited). It needs the
    /// adapter to know the address (with axum, serve the router with
    /// `into_make_service_with_connect_info::<SocketAddr>()`).
    #[must_use]
    pub fn upgrades_per_address(mut self, rate: impl Into<Option<Rate>>) -> Self {
        self.upgrades_per_address = rate.into();
        self
    }

    /// Action `name` gets a per-connection bucket of its own at `rate`, instead of the
    /// shared one: a higher rate for a cheap action, a lower one for an expensive one.
    #[must_use]
    pub fn action(mut self, name: impl Into<String>, rate: Rate) -> Self {
        self.actions.insert(name.into(), rate);
        self
    }

    /// How many refusals a connection gets within 10 s: the next one closes it with 1008
    /// (`0`: never closed). A token bucket like the others, refilled at `refusals` per
    /// 10 s: a client that waits as told is refused now and then and never closed, one
    /// that keeps sending regardless is closed soon, however it mixes in accepted actions.
    #[must_use]
    pub fn close_after(mut self, refusals: u32) -> Self {
        self.close_after = refusals;
        self
    }

    /// The first rate with a zero in it, by name.
    pub(crate) fn invalid(&self) -> Option<&'static str> {
        let bad = |rate: &Option<Rate>| rate.is_some_and(|rate| rate.quota().is_none());
        if bad(&self.per_connection) {
            return Some("per_connection");
        }
        if bad(&self.per_user) {
            return Some("per_user");
        }
        if bad(&self.upgrades_per_address) {
            return Some("upgrades_per_address");
        }
        self.actions
            .values()
            .any(|rate| rate.quota().is_none())
            .then_some("action")
    }
}

/// Refused: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limited(pub(crate) Duration);

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// The shared buckets of a node: per user and per client address.
pub(crate) struct NodeRates {
    per_user: Option<Keyed<Arc<str>>>,
    per_address: Option<Keyed<IpAddr>>,
    config: RateLimits,
}

impl NodeRates {
    pub(crate) fn new(config: RateLimits) -> Self {
        fn keyed<K: Hash + Eq + Clone>(rate: Option<Rate>) -> Option<Keyed<K>> {
            rate.and_then(Rate::quota).map(RateLimiter::keyed)
        }
        Self {
            per_user: keyed(config.per_user),
            per_address: keyed(config.upgrades_per_address),
            config,
        }
    }

    pub(crate) fn config(&self) -> &RateLimits {
        &self.config
    }

    /// Takes one action from `user`'s bucket.
    pub(crate) fn user_action(&self, user: &Arc<str>) -> Result<(), Limited> {
        check_key(self.per_user.as_ref(), user)
    }

    /// Takes one upgrade from `address`'s bucket.
    pub(crate) fn upgrade(&self, address: IpAddr) -> Result<(), Limited> {
        check_key(self.per_address.as_ref(), &address)
    }

    /// Forgets the buckets that are full again, so memory follows the active users and
    /// addresses, not every one ever seen.
    pub(crate) fn forget_idle(&self) {
        if let Some(limiter) = &self.per_user {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn check_key<K: Hash + Eq + Clone>(limiter: Option<&Keyed<K>>, key: &K) -> Result<(), Limited> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter
        .check_key(key)
        .map_err(|not_until| Limited(not_until.wait_time_from(DefaultClock::default().now())))
}

/// The buckets of one connection: the shared one, and one per action with a rate of its
/// own (made when that action is first sent).
pub(crate) struct ConnectionRates {
    shared: Option<DefaultDirectRateLimiter>,
    own: Vec<(String, DefaultDirectRateLimiter)>,
    /// The refusals it may still get before it is closed.
    refusals: Option<DefaultDirectRateLimiter>,
}

/// The window [`RateLimits::close_after`] counts refusals in.
const REFUSAL_WINDOW: Duration = Duration::from_secs(10);

impl ConnectionRates {
    pub(crate) fn new(config: &RateLimits) -> Self {
        Self {
            shared: config
                .per_connection
                .and_then(Rate::quota)
                .map(RateLimiter::direct),
            own: Vec::new(),
            refusals: NonZeroU32::new(config.close_after).and_then(|refusals| {
                Quota::with_period(REFUSAL_WINDOW / refusals.get())
                    .map(|quota| RateLimiter::direct(quota.allow_burst(refusals)))
            }),
        }
    }

    /// Takes one `action` from this connection's bucket for it.
    pub(crate) fn action(&mut self, config: &RateLimits, action: &str) -> Result<(), Limited> {
        let limiter = match config.actions.get(action).and_then(|rate| rate.quota()) {
            Some(quota) => {
                let at = match self.own.iter().position(|(name, _)| name == action) {
                    Some(at) => at,
                    None => {
                        self.own
                            .push((action.to_owned(), RateLimiter::direct(quota)));
                        self.own.len() - 1
                    }
                };
                Some(&self.own[at].1)
            }
            None => self.shared.as_ref(),
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter
            .check()
            .map_err(|not_until| Limited(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// Records one refusal; true when the connection should be closed for going on
    /// regardless.
    pub(crate) fn refused(&mut self) -> bool {
        self.refusals
            .as_ref()
            .is_some_and(|refusals| refusals.check().is_err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_and_the_next_action_waits() {
        let config = RateLimits::default().per_connection(Rate::per_second(1).with_burst(3));
        let mut rates = ConnectionRates::new(&config);
        for _ in 0..3 {
            assert_eq!(rates.action(&config, "a"), Ok(()));
        }
        let Err(Limited(wait)) = rates.action(&config, "a") else {
            panic!("the fourth action is over the burst");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }

    #[test]
    fn an_action_with_its_own_rate_has_its_own_bucket() {
        let config = RateLimits::default()
            .per_connection(Rate::per_second(1))
            .action("cheap", Rate::per_second(1000));
        let mut rates = ConnectionRates::new(&config);
        assert_eq!(rates.action(&config, "other"), Ok(()));
        assert!(rates.action(&config, "other").is_err());
        for _ in 0..100 {
            assert_eq!(rates.action(&config, "cheap"), Ok(()));
        }
    }

    #[test]
    fn the_refusal_after_the_allowed_ones_closes() {
        let config = RateLimits::default().close_after(3);
        let mut rates = ConnectionRates::new(&config);
        for _ in 0..3 {
            assert!(!rates.refused());
        }
        assert!(rates.refused());
    }

    #[test]
    fn close_after_zero_never_closes() {
        let config = RateLimits::default().close_after(0);
        let mut rates = ConnectionRates::new(&config);
        assert!((0..1000).all(|_| !rates.refused()));
    }

    #[test]
    fn off_limits_nothing_and_zeros_are_invalid() {
        let config = RateLimits::off();
        let mut rates = ConnectionRates::new(&config);
        for _ in 0..10_000 {
            assert_eq!(rates.action(&config, "a"), Ok(()));
        }
        assert!(!rates.refused());
        assert_eq!(
            RateLimits::default()
                .per_user(Rate::per_second(0))
                .invalid(),
            Some("per_user")
        );
        assert_eq!(RateLimits::default().invalid(), None);
    }

    #[test]
    fn users_and_addresses_have_buckets_of_their_own() {
        let config = RateLimits::default()
            .per_user(Rate::per_second(1))
            .upgrades_per_address(Rate::per_second(1));
        let rates = NodeRates::new(config);
        let (ada, bob): (Arc<str>, Arc<str>) = ("ada".into(), "bob".into());
        assert!(rates.user_action(&ada).is_ok());
        assert!(rates.user_action(&ada).is_err());
        assert!(rates.user_action(&bob).is_ok());
        let (one, two) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        assert!(rates.upgrade(one).is_ok());
        assert!(rates.upgrade(one).is_err());
        assert!(rates.upgrade(two).is_ok());
    }
}
