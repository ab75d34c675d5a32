//! systemd's readiness protocol (`Type=notify`, sd_notify(3)): once the
//! pipeline is first ready (`/readyz`), `READY=1` goes to `$NOTIFY_SOCKET`,
//! so `systemctl start` returns when the alerts can be trusted and units
//! ordered after vbp-watch wait for that. Without the variable it does
//! nothing. No crate: it is one datagram.

use std::os::unix::net::UnixDatagram;

#[derive(Default)]
pub struct Notify {
    told: bool,
}

impl Notify {
    /// Tells systemd the service is ready, once; errors are logged, never fatal.
    pub fn ready(&mut self, status: &str) {
        if self.told {
            return;
        }
        self.told = true;
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
        if let Err(e) = send(&path, &format!("READY=1\nSTATUS={status}\n")) {
            tracing::warn!("cannot tell systemd the service is ready ({}): {e}", path.to_string_lossy());
        }
    }
}

fn send(path: &std::ffi::OsStr, message: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_bytes();
    // A leading '@' is Linux's abstract namespace.
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        socket.send_to_addr(message.as_bytes(), &addr)?;
    } else {
        socket.send_to(message.as_bytes(), path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ready_reaches_a_notify_socket() {
        let dir = std::env::temp_dir().join(format!("vbp-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        super::send(path.as_os_str(), "READY=1\nSTATUS=caught up\n").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=caught up\n");
    }
}
