//! Outbound TCP connections (capability `socket:<host>:<port>`).
//!
//! A pack requests `sockets = ["*"]` (the operator chooses the server) or
//! `sockets = ["db.internal:5432"]` in `pack.toml`; the operator grants
//! `--grant socket:<host>:<port>`. The host checks every connect against
//! the grant (a granted name is resolved by the host, and the connect is
//! allowed to its addresses only); UDP and listening are never allowed.
//! Connections are plain `std::net::TcpStream`s, so any protocol crate
//! that works over `Read + Write` works here.
//!
//! The host bounds every wait by the call's deadline; [`connect`] also sets
//! read and write timeouts so a silent server fails the call with `timeout`
//! instead of running it into the deadline.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use crate::Error;

/// Read and write timeout [`connect`] sets.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Connects to `host:port`.
///
/// A connect the environment does not allow returns [`Error::Denied`]
/// naming `socket:<host>:<port>` and how to grant it; an unreachable or
/// refusing server returns [`Error::Unavailable`] naming the address.
///
/// ```no_run
/// use std::io::Write;
/// let mut stream = envpack_sdk::net::connect("127.0.0.1", 6379)?;
/// stream.write_all(b"PING\r\n").map_err(|e| envpack_sdk::Error::unavailable(e.to_string()))?;
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
pub fn connect(host: &str, port: u16) -> Result<TcpStream, Error> {
    let stream = TcpStream::connect((host, port)).map_err(|e| connect_error(host, port, &e))?;
    // Timeouts are best effort: the host's deadline holds regardless.
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The pack error for a failed connect to `host:port`.
pub fn connect_error(host: &str, port: u16, e: &io::Error) -> Error {
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    match e.kind() {
        io::ErrorKind::PermissionDenied => Error::denied(format!(
            "connecting to {target} is not allowed: the pack must request and the environment must grant capability \"socket:{target}\" (envpack env bind ... --grant socket:{target})"
        )),
        io::ErrorKind::TimedOut => Error::timeout(format!("connecting to {target} timed out")),
        _ => Error::unavailable(format!("cannot connect to {target}: {e}")),
    }
}

/// The pack error for a failed read or write on a connection to `target`.
pub fn io_error(target: &str, e: &io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::timeout(format!(
            "{target} did not answer within {}s",
            IO_TIMEOUT.as_secs()
        )),
        _ => Error::unavailable(format!("the connection to {target} failed: {e}")),
    }
}
