//! Batch records: the events one intake batch accepted, written as one record.
//!
//! A batch record is about no one (the store seals it as a whole under its system key and files it under its
//! id); inside it each event is a part sealed under its own person's data key ([`Store::seal_part`]) and
//! bound to the entry id the event would have on its own, so a part opens only as that event, and not at all
//! once its person is erased.
//!
//! Layout: a version byte, then per event its number and when it was accepted (u64 each, big-endian), the
//! part's length (u32, big-endian) and the part.
//!
//! [`Store::seal_part`]: crate::store::Store::seal_part

use std::ops::Range;

/// The layout written.
const VERSION: u8 = 1;

/// One event in a batch record.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Frame {
    /// The event's number in its journal.
    pub seq: u64,
    /// When it was accepted (ms since the epoch).
    pub accepted_ms: u64,
    /// Where its part (the entry, sealed under its person's data key) is in the record.
    pub part: Range<usize>,
}

/// A batch record's value, and where each event is in it.
#[derive(Debug)]
pub(super) struct Batch {
    /// The value as written.
    pub bytes: Vec<u8>,
    /// Its events, in the order written.
    pub frames: Vec<Frame>,
}

impl Default for Batch {
    fn default() -> Self {
        Self { bytes: vec![VERSION], frames: Vec::new() }
    }
}

impl Batch {
    /// Appends an event's part.
    pub fn push(&mut self, seq: u64, accepted_ms: u64, part: &[u8]) {
        self.bytes.extend_from_slice(&seq.to_be_bytes());
        self.bytes.extend_from_slice(&accepted_ms.to_be_bytes());
        self.bytes.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        let at = self.bytes.len();
        self.bytes.extend_from_slice(part);
        self.frames.push(Frame { seq, accepted_ms, part: at..self.bytes.len() });
    }

    /// The part of `frame`.
    pub fn part(&self, frame: &Frame) -> &[u8] {
        part_at(&self.bytes, &frame.part)
    }

    /// The batch a record's value holds, or what is wrong with it.
    pub fn decode(bytes: Vec<u8>) -> Result<Self, String> {
        let Some((&version, mut rest)) = bytes.split_first() else { return Err("an empty batch record".into()) };
        if version != VERSION {
            return Err(format!("a batch record of layout {version}, this version reads layout {VERSION}"));
        }
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let cut = || format!("a batch record cut short after {} events", frames.len());
            let (head, tail) = rest.split_first_chunk::<20>().ok_or_else(cut)?;
            let (seq, head) = head.split_first_chunk::<8>().ok_or_else(cut)?;
            let (accepted_ms, len) = head.split_first_chunk::<8>().ok_or_else(cut)?;
            let len = u32::from_be_bytes(len.first_chunk::<4>().copied().ok_or_else(cut)?) as usize;
            if tail.len() < len {
                return Err(cut());
            }
            let at = bytes.len() - tail.len();
            frames.push(Frame {
                seq: u64::from_be_bytes(*seq),
                accepted_ms: u64::from_be_bytes(*accepted_ms),
                part: at..at + len,
            });
            rest = &tail[len..];
        }
        Ok(Self { bytes, frames })
    }
}

/// The part at `range` of a batch record's value `bytes` (empty where the range is not in it: it then fails
/// to open as a sealed part).
pub(super) fn part_at<'a>(bytes: &'a [u8], range: &Range<usize>) -> &'a [u8] {
    bytes.get(range.clone()).unwrap_or_default()
}

/// The record id of batch `n` in the journal whose ids start with `prefix`.
pub(super) fn id(prefix: &str, n: u64) -> String {
    super::numbered_id(prefix, "b", n)
}

/// The batch's number when `id` is a batch record of the journal whose ids start with `prefix`.
pub(super) fn number(id: &[u8], prefix: &str) -> Option<u64> {
    let digits = id.strip_prefix(prefix.as_bytes())?.strip_prefix(b"b")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back_and_damage_is_named() {
        let mut batch = Batch::default();
        batch.push(7, 1_700_000_000_000, &[1, 2, 3]);
        batch.push(8, 1_700_000_000_001, &[]);
        let back = Batch::decode(batch.bytes.clone()).unwrap();
        assert_eq!(back.frames, batch.frames);
        assert_eq!(
            back.frames.iter().map(|f| (f.seq, f.accepted_ms, back.part(f).to_vec())).collect::<Vec<_>>(),
            [(7, 1_700_000_000_000, vec![1, 2, 3]), (8, 1_700_000_000_001, vec![])]
        );
        let bytes = &batch.bytes;
        for cut in 2..bytes.len() {
            if cut == 1 + 20 + 3 {
                continue; // a whole first frame
            }
            assert!(Batch::decode(bytes[..cut].to_vec()).unwrap_err().contains("cut short"), "cut at {cut}");
        }
        assert!(Batch::decode(vec![9]).unwrap_err().contains("layout 9"));
        assert!(Batch::decode(Vec::new()).is_err());
        assert_eq!(Batch::decode(vec![VERSION]).unwrap().frames, [], "a batch of none reads back as none");
    }

    #[test]
    fn batch_ids_are_told_apart_from_entry_ids_and_other_journals() {
        assert_eq!(id("j", 5), "jb0000000000000005");
        assert_eq!(number(id("j", 5).as_bytes(), "j"), Some(5));
        assert_eq!(number(id("jweb-1.", 12).as_bytes(), "jweb-1."), Some(12));
        assert_eq!(number(id("jweb-1.", 12).as_bytes(), "j"), None, "another replica's batch");
        assert_eq!(number(b"j0000000000000005", "j"), None, "an entry of its own");
        assert_eq!(number(b"jb.0000000000000005", "j"), None, "an entry of replica b");
        assert_eq!(number(b"jb", "j"), None);
    }

    #[test]
    fn ids_are_what_the_formatting_machinery_writes() {
        for n in [0, 7, 9_999_999_999_999_999, 10_000_000_000_000_000, u64::MAX] {
            assert_eq!(id("j", n), format!("jb{n:016}"));
            assert_eq!(super::super::entry_id("jweb-1.", n), format!("jweb-1.{n:016}"));
            assert_eq!(number(id("jweb-1.", n).as_bytes(), "jweb-1."), Some(n));
        }
    }
}
