//! Services the runtime provides to plugins and adapters, as traits: the audit trail ([`AuditLog`]), the
//! policy-bound HTTP client ([`Http`]) and the security observer that counts rejected requests for alerts
//! ([`Observer`]). Plugins and adapters see only these traits, never the runtime's concrete types.

mod audit;
mod http;
mod messenger;
mod observer;

pub use audit::{AuditLog, Outcome};
pub use http::{Http, HttpError, HttpResponse, Refusing};
pub use messenger::{Messenger, Sent};
pub use observer::{Connection, Observer};
