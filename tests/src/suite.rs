//! What the store suites ([`search_suite!`](crate::search_suite),
//! [`detections_suite!`](crate::detections_suite)) share: a fresh store per case,
//! with what keeps it alive, and the skip macro of a backend that skips nothing.

use std::any::Any;
use std::future::Future;
use std::path::PathBuf;

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

impl<S> Fresh<S> {
    /// A store `open` makes in a temp dir of its own, kept as long as the store.
    pub async fn in_temp_dir<F, Fut>(open: F) -> Self
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = S>,
    {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = open(dir.path().to_owned()).await;
        Fresh::new(store).keeping(dir)
    }
}

/// One test per case of `$suite` (a module of this crate with a `prepare` and a
/// fn per case), each on a store `$open` makes fresh, through the backend's skip
/// macro: what [`search_suite!`](crate::search_suite) and
/// [`detections_suite!`](crate::detections_suite) expand to.
#[macro_export]
macro_rules! suite_cases {
    ($suite:ident, $open:path, [], $($case:ident),+ $(,)?) => {
        $crate::suite_cases!($suite, $open, [$crate::no_skip], $($case),+);
    };
    ($suite:ident, $open:path, [$($skip:tt)+], $case:ident $(, $rest:ident)* $(,)?) => {
        $($skip)+!($case,
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fresh = $open().await;
                $crate::$suite::prepare(&fresh.store).await;
                $crate::$suite::$case(&fresh.store).await;
            }
        );
        $crate::suite_cases!($suite, $open, [$($skip)+] $(, $rest)*);
    };
    ($suite:ident, $open:path, [$($skip:tt)+]) => {};
}

/// The skip macro of a backend that runs every case.
#[macro_export]
macro_rules! no_skip {
    ($case:ident, $test:item) => {
        $test
    };
}
