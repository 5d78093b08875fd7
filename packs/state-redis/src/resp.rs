//! One connection to the Redis server: RESP2 frames (the `redis-protocol`
//! crate) over a `wasi:sockets` TCP stream, one command at a time.
//!
//! A connection that failed mid-command is dropped and never reused: the
//! server may or may not have run the command, so a write is never retried
//! blindly (compare-and-swap callers read and retry themselves).

use std::io::{Read, Write};
use std::net::TcpStream;

use envpack_sdk::{Error, net};
use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::encode::encode;
use redis_protocol::resp2::types::{OwnedFrame, Resp2Frame};

/// Largest reply accepted: a 1 MiB value many times over, far below the
/// instance's memory limit, so a hostile server cannot exhaust it.
const MAX_REPLY: usize = 64 << 20;

/// Where and how to connect, from the pack's configuration.
#[derive(Clone, Debug)]
pub struct Target {
    /// Host name or IP literal.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `SELECT` this database after connecting.
    pub database: Option<u32>,
    /// ACL user for `AUTH`.
    pub username: Option<String>,
    /// The name of the secret holding the `AUTH` password.
    pub password_secret: Option<String>,
}

impl Target {
    /// Parses `host:port` or `[v6]:port`.
    pub fn parse_address(address: &str) -> Result<(String, u16), Error> {
        let bad = || {
            Error::invalid_input(format!(
                "config address {address:?} is not host:port (such as 127.0.0.1:6379 or [::1]:6379); help: envpack env config <env> greentic.state.redis address 127.0.0.1:6379"
            ))
        };
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok((host.to_string(), port))
    }

    /// `host:port` as shown in messages.
    pub fn display(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// An open, authenticated connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    target: String,
}

impl Conn {
    /// Connects, authenticates and selects the database.
    pub fn open(target: &Target) -> Result<Self, Error> {
        let stream = net::connect(&target.host, target.port)?;
        let mut conn = Self {
            stream,
            buf: Vec::new(),
            target: target.display(),
        };
        if let Some(name) = &target.password_secret {
            let password = envpack_sdk::secret::require(name)?;
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &target.username {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            conn.call(&args).map_err(|e| match e {
                // The server's text, never the password.
                Error::Internal(m) if m.contains("WRONGPASS") || m.contains("invalid") => {
                    Error::denied(format!(
                        "redis at {} refused the password in secret {name:?}; help: envpack secrets put --env <env> {name}",
                        conn.target
                    ))
                }
                other => other,
            })?;
        } else if target.username.is_some() {
            return Err(Error::invalid_input(
                "config username is set without password_secret; help: envpack env config <env> greentic.state.redis password_secret REDIS_PASSWORD",
            ));
        }
        if let Some(db) = target.database {
            conn.call(&[b"SELECT", db.to_string().as_bytes()])?;
        }
        Ok(conn)
    }

    /// Sends one command and reads its reply. A Redis error reply is
    /// returned as `internal` with the server's text (`NOAUTH` as `denied`).
    pub fn call(&mut self, args: &[&[u8]]) -> Result<OwnedFrame, Error> {
        let frame = OwnedFrame::Array(
            args.iter()
                .map(|a| OwnedFrame::BulkString(a.to_vec()))
                .collect(),
        );
        let mut out = vec![0u8; frame.encode_len(false)];
        encode(&mut out, &frame, false)
            .map_err(|e| Error::internal(format!("cannot encode a redis command: {e:?}")))?;
        self.stream
            .write_all(&out)
            .and_then(|()| self.stream.flush())
            .map_err(|e| net::io_error(&self.target, &e))?;
        match self.read_frame()? {
            OwnedFrame::Error(text) if text.starts_with("NOAUTH") => Err(Error::denied(format!(
                "redis at {} requires a password: {text}; help: envpack env config <env> greentic.state.redis password_secret REDIS_PASSWORD",
                self.target
            ))),
            OwnedFrame::Error(text) => Err(Error::internal(format!(
                "redis at {} answered {} with an error: {text}",
                self.target,
                String::from_utf8_lossy(args.first().copied().unwrap_or_default())
            ))),
            other => Ok(other),
        }
    }

    fn read_frame(&mut self) -> Result<OwnedFrame, Error> {
        let mut chunk = [0u8; 16 << 10];
        loop {
            if !self.buf.is_empty() {
                match decode(&self.buf) {
                    Ok(Some((frame, used))) => {
                        self.buf.drain(..used);
                        return Ok(frame);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        return Err(Error::internal(format!(
                            "redis at {} sent a reply that is not RESP2: {e:?}",
                            self.target
                        )));
                    }
                }
            }
            if self.buf.len() > MAX_REPLY {
                return Err(Error::internal(format!(
                    "redis at {} sent a reply over {} MiB",
                    self.target,
                    MAX_REPLY >> 20
                )));
            }
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| net::io_error(&self.target, &e))?;
            if n == 0 {
                return Err(Error::unavailable(format!(
                    "redis at {} closed the connection",
                    self.target
                )));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            Target::parse_address("127.0.0.1:6379").ok(),
            Some(("127.0.0.1".into(), 6379))
        );
        assert_eq!(
            Target::parse_address("[::1]:6380").ok(),
            Some(("::1".into(), 6380))
        );
        for bad in ["", "redis", "redis:", ":6379", "redis:0", "redis:99999"] {
            assert!(Target::parse_address(bad).is_err(), "{bad:?}");
        }
    }
}
