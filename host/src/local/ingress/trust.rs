//! Who may pick a revision with the `x-envpack-revision` header.
//!
//! The header lets a caller bypass the traffic split and reach any ready
//! revision, so it is a privilege. Trust is explicit: the operator lists
//! the peer networks that may use it (`--trust-revision-header-from CIDR`);
//! by default no peer is trusted, whatever the listener. Loopback is not
//! trusted implicitly, because behind a reverse proxy on the same machine
//! every public request arrives from loopback.
//!
//! Addresses are compared in canonical form: on a dual-stack listener an
//! IPv4 client appears as `::ffff:a.b.c.d`, which matches `a.b.c.d/..`
//! networks (and a network written as `::ffff:a.b.c.d/120` matches plain
//! IPv4 peers), so a mapped address can neither slip past nor be refused
//! by a rule written for IPv4.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

/// The peer networks trusted with the revision header.
#[derive(Clone, Debug, Default)]
pub struct HeaderTrust {
    nets: Vec<IpNet>,
}

impl HeaderTrust {
    /// Trusts peers in any of `nets` (none: the header is refused).
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            nets: nets.into_iter().map(canonical_net).collect(),
        }
    }

    /// Whether a request from `peer` may pick its revision.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.nets.iter().any(|n| n.contains(&peer))
    }

    /// The trusted networks, for messages (`none` when empty).
    pub fn describe(&self) -> String {
        if self.nets.is_empty() {
            return "none".into();
        }
        let nets: Vec<String> = self.nets.iter().map(ToString::to_string).collect();
        nets.join(", ")
    }
}

/// An IPv4-mapped IPv6 network (`::ffff:0:0/96` and narrower) as the IPv4
/// network it denotes; any other network unchanged.
fn canonical_net(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else { return net };
    match (v6.addr().to_ipv4_mapped(), v6.prefix_len().checked_sub(96)) {
        (Some(v4), Some(len)) => Ipv4Net::new(v4, len).map_or(net, |n| IpNet::V4(n.trunc())),
        _ => net,
    }
}

/// Parses a `--trust-revision-header-from` value: a CIDR network
/// (`10.0.0.0/8`, `::1/128`) or a single address (`127.0.0.1`).
pub fn parse_net(s: &str) -> std::result::Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(format!(
        "{s:?} is not a network: expected CIDR notation such as 127.0.0.1/32, \
         10.0.0.0/8 or ::1/128, or a single address"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn trust(nets: &[&str]) -> HeaderTrust {
        HeaderTrust::new(nets.iter().map(|n| parse_net(n).unwrap()))
    }

    /// (trusted networks, peer, trusted?)
    const CASES: &[(&[&str], &str, bool)] = &[
        (&[], "127.0.0.1", false),
        (&[], "::1", false),
        (&[], "::ffff:127.0.0.1", false),
        (&["127.0.0.1/32"], "127.0.0.1", true),
        (&["127.0.0.1/32"], "::ffff:127.0.0.1", true),
        (&["127.0.0.1/32"], "127.0.0.2", false),
        (&["127.0.0.1/32"], "::1", false),
        (&["127.0.0.0/8"], "::ffff:127.9.9.9", true),
        (&["::1/128"], "::1", true),
        (&["::1/128"], "127.0.0.1", false),
        (&["::ffff:10.0.0.0/104"], "10.1.2.3", true),
        (&["::ffff:10.0.0.0/104"], "11.1.2.3", false),
        (&["10.0.0.7"], "10.0.0.7", true),
        (&["10.0.0.7"], "10.0.0.8", false),
        (&["192.168.0.0/16", "::1/128"], "::1", true),
        (&["192.168.0.0/16", "::1/128"], "::ffff:192.168.4.4", true),
        (&["192.168.0.0/16", "::1/128"], "8.8.8.8", false),
    ];

    #[test]
    fn trusts_exactly_the_listed_networks_in_canonical_form() {
        for (nets, peer, want) in CASES {
            let got = trust(nets).trusts(peer.parse().unwrap());
            assert_eq!(got, *want, "nets {nets:?}, peer {peer}");
        }
    }

    #[test]
    fn parses_networks_and_addresses_and_refuses_the_rest() {
        assert_eq!(parse_net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_net("::1").unwrap().to_string(), "::1/128");
        for bad in ["", "loopback", "10.0.0.0/33", "1.2.3", "::1/129", "*"] {
            let e = parse_net(bad).unwrap_err();
            assert!(e.contains("CIDR"), "{bad}: {e}");
        }
    }

    #[test]
    fn describes_itself() {
        assert_eq!(trust(&[]).describe(), "none");
        assert_eq!(
            trust(&["127.0.0.1", "::ffff:10.0.0.0/104"]).describe(),
            "127.0.0.1/32, 10.0.0.0/8"
        );
    }
}
