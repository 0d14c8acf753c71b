//! Who is at the other end of the control socket: the peer's uid from the kernel (`SO_PEERCRED`), checked
//! against this process's own, and named for the audit trail.

use std::path::Path;

/// A connected peer: its uid and, when `/etc/passwd` names it, its user name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The peer's uid, as the kernel reports it.
    pub uid: u32,
    /// The peer's process id, when the kernel reports it.
    pub pid: Option<i32>,
}

impl Caller {
    /// The caller as the audit trail names it: `uid 1000 (alice)`.
    pub fn describe(&self) -> String {
        match user_name(self.uid) {
            Some(name) => format!("uid {} ({name})", self.uid),
            None => format!("uid {}", self.uid),
        }
    }
}

/// Whether a peer running as `peer` may use a socket served by `own`: the same user, or root.
pub fn allowed(peer: u32, own: u32) -> bool {
    peer == own || peer == 0
}

/// This process's effective uid (the owner of `/proc/self`), or that of a file it just created.
pub fn own_uid(created: Option<&Path>) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .or_else(|_| created.map_or_else(|| Err(std::io::ErrorKind::NotFound.into()), std::fs::metadata))
        .ok()
        .map(|m| m.uid())
}

/// The name `/etc/passwd` gives `uid`.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_user_and_root_are_allowed_no_one_else() {
        assert!(allowed(1000, 1000));
        assert!(allowed(0, 1000));
        assert!(!allowed(1001, 1000));
        assert!(!allowed(65534, 0));
    }

    #[test]
    fn root_is_named() {
        assert_eq!(Caller { uid: 0, pid: None }.describe(), "uid 0 (root)");
    }
}
