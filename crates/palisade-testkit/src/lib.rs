//! palisade-testkit: test support for Palisade bots, plugins and adapters (a dev-dependency only).
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`harness`] | [`Harness`]: plugins through the real dispatcher (bare, or the whole stack of `palisade run`) |
//! | [`capture`] | an outbox that records replies, and their plain text |
//! | [`stores`] | encrypted test stores in memory, on sled or on Redis, with a fixed key |
//! | [`totp`] | RFC 6238 codes computed independently of the runtime |
//! | [`logs`] | capturing every log line, and "no secret in the logs" |
//! | [`redis`] | real `redis-server` processes on loopback: one server, or a three-primary Redis Cluster |
//! | [`fake`] | the base of platform fakes: serving on loopback, recording calls, injecting failures |
//! | [`telegram`] | a fake Telegram Bot API on loopback: the methods the adapter uses, long polls, 409s, every call recorded |
//! | [`running`] | a real adapter with the whole runtime stack, against a fake of its platform |
//! | [`conformance`] | the suite every adapter runs against its own fake |
//! | [`watcher`] | a plugin that records every event beyond text it is given (adapters' event tests) |
//! | [`examples`] | checking an example bot's configuration file against its registry |
//! | [`bench`](mod@bench) | end-to-end benchmarks: the bot's own runtime and the CPU time of its threads |

pub mod bench;
pub mod capture;
pub mod conformance;
pub mod examples;
pub mod fake;
pub mod harness;
pub mod logs;
pub mod redis;
pub mod running;
pub mod stores;
pub mod telegram;
pub mod totp;
pub mod watcher;

pub use capture::{Captured, text_of};
pub use harness::{Enrolled, Harness, button, event, user};
pub use running::Running;
pub use stores::{memory_store, redis_store, sled_store, test_key};
