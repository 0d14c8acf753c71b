//! The base every platform fake is built on: serving an axum router on a loopback port, recording the calls
//! it receives with a way to wait for them, and failures to inject into the next calls of a method.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// How long [`Recorder::wait_for`] waits before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(20);
/// How many of the latest calls a failed wait lists.
const LISTED: usize = 8;

/// Serves `router` on `127.0.0.1:0` until the runtime ends; returns the bound address.
///
/// # Panics
/// When no loopback port can be bound.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("a loopback port binds: {e}"),
    };
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("the listener has an address: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// Calls a fake received, in order, with a cursor: [`Recorder::until`] takes the calls up to the one a test
/// waits for, so the next wait looks only at what came after.
#[derive(Debug)]
pub struct Recorder<T> {
    calls: Mutex<Vec<T>>,
    cursor: Mutex<usize>,
    changed: watch::Sender<u64>,
}

impl<T> Default for Recorder<T> {
    fn default() -> Self {
        Self { calls: Mutex::new(Vec::new()), cursor: Mutex::new(0), changed: watch::Sender::new(0) }
    }
}

impl<T: Clone + std::fmt::Debug> Recorder<T> {
    /// Records `call` and wakes waiters.
    pub fn record(&self, call: T) {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).push(call);
        self.bump();
    }

    /// Wakes waiters (something they may be waiting for changed besides the calls).
    pub fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// Every call so far.
    pub fn all(&self) -> Vec<T> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// A receiver that sees every change (for fakes that hold a request until something arrives).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Waits for the first call not yet taken that satisfies `pred`; returns the calls up to and including it,
    /// and takes them.
    ///
    /// # Panics
    /// After [`PATIENCE`], naming `what`.
    pub async fn until(&self, what: &str, pred: impl Fn(&T) -> bool) -> Vec<T> {
        self.wait_for(what, |calls| {
            let mut cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
            let start = (*cursor).min(calls.len());
            let i = calls[start..].iter().position(&pred)?;
            *cursor = start + i + 1;
            Some(calls[start..=start + i].to_vec())
        })
        .await
    }

    /// Waits until any call so far, taken or not, satisfies `pred`; takes nothing.
    ///
    /// # Panics
    /// After [`PATIENCE`], naming `what`.
    pub async fn eventually(&self, what: &str, pred: impl Fn(&T) -> bool) -> T {
        self.wait_for(what, |calls| calls.iter().find(|c| pred(c)).cloned()).await
    }

    /// Takes every call so far.
    pub fn skip_all(&self) {
        let len = self.calls.lock().unwrap_or_else(PoisonError::into_inner).len();
        *self.cursor.lock().unwrap_or_else(PoisonError::into_inner) = len;
    }

    /// The calls not yet taken.
    pub fn untaken(&self) -> Vec<T> {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let start = (*self.cursor.lock().unwrap_or_else(PoisonError::into_inner)).min(calls.len());
        calls[start..].to_vec()
    }

    /// Takes and returns the calls not yet taken.
    pub fn take(&self) -> Vec<T> {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let mut cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        let start = (*cursor).min(calls.len());
        *cursor = calls.len();
        calls[start..].to_vec()
    }

    /// Waits until `check` finds what it looks for in the calls, and returns it.
    ///
    /// # Panics
    /// After [`PATIENCE`], naming `what`, how many calls arrived and the last few of them.
    pub async fn wait_for<R>(&self, what: &str, mut check: impl FnMut(&[T]) -> Option<R>) -> R {
        let mut changed = self.changed.subscribe();
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(found) = check(&self.calls.lock().unwrap_or_else(PoisonError::into_inner)) {
                    return found;
                }
                if changed.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        match waited {
            Ok(found) => found,
            Err(_) => {
                let all = self.all();
                let last: String = all[all.len().saturating_sub(LISTED)..]
                    .iter()
                    .map(|call| {
                        let call = format!("{call:?}");
                        let end = call.char_indices().nth(400).map_or(call.len(), |(i, _)| i);
                        format!("\n  {}", &call[..end])
                    })
                    .collect();
                panic!("waited {PATIENCE:?} for {what}; {} call(s) arrived, the last of them:{last}", all.len())
            }
        }
    }
}

/// Failures to answer the next calls of a method with, in order.
#[derive(Debug)]
pub struct Failures<F> {
    queued: Mutex<HashMap<String, VecDeque<F>>>,
}

impl<F> Default for Failures<F> {
    fn default() -> Self {
        Self { queued: Mutex::new(HashMap::new()) }
    }
}

impl<F> Failures<F> {
    /// The next call of `method` (case-insensitive) fails with `failure`.
    pub fn inject(&self, method: &str, failure: F) {
        let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        queued.entry(method.to_ascii_lowercase()).or_default().push_back(failure);
    }

    /// The failure queued for this call of `method`, if any.
    pub fn next(&self, method: &str) -> Option<F> {
        let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        queued.get_mut(&method.to_ascii_lowercase()).and_then(VecDeque::pop_front)
    }
}
