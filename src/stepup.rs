//! Step-up verification: before a sensitive action runs, the user proves possession of their authenticator
//! in the chat, and the action then resumes exactly as they asked.
//!
//! How an action becomes sensitive: a command declared [`crate::Command::sensitive`], a `plugin.action`
//! listed in `[stepup] require_for`, or a handler calling [`crate::Ctx::sensitive`] /
//! [`crate::Ctx::checkpoint`]. The router then fails the event with "step-up required"; the gate layer ([`GateLayer`])
//! suspends the event, asks for a code (privately when the action came from a group), verifies it, grants
//! the scope for `grant_ttl` in that conversation only, and runs the original event again. Handlers must
//! reach their checkpoint before any side effect, so running them again is exactly the requested action.

mod commands;
mod enrolment;
mod gate;
mod grants;
mod pending;
mod qr;
pub mod recovery;
pub mod totp;
mod verify;

use std::sync::Arc;

use zeroize::Zeroizing;

pub use commands::TwoFactor;
pub use enrolment::{Enrolment, Enrolments};
pub use gate::{Gate, GateLayer};
pub use grants::Grants;
pub use pending::{Pending, PendingActions};

pub use verify::{Burned, LOCK_AFTER, Outcome, PAUSE_AFTER};

use crate::audit::{self, Audit};
use crate::clock::SharedClock;
use crate::config::StepUpSettings;
use crate::event::{ConversationKey, UserRef};
use crate::store::{Durability, RecordKey, SharedStore, StoreError};

/// Time steps of accepted codes, claimed so that a code is accepted once across replicas.
const USED: &str = "core.stepup.used";

/// What `/2fa setup` shows the user once.
#[derive(Debug)]
pub struct Setup {
    /// The `otpauth://` URI.
    pub uri: Zeroizing<String>,
    /// The secret in base32, for manual entry.
    pub base32: Zeroizing<String>,
}

/// The result of confirming a setup with the first code.
#[derive(Debug)]
pub enum Confirmation {
    /// 2FA is on; these recovery codes are shown once.
    Activated(Vec<Zeroizing<String>>),
    /// The code did not match.
    Wrong,
    /// There is no setup in progress.
    NoSetup,
}

/// What verifying a code for a suspended action came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// The code was checked; on success the action was claimed and its scope granted.
    Attempted(Outcome),
    /// The action is no longer waiting (a concurrent code resumed it, or it was cancelled).
    Gone,
    /// Two-factor verification was turned off meanwhile; the action was dropped.
    NotEnrolled,
}

/// The step-up service shared by the gate and the `/2fa` commands.
pub struct StepUp {
    store: SharedStore,
    audit: Arc<Audit>,
    enrolments: Enrolments,
    pending: PendingActions,
    grants: Grants,
    settings: StepUpSettings,
    /// `grant_ttl` in ms; a reload replaces it (grants already given keep their expiry).
    grant_ttl_ms: std::sync::atomic::AtomicU64,
    clock: SharedClock,
    /// Serialises read-modify-write of a user's enrolment and pending action, so concurrent attempts cannot
    /// lose a failure count and two codes cannot both resume one action. Per person (linked identities share
    /// one enrolment): one person's fsync never delays another's verification.
    users: crate::locks::KeyedLocks<[u8; 32]>,
    /// Where a verified action goes back in (the dispatcher's intake), so it runs in its own conversation's
    /// queue; set once the dispatcher is built.
    resubmit: std::sync::OnceLock<crate::adapter::EventSink>,
    /// Conversations whose suspended action was just verified and resubmitted, with what was approved: the
    /// gate hands a single-use approval to that one run and audits the action's outcome.
    resuming: std::sync::Mutex<std::collections::HashMap<ConversationKey, crate::plugin::Approval>>,
    alerts: std::sync::OnceLock<Arc<crate::alerts::Alerts>>,
    /// Failures of people without an enrolment at other guesses the same throttle covers (link codes):
    /// consecutive failures and the pause's end, per person, in memory.
    guesses: std::sync::Mutex<Guesses>,
}

/// Failed guesses of people without an enrolment: consecutive failures and the pause's end, per person.
#[derive(Default)]
struct Guesses {
    by_person: std::collections::HashMap<[u8; 32], (u32, u64)>,
    /// When ended pauses are next forgotten.
    sweep: crate::sweep::Sweep<100_000>,
}

impl std::fmt::Debug for StepUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUp").finish_non_exhaustive()
    }
}

impl StepUp {
    /// Step-up over `store` with `settings`.
    pub fn new(store: SharedStore, audit: Arc<Audit>, settings: StepUpSettings, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self {
            store: store.clone(),
            audit,
            enrolments: Enrolments::new(store.clone()),
            grants: Grants::over(&store),
            pending: PendingActions::new(store),
            grant_ttl_ms: std::sync::atomic::AtomicU64::new(crate::clock::millis(settings.grant_ttl)),
            settings,
            clock,
            users: crate::locks::KeyedLocks::default(),
            resubmit: std::sync::OnceLock::new(),
            resuming: std::sync::Mutex::default(),
            alerts: std::sync::OnceLock::new(),
            guesses: std::sync::Mutex::default(),
        })
    }

    /// The settings this service started with (`grant_ttl` may since have been reloaded: see
    /// [`StepUp::set_grant_ttl`]).
    pub fn settings(&self) -> &StepUpSettings {
        &self.settings
    }

    /// Replaces how long a verification grants its scope (a reload); grants already given keep their expiry.
    pub fn set_grant_ttl(&self, ttl: std::time::Duration) {
        self.grant_ttl_ms.store(crate::clock::millis(ttl), std::sync::atomic::Ordering::Relaxed);
    }

    /// The person `user` is (the same for every identity linked to it): verifications are serialised per
    /// person, since linked identities share one enrolment, its replay marker and its lockout.
    fn person(&self, user: &UserRef) -> [u8; 32] {
        self.store.person_id(&crate::store::Subject::user(user))
    }

    /// Now, ms since the epoch.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The user's enrolment (active or being set up).
    pub async fn enrolment(&self, user: &UserRef) -> Result<Option<Enrolment>, StoreError> {
        self.enrolments.load(user).await
    }

    /// True when the user has two-factor verification on.
    pub async fn is_enrolled(&self, user: &UserRef) -> Result<bool, StoreError> {
        Ok(self.enrolments.load(user).await?.is_some_and(|e| e.active))
    }

    /// Starts (or restarts) setup with a fresh 160-bit secret from the OS CSPRNG. An active enrolment stays
    /// in force until the new secret is confirmed, so an abandoned re-enrolment never turns 2FA off.
    pub async fn begin(&self, user: &UserRef) -> Result<Setup, StoreError> {
        let secret = crate::crypto::random_bytes(totp::SECRET_LEN).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        let _guard = self.users.lock(&self.person(user)).await;
        let mut e = self.enrolments.load(user).await?.unwrap_or_else(|| Enrolment::pending(Vec::new()));
        e.candidate = Some(enrolment::SecretBytes(secret.to_vec()));
        self.enrolments.save(user, &e).await?;
        let label = self.settings.account_label.replace("{user}", &user.to_string()).replace(':', " ");
        Ok(Setup { uri: totp::Code::uri(&secret, &self.settings.issuer, &label), base32: totp::Code::base32(&secret) })
    }

    /// Confirms setup with the first code from the new secret; on success it replaces any old secret, 2FA is
    /// on, and fresh recovery codes are returned (old ones stop working).
    pub async fn confirm(&self, user: &UserRef, code: &str) -> Result<Confirmation, StoreError> {
        let _guard = self.users.lock(&self.person(user)).await;
        let Some(mut e) = self.enrolments.load(user).await? else { return Ok(Confirmation::NoSetup) };
        let Some(candidate) = e.candidate.clone() else { return Ok(Confirmation::NoSetup) };
        let Ok(totp) = totp::Code::standard(&candidate.0, self.settings.skew) else { return Ok(Confirmation::Wrong) };
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let Some(step) = totp.matching_step(&digits, self.now_ms() / 1000) else { return Ok(Confirmation::Wrong) };
        let salt = crate::crypto::random_bytes(16).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        let (shown, stored) =
            recovery::generate(&|d| self.mac(d), &salt).map_err(|e| StoreError::MasterKey(e.to_string()))?;
        let mut fresh = Enrolment::pending(candidate.0.clone());
        fresh.active = true;
        fresh.enrolled_at_ms = self.now_ms();
        fresh.last_step = Some(step);
        fresh.recovery = stored;
        fresh.recovery_salt = salt.to_vec();
        e = fresh;
        self.enrolments.save(user, &e).await?;
        self.audit.note("stepup.enrol", Some(user), audit::Outcome::Success, &[]).await;
        Ok(Confirmation::Activated(shown))
    }

    /// One verification attempt; counters and the replay marker are saved (flushed) whatever the outcome.
    pub async fn attempt(&self, user: &UserRef, input: &str) -> Result<Option<Outcome>, StoreError> {
        let _guard = self.users.lock(&self.person(user)).await;
        self.attempt_locked(user, input).await
    }

    /// Verifies `input` for the action `expected` waits for. Under the user's lock, the action is read again
    /// (a concurrent code may have taken it: then `Verified::Gone`), the code checked, and on success the
    /// action is claimed — deleted, flushed, before anything runs — and its scope granted in its conversation.
    pub async fn verify_pending(&self, expected: &Pending, input: &str) -> Result<Verified, StoreError> {
        let user = &expected.event.user;
        let _guard = self.users.lock(&self.person(user)).await;
        let current = self.pending.load(user).await?;
        if current.as_ref().is_none_or(|p| p.created_at_ms != expected.created_at_ms || p.approval != expected.approval)
        {
            return Ok(Verified::Gone);
        }
        let Some(outcome) = self.attempt_locked(user, input).await? else {
            self.pending.clear(user).await?;
            return Ok(Verified::NotEnrolled);
        };
        if outcome.is_success() {
            if !self.pending.claim(user).await? {
                // Another replica resumed it with another code a moment ago.
                return Ok(Verified::Gone);
            }
            // A single-use approval is no grant: it travels with the one run of the action (see the gate).
            if !expected.approval.single_use {
                self.grant(expected.event.conversation(), expected.approval.scope.clone()).await?;
            }
        }
        Ok(Verified::Attempted(outcome))
    }

    async fn attempt_locked(&self, user: &UserRef, input: &str) -> Result<Option<Outcome>, StoreError> {
        let Some(mut e) = self.enrolments.load(user).await?.filter(|e| e.active) else { return Ok(None) };
        let before = e.last_step;
        let mut outcome = verify::attempt(&mut e, input, self.now_ms(), self.settings.skew, &|d| self.mac(d));
        if matches!(outcome, Outcome::Accepted)
            && let Some(step) = e.last_step
            && !self.claim_step(user, step, before).await?
        {
            // Another replica accepted this very code a moment ago: for this one it is a replay.
            verify::fail(&mut e, self.now_ms());
            outcome = Outcome::Replayed;
        }
        self.enrolments.save(user, &e).await?;
        let result = match outcome {
            Outcome::Accepted | Outcome::Recovered { .. } => audit::Outcome::Success,
            Outcome::Locked { .. } | Outcome::Replayed => audit::Outcome::Denied,
            _ => audit::Outcome::Failure,
        };
        self.audit.record("stepup.verify", Some(user), result, &[("result", outcome_label(&outcome).into())]).await?;
        tracing::info!(platform = %user.platform, outcome = outcome_label(&outcome), "step-up attempt");
        crate::metrics::stepup(outcome_label(&outcome));
        if matches!(result, audit::Outcome::Failure | audit::Outcome::Denied)
            && let Some(alerts) = self.alerts.get()
        {
            alerts.observe(crate::alerts::Signal::StepUpFailure(user.clone()));
        }
        Ok(Some(outcome))
    }

    /// Claims the time step of an accepted code in the store, so that a code is accepted once even by
    /// replicas sharing the store (each holds only its own lock): `false` when it was claimed already. The
    /// previous step's claim is dropped; claims also expire with `core.stepup.used`'s retention.
    async fn claim_step(&self, user: &UserRef, step: u64, previous: Option<u64>) -> Result<bool, StoreError> {
        let subject = crate::store::Subject::user(user);
        let (now, before) = (format!("totp:{step}"), previous.map(|p| format!("totp:{p}")));
        let claimed = self
            .store
            .create(
                RecordKey { namespace: USED, subject: Some(&subject), id: now.as_bytes() },
                b"",
                Durability::Flushed,
            )
            .await?;
        if claimed && let Some(before) = &before {
            let at = RecordKey { namespace: USED, subject: Some(&subject), id: before.as_bytes() };
            self.store.delete(at, Durability::Batched).await?;
        }
        Ok(claimed)
    }

    /// Whether guesses by `user` are paused now (by failed verification or link codes): the pause's end, or
    /// `Some(None)` when only a recovery code or an admin unlocks.
    pub async fn paused(&self, user: &UserRef) -> Result<Option<Option<u64>>, StoreError> {
        let now = self.now_ms();
        if let Some(e) = self.enrolments.load(user).await?.filter(|e| e.active) {
            return Ok(if e.locked_for_good {
                Some(None)
            } else {
                (now < e.locked_until_ms).then_some(Some(e.locked_until_ms))
            });
        }
        let guesses = self.guesses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(guesses.by_person.get(&self.person(user)).and_then(|(_, until)| (now < *until).then_some(Some(*until))))
    }

    /// Counts a wrong guess of another secret the step-up throttle covers (`what`: `link code`) as a failed
    /// attempt: for an enrolled person on their enrolment (so guessing codes of either kind shares one
    /// budget of pauses and the lock), otherwise in memory with the same pauses. Audited and alerted on like
    /// a wrong code.
    pub async fn count_failure(&self, user: &UserRef, what: &str) -> Result<Outcome, StoreError> {
        let _guard = self.users.lock(&self.person(user)).await;
        let now = self.now_ms();
        let outcome = match self.enrolments.load(user).await?.filter(|e| e.active) {
            Some(mut e) => {
                let outcome = verify::fail(&mut e, now);
                self.enrolments.save(user, &e).await?;
                outcome
            }
            None => {
                let mut guesses = self.guesses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let Guesses { by_person, sweep } = &mut *guesses;
                sweep.retain(by_person, |_, (_, until)| *until > now);
                let (failures, until) = by_person.entry(self.person(user)).or_default();
                *failures = failures.saturating_add(1);
                if *failures >= PAUSE_AFTER {
                    *until = now + verify::pause_ms(*failures);
                    Outcome::Wrong { before_pause: 0 }
                } else {
                    Outcome::Wrong { before_pause: PAUSE_AFTER - *failures }
                }
            }
        };
        let details = [("result", outcome_label(&outcome).to_string()), ("guess", what.to_string())];
        self.audit.record("stepup.verify", Some(user), audit::Outcome::Failure, &details).await?;
        crate::metrics::stepup(outcome_label(&outcome));
        if let Some(alerts) = self.alerts.get() {
            alerts.observe(crate::alerts::Signal::StepUpFailure(user.clone()));
        }
        Ok(outcome)
    }

    /// Burns a code the user exposed (posted in a group): if valid now, it can no longer be used.
    pub async fn burn(&self, user: &UserRef, code: &str) -> Result<Burned, StoreError> {
        let _guard = self.users.lock(&self.person(user)).await;
        let Some(mut e) = self.enrolments.load(user).await?.filter(|e| e.active) else { return Ok(Burned::Nothing) };
        let burned = verify::burn(&mut e, code, self.now_ms(), self.settings.skew, &|d| self.mac(d));
        if burned != Burned::Nothing {
            self.enrolments.save(user, &e).await?;
            let kind = if matches!(burned, Burned::Recovery { .. }) { "recovery code" } else { "code" };
            self.audit
                .record("stepup.code_exposed", Some(user), audit::Outcome::Denied, &[("kind", kind.into())])
                .await?;
        }
        Ok(burned)
    }

    /// The keyed hash recovery codes are stored under (a key derived from the store's own keys).
    fn mac(&self, data: &[u8]) -> Option<[u8; 32]> {
        self.store.keyed_hash("palisade/recovery-codes/v2", data).ok()
    }

    /// Drops every grant of `user` (their data is being erased).
    ///
    /// # Errors
    /// When the shared store keeping grants cannot remove them.
    pub async fn forget_grants(&self, user: &UserRef) -> Result<(), StoreError> {
        self.grants.revoke_user(user).await
    }

    /// Turns 2FA off for a user (their own `/2fa disable`, or an admin reset) and revokes their grants.
    pub async fn disable(&self, user: &UserRef) -> Result<bool, StoreError> {
        let _guard = self.users.lock(&self.person(user)).await;
        self.grants.revoke_user(user).await?;
        let removed = self.enrolments.remove(user).await?;
        self.audit.record("stepup.disable", Some(user), audit::Outcome::Success, &[]).await?;
        Ok(removed)
    }

    /// Grants `scope` in `conv` for `grant_ttl`.
    ///
    /// # Errors
    /// When the shared store keeping grants cannot record it.
    pub async fn grant(&self, conv: ConversationKey, scope: String) -> Result<(), StoreError> {
        let until = self.now_ms() + self.grant_ttl_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.grants.grant(conv, scope, until).await
    }

    /// The scopes currently granted in `conv`.
    ///
    /// # Errors
    /// When the shared store keeping grants cannot be read.
    pub async fn grants(&self, conv: &ConversationKey) -> Result<std::collections::BTreeSet<String>, StoreError> {
        self.grants.valid(conv, self.now_ms()).await
    }

    /// Counts failed attempts toward `[alerts]` (set once, at start).
    pub fn set_alerts(&self, alerts: Arc<crate::alerts::Alerts>) {
        let _ = self.alerts.set(alerts);
    }

    /// The audit trail step-up writes to.
    pub fn audit(&self) -> &Arc<Audit> {
        &self.audit
    }

    /// The suspended actions.
    pub fn pending(&self) -> &PendingActions {
        &self.pending
    }

    /// Where verified actions go back in: the dispatcher's intake (set once, after the dispatcher is built).
    /// Without it, a verified action runs at once in the task that received the code.
    pub fn set_resubmit(&self, sink: crate::adapter::EventSink) {
        let _ = self.resubmit.set(sink);
    }

    /// The intake verified actions go back into, if set.
    pub fn resubmit(&self) -> Option<&crate::adapter::EventSink> {
        self.resubmit.get()
    }

    /// Notes that the action suspended in `conv` was verified (`approval`) and resubmitted.
    pub fn note_resuming(&self, conv: ConversationKey, approval: crate::plugin::Approval) {
        let mut resuming = self.resuming.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if resuming.len() > 10_000 {
            resuming.clear();
        }
        resuming.insert(conv, approval);
    }

    /// What was approved for the verified action now running in `conv`, once.
    pub fn take_resuming(&self, conv: &ConversationKey) -> Option<crate::plugin::Approval> {
        self.resuming.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(conv)
    }
}

fn outcome_label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Accepted => "accepted",
        Outcome::Recovered { .. } => "recovery code used",
        Outcome::Wrong { before_pause: 0 } => "wrong; paused",
        Outcome::Wrong { .. } => "wrong",
        Outcome::Replayed => "replay refused",
        Outcome::Locked { .. } => "locked",
        Outcome::Malformed => "malformed",
    }
}
