//! Names no person or group of the IdP may take (docs/security.md, "The IdP
//! and its SCIM token"): the accounts and groups a node already has for
//! itself. A user named `root` would log in as UID 0 through libnss-cache
//! and sshd; a group named `sudo` or `wheel` would grant its members root.
//! Derived names that hit one are treated as taken (a suffix follows);
//! overrides that name one are refused.

/// Every account and group of a stock Debian (base-passwd, systemd, the
/// usual daemons) and RHEL/Rocky (setup, systemd, the usual daemons)
/// install, the service accounts an HPC or GPU cluster runs, and the
/// administrative names that image builders and clouds create. Sorted, so
/// a look-up is a binary search.
pub const SYSTEM_NAMES: &[&str] = &[
    "_apt",
    "_chrony",
    "_ssh",
    "abrt",
    "adm",
    "admin",
    "administrator",
    "apache",
    "audio",
    "avahi",
    "avahi-autoipd",
    "backup",
    "bin",
    "bind",
    "bluetooth",
    "cdrom",
    "ceph",
    "chrony",
    "clevis",
    "cloud-user",
    "cockpit-ws",
    "cockpit-wsinstance",
    "colord",
    "containerd",
    "crontab",
    "cups",
    "daemon",
    "dbus",
    "debian",
    "dhcpd",
    "dialout",
    "dip",
    "disk",
    "dnsmasq",
    "docker",
    "dovecot",
    "ec2-user",
    "elasticsearch",
    "exim",
    "fax",
    "flatpak",
    "floppy",
    "ftp",
    "fwupd-refresh",
    "games",
    "gdm",
    "geoclue",
    "git",
    "gluster",
    "gnats",
    "gpfs",
    "grafana",
    "halt",
    "http",
    "input",
    "irc",
    "jenkins",
    "kmem",
    "kvm",
    "ldap",
    "libstoragemgmt",
    "list",
    "lock",
    "lp",
    "lpadmin",
    "lustre",
    "lxd",
    "mail",
    "man",
    "mariadb",
    "mem",
    "memcached",
    "messagebus",
    "munge",
    "mysql",
    "named",
    "netdev",
    "news",
    "nfsnobody",
    "nginx",
    "nobody",
    "node-exporter",
    "nogroup",
    "nscd",
    "nslcd",
    "ntp",
    "nvidia-persistenced",
    "openldap",
    "operator",
    "pesign",
    "pipewire",
    "plugdev",
    "podman",
    "polkitd",
    "postfix",
    "postgres",
    "postgresql",
    "printadmin",
    "prometheus",
    "proxy",
    "pulse",
    "qemu",
    "rabbitmq",
    "radvd",
    "rdma",
    "redis",
    "render",
    "rngd",
    "rocky",
    "root",
    "rpc",
    "rpcuser",
    "rtkit",
    "sambashare",
    "saned",
    "sasl",
    "saslauth",
    "scanner",
    "setroubleshoot",
    "sgx",
    "shadow",
    "shutdown",
    "slurm",
    "slurmdbd",
    "slurmrestd",
    "snmp",
    "squid",
    "src",
    "ssh",
    "ssh_keys",
    "sshd",
    "ssl-cert",
    "sssd",
    "staff",
    "statd",
    "sudo",
    "sync",
    "sys",
    "syslog",
    "systemd-coredump",
    "systemd-journal",
    "systemd-network",
    "systemd-oom",
    "systemd-resolve",
    "systemd-timesync",
    "tape",
    "tcpdump",
    "tftp",
    "tss",
    "tty",
    "ubuntu",
    "unbound",
    "usbmux",
    "usbmuxd",
    "users",
    "utempter",
    "utmp",
    "uucp",
    "uuidd",
    "video",
    "voice",
    "wheel",
    "www",
    "www-data",
    "zabbix",
];

/// Why `name` may not be taken, when it may not: a system name, or one the
/// org reserved (`roster org set ORG --reserve-names`).
pub fn reserved_because(name: &str, org_reserved: &[String]) -> Option<String> {
    if SYSTEM_NAMES.binary_search(&name).is_ok() {
        return Some(format!(
            "\"{name}\" is reserved: it is an account or group that nodes have for themselves (a stock Debian or RHEL install, or a cluster service), and taking it would give its rights to an IdP identity; choose another name"
        ));
    }
    if org_reserved.iter().any(|r| r == name) {
        return Some(format!(
            "\"{name}\" is reserved by this organization (roster org set ORG --reserve-names); choose another name"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_valid() {
        assert!(SYSTEM_NAMES.windows(2).all(|w| w[0] < w[1]));
        for n in SYSTEM_NAMES {
            assert!(crate::directory::posix_rules::check_name(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn system_and_org_names_are_refused() {
        let org = vec!["gpuadmin".to_string()];
        for n in [
            "root", "nobody", "sudo", "wheel", "slurm", "munge", "gpuadmin",
        ] {
            assert!(reserved_because(n, &org).is_some(), "{n}");
        }
        for n in ["root2", "jdoe", "alice"] {
            assert!(reserved_because(n, &org).is_none(), "{n}");
        }
    }
}
