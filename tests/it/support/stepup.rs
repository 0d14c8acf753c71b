//! The whole bot stack (step-up, consent, alerts, built-in commands) with the probe and bank plugins.

use palisade::config::{Settings, StepUpSettings};
use palisade::store::SharedStore;

use super::Harness;
use super::probe::Probe;

pub struct Bot {
    pub h: Harness,
    pub probe: std::sync::Arc<Probe>,
}

pub async fn start(store: SharedStore, stepup: StepUpSettings) -> Bot {
    let settings = Settings { stepup, ..Settings::default() };
    let probe = Probe::shared();
    let plugins: Vec<std::sync::Arc<dyn palisade::Plugin>> =
        vec![probe.clone(), std::sync::Arc::new(palisade_bank::Bank::default())];
    Bot { h: Harness::bot(plugins, store, settings).await, probe }
}

impl Bot {
    /// The code `offset_steps` steps from now for the base32 `secret` shown at setup.
    pub fn code(&self, secret: &str, offset_steps: i64) -> String {
        self.h.code(&palisade_testkit::totp::base32(secret), offset_steps)
    }

    /// Enrols `user`; returns the base32 secret and the recovery codes.
    pub async fn enrol(&self, user: &str) -> (String, Vec<String>) {
        let shown = self.h.say(user, "/2fa setup").await.join("\n");
        let secret = shown.split("by hand: ").nth(1).unwrap().split(')').next().unwrap().to_string();
        assert!(shown.contains("otpauth://totp/Palisade:console%20"), "{shown}");
        let done = self.h.say(user, &self.code(&secret, 0)).await;
        let done = done.iter().find(|t| t.starts_with("Two-factor verification is on.")).cloned().unwrap_or_default();
        assert!(done.starts_with("Two-factor verification is on."), "{done}");
        let codes = done.lines().skip(2).map(str::to_string).collect();
        (secret, codes)
    }
}
