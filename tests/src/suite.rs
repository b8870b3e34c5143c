//! What the store suites ([`search_suite!`](crate::search_suite),
//! [`detections_suite!`](crate::detections_suite)) share: a fresh store per case,
//! with what keeps it alive, and the skip macro of a backend that skips nothing.

use std::any::Any;

/// A store made for one case, and what must live as long as it: a temp dir, a
/// peer server. Dropped at the end of the case.
pub struct Fresh<S> {
    pub store: S,
    _alive: Vec<Box<dyn Any + Send>>,
}

impl<S> Fresh<S> {
    pub fn new(store: S) -> Self {
        Self {
            store,
            _alive: Vec::new(),
        }
    }

    /// Keeps `guard` alive as long as the store.
    pub fn keeping(mut self, guard: impl Any + Send) -> Self {
        self._alive.push(Box::new(guard));
        self
    }
}

/// The skip macro of a backend that runs every case.
#[macro_export]
macro_rules! no_skip {
    ($case:ident, $test:item) => {
        $test
    };
}
