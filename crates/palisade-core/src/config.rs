//! Settings primitives shared by the runtime, plugins and adapters: a plugin's or adapter's own table
//! ([`Section`]) parsed strictly, the [`Problem`]s found in it, and [`Secret`] values that come from the
//! environment or a file.

mod problem;
mod secret;
mod section;
mod strict;

pub use problem::Problem;
pub use secret::{Secret, is_secret_key};
pub use section::{Section, kind};
pub use strict::strict;
