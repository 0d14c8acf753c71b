//! Shared test fixtures: the test kit's harness and stores, and a probe plugin.

pub mod backend;
pub mod probe;
pub mod stepup;

pub use palisade_testkit::{Harness, event, memory_store, sled_store, test_key, text_of, user};

/// Every file under `dir`, read whole.
pub fn all_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

/// The marker raw, as hex (both cases) and as base64 at each of the three byte alignments.
pub fn encodings(marker: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = vec![marker.as_bytes().to_vec()];
    let hex: String = marker.bytes().map(|b| format!("{b:02x}")).collect();
    forms.push(hex.clone().into_bytes());
    forms.push(hex.to_uppercase().into_bytes());
    for pad in 0..3 {
        let encoded = b64.encode([&b"xx"[..pad], marker.as_bytes()].concat());
        // Drop the characters that depend on the neighbouring bytes.
        forms.push(encoded.as_bytes()[4..encoded.len() - 4].to_vec());
    }
    forms
}

/// Whether any file under `dir` holds `marker` in plaintext, raw or encoded (see [`encodings`]).
pub fn any_file_contains(dir: &std::path::Path, marker: &str) -> bool {
    let files = all_bytes(dir);
    encodings(marker).iter().any(|form| files.iter().any(|(_, bytes)| bytes.windows(form.len()).any(|w| w == form)))
}
