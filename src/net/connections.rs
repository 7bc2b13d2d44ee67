//! How many connections a listener holds: a cap in all and per client address, so that sockets that never send
//! a request cannot exhaust the process's file descriptors, and the open-file limit raised to what the system
//! allows at start.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

/// Counts open connections against the caps; a [`ConnectionSlot`] frees its place when dropped.
pub struct ConnectionGate {
    max_total: usize,
    /// `None` behind a reverse proxy, where every connection comes from the proxy's address.
    max_per_ip: Option<usize>,
    /// Whether this gate is the one the service's connection metrics describe (a process may hold others).
    metered: bool,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection.
pub struct ConnectionSlot {
    gate: Arc<ConnectionGate>,
    ip: IpAddr,
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerIp,
}

impl Refusal {
    pub fn metric_label(self) -> &'static str {
        match self {
            Refusal::Total => "max_connections",
            Refusal::PerIp => "max_connections_per_ip",
        }
    }
}

impl ConnectionGate {
    /// A gate of its own, outside the service's connection metrics.
    pub fn new(max_total: usize, max_per_ip: Option<usize>) -> Arc<Self> {
        Arc::new(ConnectionGate {
            max_total: max_total.max(1),
            max_per_ip,
            metered: false,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// The open-file limit raised to the hard limit, then a gate whose total stays [`super::RESERVED_FILES`]
    /// below it (and at most `max_total`): connections never take the descriptors the rest of the process
    /// needs. `metered` gates report to the service's connection metrics.
    pub fn within_open_files(max_total: usize, max_per_ip: Option<usize>, metered: bool) -> Arc<Self> {
        let open_files = raise_open_file_limit();
        let by_files =
            open_files.map_or(usize::MAX, |limit| limit.saturating_sub(super::RESERVED_FILES).max(16) as usize);
        let max_total = max_total.min(by_files).max(1);
        // Plain numbers in the log (`Some(20000)` is Rust, not an operator's word); an unknown limit is left out.
        tracing::info!(
            open_files,
            max_connections = max_total,
            max_connections_per_ip = max_per_ip.map(|n| n as u64),
            "connection limits"
        );
        Arc::new(ConnectionGate { max_total, max_per_ip, metered, open: Mutex::new((0, HashMap::new())) })
    }

    /// A place for a connection from `ip` (counted under [`super::client_address`]), or why there is none.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let ip = super::client_address(ip);
        let mut open = self.open.lock();
        let from_ip = open.1.get(&ip).copied().unwrap_or(0);
        let refusal = if open.0 >= self.max_total {
            Some(Refusal::Total)
        } else if self.max_per_ip.is_some_and(|limit| from_ip >= limit) {
            Some(Refusal::PerIp)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            if self.metered {
                crate::metrics::connection_refused(refusal.metric_label());
            }
            return Err(refusal);
        }
        open.0 += 1;
        open.1.insert(ip, from_ip + 1);
        if self.metered {
            crate::metrics::connections_open(open.0);
        }
        Ok(ConnectionSlot { gate: self.clone(), ip })
    }

    /// Connections held now.
    pub fn open(&self) -> usize {
        self.open.lock().0
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock();
        open.0 -= 1;
        if self.gate.metered {
            crate::metrics::connections_open(open.0);
        }
        if let Some(count) = open.1.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// Raises the soft limit on open files to the hard limit and returns the limit now in force (`None` where it
/// cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is u64 here, not on every platform.
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_in_all_and_per_address_and_free_on_drop() {
        let gate = ConnectionGate::new(3, Some(2));
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).err(), Some(Refusal::PerIp));
        let _third = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).err(), Some(Refusal::Total));
        drop(first);
        assert_eq!(gate.open(), 2);
        assert!(gate.admit(a).is_ok());
        let unshared = ConnectionGate::new(2, None);
        let _slots = (unshared.admit(a).unwrap(), unshared.admit(a).unwrap());
        assert_eq!(unshared.admit(a).err(), Some(Refusal::Total));
    }

    #[test]
    fn one_ipv6_prefix_shares_one_per_address_cap() {
        let gate = ConnectionGate::new(10, Some(2));
        let _held =
            [gate.admit("2001:db8::1".parse().unwrap()).unwrap(), gate.admit("2001:db8::2".parse().unwrap()).unwrap()];
        assert_eq!(gate.admit("2001:db8::ffff:3".parse().unwrap()).err(), Some(Refusal::PerIp));
        assert!(gate.admit("2001:db8:0:1::1".parse().unwrap()).is_ok(), "another /64 is another client");
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let limit = raise_open_file_limit().expect("readable on unix");
        let mut now = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: as above.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut now) };
        assert_eq!(now.rlim_cur, now.rlim_max);
        #[allow(clippy::unnecessary_cast)]
        let hard = now.rlim_max as u64;
        assert_eq!(limit, hard);
    }
}
