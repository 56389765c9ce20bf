//! The AWS SDK's HTTPS client with hookline's trust roots: one CA bundle file, read once.
//!
//! Why: the SDK's default loads the platform's roots with `rustls-native-certs`, which reads the
//! bundle *and* every file of the OpenSSL certificate directories it finds (~150 hashed links on
//! Debian-based images). MEASURED AGAINST (BENCHMARKS.md §4, `perf stat -r 50`, task-clock of the
//! hook's init): the SDK reading the bundle alone 3.8 ms, the SDK's bundle + directory 5.6 ms,
//! this module 6.5 ms: it parses every certificate twice (its own trust-anchor check, then the
//! SDK's trust store) and round-trips them through PEM. Either make the SDK read the file alone
//! (`SSL_CERT_FILE` set before any thread starts) or go back to the SDK's default; until then
//! the measurement says this module costs time rather than saving it.
//!
//! Which bundle: `SSL_CERT_FILE` when it is set (the OpenSSL convention, also how a custom CA is
//! added: append it to a copy of the bundle and point `SSL_CERT_FILE` at the copy), otherwise the
//! first bundle found at the usual places, Amazon Linux 2023 (Lambda's `provided.al2023`) first.
//! When only `SSL_CERT_DIR` is set, or no bundle can be read, the SDK's default client is kept, so
//! an environment that trusts a directory on purpose still does.

use std::path::{Path, PathBuf};

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use tracing::warn;

/// Where Linux distributions keep their CA bundle (the list `openssl-probe` also searches), Lambda's
/// Amazon Linux 2023 first.
const BUNDLES: &[&str] = &[
    "/etc/pki/tls/certs/ca-bundle.crt",   // Amazon Linux, Fedora, RHEL
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/pki/tls/cacert.pem",            // OpenELEC
    "/etc/ssl/cert.pem",                  // Alpine, macOS
];

/// The bundle to trust, or `None` to keep the SDK's own root loading.
pub fn bundle_path(ssl_cert_file: Option<PathBuf>, ssl_cert_dir_set: bool) -> Option<PathBuf> {
    match ssl_cert_file {
        Some(file) => Some(file),
        None if ssl_cert_dir_set => None,
        None => BUNDLES.iter().map(Path::new).find(|p| p.is_file()).map(Path::to_path_buf),
    }
}

/// The certificates of `bundle` that rustls accepts as trust anchors, PEM-encoded for the SDK's
/// trust store (which panics on one it cannot parse, so the others are left out here, with a warning).
pub fn trusted_pem(bundle: &Path) -> Option<Vec<u8>> {
    let loaded = rustls_native_certs::load_certs_from_paths(Some(bundle), None);
    if !loaded.errors.is_empty() {
        warn!(bundle = %bundle.display(), errors = ?loaded.errors, "CA bundle not fully readable");
    }
    let mut pem = Vec::new();
    let mut skipped = 0usize;
    for cert in &loaded.certs {
        if webpki::anchor_from_trusted_cert(cert).is_err() {
            skipped += 1;
            continue;
        }
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        pem.extend_from_slice(aws_smithy_types::base64::encode(cert.as_ref()).as_bytes());
        pem.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
    }
    if skipped > 0 {
        warn!(bundle = %bundle.display(), skipped, "CA bundle certificates that are not trust anchors left out");
    }
    (!pem.is_empty()).then_some(pem)
}

/// The SDK's default HTTPS client (rustls with aws-lc-rs, proxy settings from the environment as
/// `aws-smithy-runtime`'s default client does) trusting `pem` only.
fn https_client(pem: Vec<u8>) -> Option<SharedHttpClient> {
    let context = match TlsContext::builder().with_trust_store(TrustStore::empty().with_pem_certificate(pem)).build() {
        Ok(context) => context,
        Err(e) => {
            warn!(error = %e, "TLS context not built; the SDK's default roots are used");
            return None;
        }
    };
    Some(Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(aws_smithy_http_client::proxy::ProxyConfig::from_env()));
        connector.build()
    }))
}

/// The HTTPS client for this process's environment, or `None` for the SDK's default.
pub fn https_client_from_env() -> Option<SharedHttpClient> {
    let bundle =
        bundle_path(std::env::var_os("SSL_CERT_FILE").map(PathBuf::from), std::env::var_os("SSL_CERT_DIR").is_some())?;
    https_client(trusted_pem(&bundle)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_cert_file_wins_and_a_lone_cert_dir_keeps_the_sdk_default() {
        let file = PathBuf::from("/somewhere/bundle.pem");
        assert_eq!(bundle_path(Some(file.clone()), true), Some(file.clone()));
        assert_eq!(bundle_path(Some(file.clone()), false), Some(file));
        assert_eq!(bundle_path(None, true), None);
    }

    #[test]
    fn without_variables_the_first_existing_system_bundle_is_used() {
        let expected = BUNDLES.iter().map(Path::new).find(|p| p.is_file()).map(Path::to_path_buf);
        assert_eq!(bundle_path(None, false), expected);
    }

    /// A bundle with one good certificate, one that is not a certificate and some text: the good one
    /// is kept (re-encoded), the bad one left out instead of panicking later in the SDK.
    #[test]
    fn unparsable_certificates_are_left_out() {
        let dir = std::env::temp_dir().join(format!("hookline-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let bundle = dir.join("bundle.pem");
        let good = std::fs::read_to_string(system_bundle()).expect("system bundle");
        let first = good.split_inclusive("-----END CERTIFICATE-----\n").next().expect("one certificate").to_string();
        let junk = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        std::fs::write(&bundle, format!("comment\n{first}{junk}")).expect("write bundle");
        let pem = String::from_utf8(trusted_pem(&bundle).expect("one certificate kept")).expect("utf-8");
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1, "{pem}");
        let kept: Vec<_> = rustls_native_certs::load_certs_from_paths(Some(&bundle), None).certs;
        assert_eq!(kept.len(), 2, "the bundle holds two PEM blocks");
        assert!(https_client(pem.into_bytes()).is_some());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_bundle_without_anchors_keeps_the_sdk_default() {
        let dir = std::env::temp_dir().join(format!("hookline-tls-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let bundle = dir.join("bundle.pem");
        std::fs::write(&bundle, "no certificates here\n").expect("write bundle");
        assert!(trusted_pem(&bundle).is_none());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    fn system_bundle() -> PathBuf {
        bundle_path(None, false).expect("a system CA bundle on the test machine")
    }
}
