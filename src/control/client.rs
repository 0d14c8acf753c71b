//! The command line's side: find the running bot's socket, make sure it is one to trust, ask, read the
//! answer. No socket, or one nobody answers on (left by a crashed process), means no bot runs: the caller
//! opens the store directly.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tokio::net::UnixStream;

use super::peer;
use super::wire::{self, Answer, Envelope, Request};

/// Asks the bot serving `socket`. `Ok(None)` when no bot answers there.
pub async fn ask(socket: &Path, request: Request) -> Result<Option<Answer>, String> {
    let Some(mut stream) = connect(socket).await? else { return Ok(None) };
    let envelope = Envelope { version: env!("CARGO_PKG_VERSION").to_string(), request };
    let (reader, writer) = stream.split();
    wire::write_request(writer, &envelope)
        .await
        .map_err(|e| format!("cannot talk to the bot on {}: {e}", socket.display()))?;
    wire::read_answer(reader).await.map(Some).map_err(|e| format!("{}: {e}", socket.display()))
}

/// Connects to `socket` if a bot serves it, after checking who owns it and who answers.
async fn connect(socket: &Path) -> Result<Option<UnixStream>, String> {
    let meta = match std::fs::symlink_metadata(socket) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot look at {}: {e}", socket.display())),
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "{} is not a socket (a {}); it is not the bot's control socket — remove it",
            socket.display(),
            if meta.file_type().is_symlink() { "symbolic link" } else { "file" }
        ));
    }
    let own = peer::own_uid(None);
    if let Some(own) = own
        && !peer::allowed(meta.uid(), own)
    {
        return Err(format!(
            "{} belongs to uid {}, not to you or root; refusing to trust it",
            socket.display(),
            meta.uid()
        ));
    }
    let stream = match UnixStream::connect(socket).await {
        Ok(stream) => stream,
        // Left by a process that is gone: not trusted, not used.
        Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound) => {
            return Ok(None);
        }
        Err(e) => return Err(format!("cannot connect to the bot on {}: {e}", socket.display())),
    };
    let server = stream.peer_cred().map_err(|e| format!("cannot identify the process on {}: {e}", socket.display()))?;
    if let Some(own) = own
        && !peer::allowed(server.uid(), own)
    {
        return Err(format!(
            "the process on {} runs as uid {}, not as you or root; refusing to talk to it",
            socket.display(),
            server.uid()
        ));
    }
    Ok(Some(stream))
}
