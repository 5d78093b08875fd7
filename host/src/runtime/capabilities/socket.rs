//! Outbound TCP through `wasi:sockets` (capability `socket:<host>:<port>`).
//!
//! | manifest requests        | operator granted         | pack connects to      | result |
//! |--------------------------|--------------------------|-----------------------|--------|
//! | `socket:*`               | `socket:127.0.0.1:6379`  | `127.0.0.1:6379`      | connected |
//! | `socket:*`               | `socket:127.0.0.1:6379`  | `127.0.0.1:6380`      | `access-denied` |
//! | `socket:*`               | `socket:localhost:6379`  | an address `localhost` resolves to, port 6379 | connected |
//! | `socket:*`               | -                        | anywhere              | `access-denied` |
//! | -                        | `socket:127.0.0.1:6379`  | `127.0.0.1:6379`      | `access-denied` |
//! | `socket:*`               | `socket:127.0.0.1:6379`  | UDP, `listen`, a bind to a chosen address | `access-denied` |
//!
//! `wasi:sockets` checks IP addresses, never names, so a grant naming a host
//! is resolved by the host at the connect, and the connection is allowed
//! when the address is one of that name's (the grant, not the pack, decides
//! which name counts). Only TCP client connections exist: the implicit bind
//! a connect performs (to the unspecified address, port 0) is allowed,
//! explicit binds, `listen` and every UDP use are refused. Name lookup
//! (`ip-name-lookup`) is enabled only for a pack holding a socket grant, so
//! it can resolve the names it was granted.
//!
//! A refused connect reaches the pack as `access-denied`; the granter records
//! the capability with the command that grants it, and the SDK's
//! `net::connect` returns `denied` naming `socket:<host>:<port>`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use envpack_manifest::Capability;
use wasmtime_wasi::sockets::SocketAddrUse;

use super::Granter;

/// Whether the granter holds any socket capability the manifest also
/// requests, so TCP and name lookup should be switched on at all.
pub(crate) fn any_granted(granter: &Granter) -> bool {
    !granter.socket_grants().is_empty()
}

/// The `socket_addr_check` of an instance.
pub(crate) async fn check(granter: Arc<Granter>, addr: SocketAddr, used: SocketAddrUse) -> bool {
    match used {
        SocketAddrUse::TcpConnect => connect_allowed(&granter, addr).await,
        // The bind every connect performs first, to the unspecified address
        // and port 0; a bind to a chosen address or port is a server's.
        SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
        _ => false,
    }
}

/// Whether a TCP connect to `addr` is allowed. A refusal is recorded by the
/// granter, naming the address.
async fn connect_allowed(granter: &Granter, addr: SocketAddr) -> bool {
    let literal = Capability::socket_to(&ip_text(addr.ip()), addr.port());
    if granter.allows(&literal) {
        return true;
    }
    // Granted names: resolved now, so a name whose address changed follows
    // the change, and only names the operator granted are considered.
    for (name, port) in granted_names(granter) {
        if port != addr.port() {
            continue;
        }
        let Ok(found) = tokio::net::lookup_host((name.as_str(), port)).await else {
            continue;
        };
        if found.into_iter().any(|a| a.ip() == addr.ip()) {
            return granter.check(&Capability::socket_to(&name, port)).is_ok();
        }
    }
    granter.check(&literal).is_ok()
}

/// Exact host names (not IP literals, not `*` patterns) with their port in
/// the socket grants.
fn granted_names(granter: &Granter) -> Vec<(String, u16)> {
    granter
        .socket_grants()
        .into_iter()
        .filter_map(|(host, port)| {
            let port = port?;
            let exact = !host.contains('*') && host.parse::<IpAddr>().is_err();
            exact.then_some((host, port))
        })
        .collect()
}

/// An address as a capability writes it (IPv6 without brackets: the
/// pattern adds them).
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::table::granter;

    fn run(granter: &Arc<Granter>, addr: &str, used: SocketAddrUse) -> bool {
        let addr: SocketAddr = addr.parse().expect("addr");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(check(granter.clone(), addr, used))
    }

    /// The table above.
    #[test]
    fn allows() {
        use SocketAddrUse::*;
        for (requested, granted, addr, used, want) in [
            (
                "socket:*",
                "socket:127.0.0.1:6379",
                "127.0.0.1:6379",
                TcpConnect,
                true,
            ),
            (
                "socket:*",
                "socket:127.0.0.1:6379",
                "127.0.0.1:6380",
                TcpConnect,
                false,
            ),
            (
                "socket:*",
                "socket:localhost:6379",
                "127.0.0.1:6379",
                TcpConnect,
                true,
            ),
            (
                "socket:*",
                "socket:localhost:6379",
                "127.0.0.1:6380",
                TcpConnect,
                false,
            ),
            ("socket:*", "", "127.0.0.1:6379", TcpConnect, false),
            (
                "",
                "socket:127.0.0.1:6379",
                "127.0.0.1:6379",
                TcpConnect,
                false,
            ),
            (
                "socket:127.0.0.1:6379",
                "socket:*",
                "127.0.0.1:6379",
                TcpConnect,
                true,
            ),
            (
                "socket:127.0.0.1:6379",
                "socket:*",
                "10.1.2.3:6379",
                TcpConnect,
                false,
            ),
            (
                "socket:*",
                "socket:[::1]:6379",
                "[::1]:6379",
                TcpConnect,
                true,
            ),
            (
                "socket:*",
                "socket:127.0.0.1:6379",
                "[::ffff:127.0.0.1]:6379",
                TcpConnect,
                true,
            ),
            (
                "socket:*",
                "socket:127.0.0.1:6379",
                "0.0.0.0:0",
                TcpBind,
                true,
            ),
            (
                "socket:*",
                "socket:127.0.0.1:6379",
                "127.0.0.1:6379",
                TcpBind,
                false,
            ),
            (
                "socket:*",
                "socket:127.0.0.1:6379",
                "0.0.0.0:0",
                TcpListen,
                false,
            ),
            (
                "socket:*",
                "socket:127.0.0.1:6379",
                "127.0.0.1:6379",
                UdpSend,
                false,
            ),
            (
                "socket:*",
                "socket:127.0.0.1:6379",
                "0.0.0.0:0",
                UdpBind,
                false,
            ),
            (
                "http:*",
                "http:127.0.0.1:6379",
                "127.0.0.1:6379",
                TcpConnect,
                false,
            ),
        ] {
            let requested: Vec<&str> = [requested].into_iter().filter(|s| !s.is_empty()).collect();
            let granted: Vec<&str> = [granted].into_iter().filter(|s| !s.is_empty()).collect();
            let g = Arc::new(granter(&requested, &granted));
            assert_eq!(
                run(&g, addr, used),
                want,
                "{requested:?} x {granted:?} -> {addr} ({used:?})"
            );
        }
    }

    #[test]
    fn denial_names_the_address_and_tcp_is_off_without_a_grant() {
        let g = Arc::new(granter(&["socket:*"], &["socket:127.0.0.1:6379"]));
        assert!(any_granted(&g));
        assert!(!run(&g, "127.0.0.1:6380", SocketAddrUse::TcpConnect));
        let denials = g.denials();
        assert_eq!(denials.len(), 1);
        assert_eq!(denials[0].capability.to_string(), "socket:127.0.0.1:6380");
        assert!(!any_granted(&granter(&["socket:*"], &[])));
        assert!(!any_granted(&granter(&[], &["socket:127.0.0.1:6379"])));
    }
}
