//! A dispatcher with step-up installed, and helpers to enrol and compute codes.

use std::sync::Arc;

use palisade::Plugin;
use palisade::clock::{SharedClock, TokioClock};
use palisade::config::StepUpSettings;
use palisade::stepup::totp::Code;
use palisade::stepup::{StepUp, TwoFactor};
use palisade::store::SharedStore;

use super::Harness;
use super::probe::Probe;

pub struct Bot {
    pub h: Harness,
    pub clock: SharedClock,
}

pub fn start(store: SharedStore, settings: StepUpSettings) -> Bot {
    let clock: SharedClock = TokioClock::shared();
    let audit = palisade::audit::Audit::new(store.clone(), clock.clone());
    let stepup = StepUp::new(store.clone(), audit, settings, clock.clone());
    let plugins: Vec<Arc<dyn Plugin>> =
        vec![Probe::shared(), Arc::new(palisade_bank::Bank::default()), Arc::new(TwoFactor::new(stepup.clone()))];
    let c = clock.clone();
    let h = Harness::start_with(plugins, store, move |b| b.clock(c).step_up(stepup));
    Bot { h, clock }
}

impl Bot {
    pub fn code(&self, secret: &str, offset_steps: i64) -> String {
        let secret = totp_secret(secret);
        let now = self.clock.now_ms() / 1000;
        Code::standard(&secret, 0).unwrap().at(now.checked_add_signed(offset_steps * 30).unwrap()).to_string()
    }

    /// Enrols `user`; returns the base32 secret and the recovery codes.
    pub async fn enrol(&self, user: &str) -> (String, Vec<String>) {
        let shown = self.h.say(user, "/2fa setup").await.join("\n");
        let secret = shown.split("by hand: ").nth(1).unwrap().split(')').next().unwrap().to_string();
        assert!(shown.contains("otpauth://totp/Palisade:console%20"), "{shown}");
        let done = self.h.say(user, &self.code(&secret, 0)).await.join("\n");
        assert!(done.starts_with("Two-factor verification is on."), "{done}");
        let codes = done.lines().skip(2).map(str::to_string).collect();
        (secret, codes)
    }
}

pub fn totp_secret(b32: &str) -> Vec<u8> {
    // RFC 4648 base32 without padding, decoded independently of totp-rs.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u64, Vec::new());
    for c in b32.bytes() {
        acc = (acc << 5) | alphabet.iter().position(|a| *a == c).unwrap() as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
