//! systemd readiness and watchdog notifications (`sd_notify` protocol), without a libsystemd dependency:
//! a datagram to the socket named by `$NOTIFY_SOCKET`. Without that variable every call is a no-op, so the
//! gateway runs the same under systemd (`Type=notify`, `WatchdogSec=`) and from a terminal.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends one notification such as `READY=1`; errors are logged, never fatal.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let result = (|| -> std::io::Result<()> {
        let sock = UnixDatagram::unbound()?;
        let bytes = path.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sock.send_to_addr(state.as_bytes(), &addr)?;
        } else {
            sock.send_to(state.as_bytes(), &path)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!("sd_notify {state:?} failed: {e}");
    }
}

/// The watchdog interval systemd asked for (`$WATCHDOG_USEC`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    std::env::var("WATCHDOG_USEC")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v > 0)
        .map(Duration::from_micros)
}
