//! The network facts the panel shows: the box's host name, its addresses, and the shares the
//! medical software connects to.

use std::net::IpAddr;

use nix::ifaddrs::getifaddrs;

/// Host name, addresses and shares, as the network page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInfo {
    pub host: String,
    /// IPv4 addresses first, then IPv6; loopback and link-local addresses are left out.
    pub addresses: Vec<IpAddr>,
    /// Share paths as a Windows PC writes them, such as `\\practicebox\Vermeiren_Lotte`.
    pub shares: Vec<String>,
}

impl NetworkInfo {
    /// Reads the host name and the interface addresses of this machine; `share_names` are the
    /// shares the box serves.
    pub fn of_this_machine(share_names: &[String]) -> Self {
        let host = nix::unistd::gethostname()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot read the host name");
                String::new()
            });
        let shares = share_names
            .iter()
            .map(|share| format!("\\\\{host}\\{share}"))
            .collect();
        Self {
            addresses: interface_addresses(),
            host,
            shares,
        }
    }
}

/// Returns the addresses of the machine's interfaces, as [`NetworkInfo::addresses`] orders
/// them.
fn interface_addresses() -> Vec<IpAddr> {
    let interfaces = match getifaddrs() {
        Ok(interfaces) => interfaces,
        Err(error) => {
            tracing::warn!(%error, "cannot list the network interfaces");
            return Vec::new();
        }
    };
    let mut addresses: Vec<IpAddr> = interfaces
        .filter_map(|interface| interface.address)
        .filter_map(|address| {
            if let Some(ipv4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(ipv4.ip()))
            } else {
                address.as_sockaddr_in6().map(|ipv6| IpAddr::V6(ipv6.ip()))
            }
        })
        .filter(is_shown)
        .collect();
    addresses.sort_by_key(|address| (address.is_ipv6(), *address));
    addresses.dedup();
    addresses
}

/// Leaves out addresses that no other machine of the practice uses to reach the box.
fn is_shown(address: &IpAddr) -> bool {
    match address {
        IpAddr::V4(ipv4) => !ipv4.is_loopback() && !ipv4.is_link_local(),
        IpAddr::V6(ipv6) => !ipv6.is_loopback() && !ipv6.is_unicast_link_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_link_local_are_hidden() {
        let hidden: [IpAddr; 3] = [
            "127.0.0.1".parse().unwrap(),
            "169.254.10.1".parse().unwrap(),
            "fe80::1".parse().unwrap(),
        ];
        for address in hidden {
            assert!(!is_shown(&address), "{address}");
        }
        assert!(is_shown(&"192.168.1.20".parse().unwrap()));
    }

    #[test]
    fn shares_carry_host_name() {
        let info = NetworkInfo::of_this_machine(&["Vermeiren_Lotte".to_owned()]);

        assert_eq!(info.shares, [format!("\\\\{}\\Vermeiren_Lotte", info.host)]);
        assert!(info.addresses.iter().all(is_shown));
    }
}
