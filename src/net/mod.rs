//! Listening sockets, for the API and a validator's relay alike: the connection loop (time to a complete request
//! head, its size, graceful shutdown), caps on the connections held in all and per client address, how client
//! addresses are grouped for every per-address limit, and the open-file limit.

mod connections;
mod serve;

use std::net::IpAddr;
use std::time::Duration;

pub use connections::{raise_open_file_limit, ConnectionGate, Refusal};
pub use serve::serve_connections;

/// File descriptors a listener's connection cap keeps back for the rest of the process: the database pool or
/// the client's state files, outgoing HTTP clients, the listener itself, logs.
pub const RESERVED_FILES: u64 = 128;

/// `wait` in whole seconds, rounded up: what a rate-limited client is told to wait.
pub fn seconds_rounded_up(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// What one connection may cost before it brings a request.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time from accepting a connection (or the previous response) to a complete request head.
    pub header_read_timeout: Duration,
    /// Total size of a request's header fields.
    pub max_header_bytes: usize,
    /// How long in-flight requests may go on after shutdown begins.
    pub shutdown_grace: Duration,
}

/// The address a client is counted under by per-address limits: an IPv4 address itself, an IPv6 address by its
/// /64 prefix (one subscriber's whole allocation, which it can walk through at will). An IPv4 address mapped
/// into IPv6 counts as itself.
pub fn client_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix_and_mapped_ipv4_as_itself() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_prefix: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other_prefix: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_address(one), client_address(same_prefix));
        assert_eq!(client_address(one), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(client_address(one), client_address(other_prefix));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_address(v4), v4);
        assert_eq!(client_address("::ffff:192.0.2.7".parse().unwrap()), v4);
    }
}
