//! Data manifests: what personal data a plugin stores, why, on what legal basis and for how long. The store
//! refuses a plugin's writes to namespaces it has not declared, retention comes from here (config may only
//! shorten it), and `/privacy`, `/mydata`, `/correct` and `/forget` are built from it.

use std::time::Duration;

/// The GDPR Art. 6 legal basis for processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegalBasis {
    /// The user agreed (Art. 6(1)(a)); the plugin asks before storing anything.
    Consent,
    /// Needed to provide what the user asked for (Art. 6(1)(b)).
    Contract,
    /// Required by law (Art. 6(1)(c)).
    LegalObligation,
    /// Legitimate interests such as security (Art. 6(1)(f)).
    LegitimateInterests,
}

impl LegalBasis {
    /// How `/privacy` names it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Consent => "your consent",
            Self::Contract => "providing the service you asked for",
            Self::LegalObligation => "a legal obligation",
            Self::LegitimateInterests => "legitimate interests (security)",
        }
    }
}

/// One field inside a namespace's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// JSON key in the record.
    pub name: &'static str,
    /// What it holds, for people.
    pub description: &'static str,
    /// Users may rectify it with `/correct`.
    pub correctable: bool,
}

/// One namespace of records about users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// Store namespace (the plugin's name, or `plugin.part`).
    pub name: &'static str,
    /// What is kept, for people.
    pub description: &'static str,
    /// Why.
    pub purpose: &'static str,
    /// On what basis.
    pub basis: LegalBasis,
    /// How long records are kept after they were last written.
    pub retention: Duration,
    /// The fields, for `/correct` and the export.
    pub fields: Vec<Field>,
}

impl Namespace {
    /// A namespace kept for `purpose` on `basis` for `retention`.
    pub fn new(
        name: &'static str,
        description: &'static str,
        purpose: &'static str,
        basis: LegalBasis,
        retention: Duration,
    ) -> Self {
        Self { name, description, purpose, basis, retention, fields: Vec::new() }
    }

    /// Declares a field.
    #[must_use]
    pub fn field(mut self, name: &'static str, description: &'static str, correctable: bool) -> Self {
        self.fields.push(Field { name, description, correctable });
        self
    }
}

/// Consent a plugin asks for once before first use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRequest {
    /// Bump it when the text changes materially: everyone is asked again.
    pub version: u32,
    /// What the user agrees to.
    pub text: &'static str,
}

/// Everything a plugin declares about the personal data it keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataManifest {
    /// Namespaces it writes.
    pub namespaces: Vec<Namespace>,
    /// Consent it needs before any command runs.
    pub consent: Option<ConsentRequest>,
}

impl DataManifest {
    /// A manifest declaring `namespace`.
    pub fn with(namespace: Namespace) -> Self {
        Self { namespaces: vec![namespace], consent: None }
    }

    /// Adds a namespace.
    #[must_use]
    pub fn and(mut self, namespace: Namespace) -> Self {
        self.namespaces.push(namespace);
        self
    }

    /// Requires consent (version, text) before the plugin's commands run.
    #[must_use]
    pub fn consent(mut self, version: u32, text: &'static str) -> Self {
        self.consent = Some(ConsentRequest { version, text });
        self
    }
}

/// `n` days.
pub const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}
