//! Which CA bundle the AWS SDK's HTTPS client trusts: one file, not a certificate directory.
//!
//! The SDK loads the platform's roots with `rustls-native-certs`. With neither `SSL_CERT_FILE` nor
//! `SSL_CERT_DIR` set (Lambda sets neither) it reads the bundle *and* every file of the OpenSSL
//! certificate directories it finds: ~150 hashed links to the same certificates on Debian-based
//! images, a few files on Amazon Linux 2023 (Lambda's `provided.al2023`). Profiled on the release
//! `hook` (`perf stat -r 50`, task-clock of init, BENCHMARKS.md §4): bundle + directory 5.6 ms,
//! the bundle alone 3.8 ms. So before anything else runs, [`prefer_bundle_file`] points
//! `SSL_CERT_FILE` at the system bundle and the SDK reads just that file, with its own parser.
//!
//! (A first version built the SDK's client with a trust store of its own: it parsed every
//! certificate twice and measured 6.5 ms, slower than the directory walk it replaced.)
//!
//! `SSL_CERT_FILE` or `SSL_CERT_DIR` set by the environment is left alone: that is also how a custom
//! CA is added (append it to a copy of the bundle and point `SSL_CERT_FILE` at the copy).

use std::path::{Path, PathBuf};

/// Where Linux distributions keep their CA bundle (the list `openssl-probe` also searches), Lambda's
/// Amazon Linux 2023 first.
const BUNDLES: &[&str] = &[
    "/etc/pki/tls/certs/ca-bundle.crt",   // Amazon Linux, Fedora, RHEL
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/pki/tls/cacert.pem",            // OpenELEC
    "/etc/ssl/cert.pem",                  // Alpine, macOS
];

/// The bundle to point `SSL_CERT_FILE` at, or `None` to leave the environment as it is: when the
/// environment already names a file or a directory, or no bundle exists.
pub fn bundle_to_prefer(ssl_cert_file_set: bool, ssl_cert_dir_set: bool) -> Option<PathBuf> {
    if ssl_cert_file_set || ssl_cert_dir_set {
        return None;
    }
    BUNDLES.iter().map(Path::new).find(|p| p.is_file()).map(Path::to_path_buf)
}

/// Sets `SSL_CERT_FILE` to the system's CA bundle when the environment names none (see the module
/// docs). Call it while the process has one thread: [`crate::runtime::main`] does, before it
/// starts the tokio runtime.
pub fn prefer_bundle_file() {
    let file_set = std::env::var_os("SSL_CERT_FILE").is_some();
    let dir_set = std::env::var_os("SSL_CERT_DIR").is_some();
    if let Some(bundle) = bundle_to_prefer(file_set, dir_set) {
        std::env::set_var("SSL_CERT_FILE", bundle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_naming_a_file_or_a_directory_is_left_alone() {
        assert_eq!(bundle_to_prefer(true, false), None);
        assert_eq!(bundle_to_prefer(false, true), None);
        assert_eq!(bundle_to_prefer(true, true), None);
    }

    #[test]
    fn otherwise_the_first_existing_system_bundle_is_preferred() {
        let expected = BUNDLES.iter().map(Path::new).find(|p| p.is_file()).map(Path::to_path_buf);
        assert!(expected.is_some(), "the test machine has a CA bundle at one of {BUNDLES:?}");
        assert_eq!(bundle_to_prefer(false, false), expected);
    }
}
