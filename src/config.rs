//! Configuration: one TOML file plus environment overrides, checked strictly.
//!
//! Every key can be overridden from the environment as `PALISADE__` followed by the key path in upper case
//! with `__` between levels: `[dispatch] max_concurrency` is `PALISADE__DISPATCH__MAX_CONCURRENCY`,
//! `[plugins.notes] max_notes` is `PALISADE__PLUGINS__NOTES__MAX_NOTES`. Unknown keys are errors; secrets
//! come from the environment or a file (a warning names any secret written inline).

mod error;
mod load;
mod settings;

pub use error::ConfigError;
pub use load::{Loaded, Loader};
pub use palisade_core::config::{Problem, Secret, Section};
pub use settings::{
    AlertSettings, BackupSettings, BotSettings, ControlSettings, DispatchSettings, FlowSettings, IdentitySettings,
    IntegrationSettings, LogFormat, LogSettings, MonitoringSettings, PrivacySettings, Rate, RateLimitSettings,
    RedisSettings, Regime, Settings, StepUpSettings, StoreBackend, StoreSettings, TextsSettings, Unenrolled,
};
