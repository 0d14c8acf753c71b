//! One verification attempt against an enrolment: TOTP with replay refusal, recovery codes, and throttling
//! (a pause after 5 consecutive failures that doubles each time, and a hard lock after 100).

use super::enrolment::Enrolment;
use super::recovery;
use super::totp::Code;

/// Failures before the first pause.
pub const PAUSE_AFTER: u32 = 5;
/// Failures after which only a recovery code or an admin reset unlocks.
pub const LOCK_AFTER: u32 = 100;
const FIRST_PAUSE_MS: u64 = 30_000;
const LONGEST_PAUSE_MS: u64 = 3_600_000;

/// What an attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A fresh, valid TOTP code.
    Accepted,
    /// A valid, unused recovery code; `left` remain.
    Recovered {
        /// Unused codes left.
        left: usize,
    },
    /// Wrong code; `before_pause` more failures are allowed before a pause.
    Wrong {
        /// Attempts left before a pause (0 when this failure started one).
        before_pause: u32,
    },
    /// A valid code for a time step already used.
    Replayed,
    /// Attempts are paused until `until_ms`, or for good (`None`) until a recovery code or admin reset.
    Locked {
        /// End of the pause.
        until_ms: Option<u64>,
    },
    /// Not a code at all.
    Malformed,
}

impl Outcome {
    /// Whether the user proved possession.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Accepted | Self::Recovered { .. })
    }
}

/// The pause after `failures` consecutive failures.
pub fn pause_ms(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(PAUSE_AFTER).min(16);
    FIRST_PAUSE_MS.saturating_mul(1 << doublings).min(LONGEST_PAUSE_MS)
}

/// What exposing a code cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Burned {
    /// It was no valid code.
    Nothing,
    /// A valid TOTP code: its time step can never be accepted now.
    Code,
    /// An unused recovery code: it is revoked; `left` remain.
    Recovery {
        /// Unused codes left.
        left: usize,
    },
}

/// Makes a code unusable without it counting as an attempt (it was exposed, e.g. posted in a group): a valid
/// TOTP code's time step becomes the last accepted one; a recovery code is marked used.
pub fn burn(enrolment: &mut Enrolment, input: &str, now_ms: u64, skew: u8, mac: recovery::Mac<'_>) -> Burned {
    if recovery::looks_like(input) {
        let salt = enrolment.recovery_salt.clone();
        return if recovery::redeem(&mut enrolment.recovery, input, now_ms, mac, &salt) {
            Burned::Recovery { left: enrolment.recovery_left() }
        } else {
            Burned::Nothing
        };
    }
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(code) = Code::standard(&enrolment.secret.0, skew) else { return Burned::Nothing };
    match code.matching_step(&digits, now_ms / 1000) {
        Some(step) if enrolment.last_step.is_none_or(|last| step > last) => {
            enrolment.last_step = Some(step);
            Burned::Code
        }
        _ => Burned::Nothing,
    }
}

/// Checks `input` at `now_ms`, updating `enrolment` (the caller persists it, flushed, whatever the outcome).
pub fn attempt(enrolment: &mut Enrolment, input: &str, now_ms: u64, skew: u8, mac: recovery::Mac<'_>) -> Outcome {
    let input = input.trim();
    if recovery::looks_like(input) {
        // Recovery codes lift the permanent lock, but wait out a running pause like any other attempt.
        if now_ms < enrolment.locked_until_ms {
            return Outcome::Locked { until_ms: Some(enrolment.locked_until_ms) };
        }
        let salt = enrolment.recovery_salt.clone();
        return if recovery::redeem(&mut enrolment.recovery, input, now_ms, mac, &salt) {
            enrolment.failures = 0;
            enrolment.locked_until_ms = 0;
            enrolment.locked_for_good = false;
            Outcome::Recovered { left: enrolment.recovery_left() }
        } else {
            fail(enrolment, now_ms)
        };
    }
    if enrolment.locked_for_good {
        return Outcome::Locked { until_ms: None };
    }
    if now_ms < enrolment.locked_until_ms {
        return Outcome::Locked { until_ms: Some(enrolment.locked_until_ms) };
    }
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Outcome::Malformed;
    }
    let Ok(code) = Code::standard(&enrolment.secret.0, skew) else { return Outcome::Malformed };
    match code.matching_step(&digits, now_ms / 1000) {
        Some(step) if enrolment.last_step.is_some_and(|last| step <= last) => {
            fail(enrolment, now_ms);
            Outcome::Replayed
        }
        Some(step) => {
            enrolment.last_step = Some(step);
            enrolment.failures = 0;
            enrolment.locked_until_ms = 0;
            Outcome::Accepted
        }
        None => fail(enrolment, now_ms),
    }
}

/// Counts one failed attempt against `enrolment`: the same pauses and lock as a wrong code.
pub(crate) fn fail(enrolment: &mut Enrolment, now_ms: u64) -> Outcome {
    enrolment.failures = enrolment.failures.saturating_add(1);
    if enrolment.failures >= LOCK_AFTER {
        // Recovery codes still unlock, but only after each pause, like any attempt.
        enrolment.locked_until_ms = now_ms + pause_ms(enrolment.failures);
        enrolment.locked_for_good = true;
        return Outcome::Locked { until_ms: None };
    }
    if enrolment.failures >= PAUSE_AFTER {
        enrolment.locked_until_ms = now_ms + pause_ms(enrolment.failures);
        return Outcome::Wrong { before_pause: 0 };
    }
    Outcome::Wrong { before_pause: PAUSE_AFTER - enrolment.failures }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(data: &[u8]) -> Option<[u8; 32]> {
        Some(crate::crypto::Key::from_bytes(&[9u8; 32]).ok()?.hash(data))
    }

    fn enrolled() -> Enrolment {
        let mut e = Enrolment::pending(b"12345678901234567890".to_vec());
        e.active = true;
        e
    }

    const NOW: u64 = 1_700_000_000_000;

    fn code_at(ms: u64) -> String {
        Code::standard(b"12345678901234567890", 0).unwrap().at(ms / 1000).to_string()
    }

    #[test]
    fn a_code_is_accepted_once() {
        let mut e = enrolled();
        assert_eq!(attempt(&mut e, &code_at(NOW), NOW, 1, &mac), Outcome::Accepted);
        assert_eq!(attempt(&mut e, &code_at(NOW), NOW + 1_000, 1, &mac), Outcome::Replayed);
        assert_eq!(attempt(&mut e, &code_at(NOW - 30_000), NOW, 1, &mac), Outcome::Replayed, "older steps too");
        assert_eq!(attempt(&mut e, &code_at(NOW + 30_000), NOW + 30_000, 1, &mac), Outcome::Accepted);
    }

    #[test]
    fn five_failures_pause_with_growing_delays_and_a_hundred_lock() {
        let mut e = enrolled();
        for left in [4, 3, 2, 1] {
            assert_eq!(attempt(&mut e, "000000", NOW, 1, &mac), Outcome::Wrong { before_pause: left });
        }
        assert_eq!(attempt(&mut e, "000000", NOW, 1, &mac), Outcome::Wrong { before_pause: 0 });
        assert_eq!(attempt(&mut e, &code_at(NOW), NOW, 1, &mac), Outcome::Locked { until_ms: Some(NOW + 30_000) });
        assert_eq!(pause_ms(6), 60_000);
        assert_eq!(pause_ms(50), 3_600_000);
        e.failures = LOCK_AFTER - 1;
        e.locked_until_ms = 0;
        assert_eq!(attempt(&mut e, "000000", NOW, 1, &mac), Outcome::Locked { until_ms: None });
        assert_eq!(attempt(&mut e, &code_at(NOW), NOW + 86_400_000, 1, &mac), Outcome::Locked { until_ms: None });
    }

    #[test]
    fn a_recovery_code_unlocks() {
        let mut e = enrolled();
        let (shown, stored) = crate::stepup::recovery::generate(&mac, b"salt").unwrap();
        e.recovery = stored;
        e.recovery_salt = b"salt".to_vec();
        e.locked_for_good = true;
        e.failures = LOCK_AFTER;
        assert_eq!(attempt(&mut e, &shown[3], NOW, 1, &mac), Outcome::Recovered { left: 9 });
        assert!(!e.locked_for_good);
        assert_eq!(attempt(&mut e, &code_at(NOW), NOW, 1, &mac), Outcome::Accepted);
        assert_eq!(attempt(&mut e, "hello", NOW, 1, &mac), Outcome::Malformed);
    }
}
