//! TLS for `ssl` endpoints (rustls with the *ring* provider; no OpenSSL). The same TARS
//! frames travel inside. Keys as TarsCpp reads them: `cert`, `key`, `ca`, `verifyclient` and
//! `ciphers` (see `docs/security.md`).
//!
//! - [`ServerTls`]: a server's certificate and key; with `verify_client`, mutual TLS (clients
//!   must present a certificate issued by `ca`).
//! - [`ClientTls`]: the CAs a client trusts, optionally its own certificate, and how the
//!   server's certificate is checked ([`TlsVerify`]): by chain **and host name** (the
//!   default), or by chain only, without SNI, as TarsCpp does.

mod client;
mod verify;

pub use client::{ClientTls, TlsClientOptions, TlsVerify};

use crate::error::{TarsError, TarsResult};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// Where a server's TLS material comes from (TarsCpp's adapter keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsServerOptions {
    /// `cert`: PEM file of the certificate chain, leaf first.
    pub cert: String,
    /// `key`: PEM file of the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// `ca`: PEM file of the CAs that issue client certificates (used with `verify_client`).
    pub ca: Option<String>,
    /// `verifyclient`: require a client certificate issued by `ca` (mutual TLS).
    pub verify_client: bool,
    /// `ciphers`: `:`-separated cipher suites, in OpenSSL (`ECDHE-RSA-AES128-GCM-SHA256`) or
    /// IANA (`TLS_AES_128_GCM_SHA256`) spelling; empty: rustls's defaults.
    pub ciphers: Option<String>,
}

/// A server's TLS configuration, shared by its connections. Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

impl PartialEq for ServerTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}

impl Eq for ServerTls {}

impl ServerTls {
    /// Loads the files named by `options`.
    pub fn from_options(options: &TlsServerOptions) -> TarsResult<Self> {
        let cert = read(&options.cert, "cert")?;
        let key = read(&options.key, "key")?;
        let ca = match options.ca.as_deref().filter(|s| !s.is_empty()) {
            Some(ca) => Some(read(ca, "ca")?),
            None => None,
        };
        Self::build(
            &cert,
            &key,
            ca.as_deref(),
            options.verify_client,
            options.ciphers.as_deref(),
        )
    }

    /// From PEM text: the certificate chain, the key, and (for mutual TLS) the client CAs.
    pub fn from_pem(
        cert_chain: &[u8],
        key: &[u8],
        client_ca: Option<&[u8]>,
        verify_client: bool,
    ) -> TarsResult<Self> {
        Self::build(cert_chain, key, client_ca, verify_client, None)
    }

    /// Uses a rustls configuration as it is.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        ServerTls { config }
    }

    fn build(
        cert_chain: &[u8],
        key: &[u8],
        client_ca: Option<&[u8]>,
        verify_client: bool,
        ciphers: Option<&str>,
    ) -> TarsResult<Self> {
        let provider = provider(ciphers)?;
        let chain = certs(cert_chain, "cert")?;
        let key = private_key(key)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?;
        let builder = if verify_client {
            let ca = client_ca.ok_or_else(|| {
                TarsError::Invalid("tls: `verifyclient` needs `ca` (the client CAs)".into())
            })?;
            let roots = roots(ca)?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| TarsError::Invalid(format!("tls: client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TarsError::Invalid(format!("tls: cert and key: {e}")))?;
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

fn tls_err(e: rustls::Error) -> TarsError {
    TarsError::Invalid(format!("tls: {e}"))
}

fn read(path: &str, what: &str) -> TarsResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| TarsError::Invalid(format!("tls: `{what}` file `{path}`: {e}")))
}

fn certs(pem: &[u8], what: &str) -> TarsResult<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TarsError::Invalid(format!("tls: `{what}`: {e}")))?;
    if certs.is_empty() {
        return Err(TarsError::Invalid(format!(
            "tls: `{what}` holds no PEM certificate"
        )));
    }
    Ok(certs)
}

fn private_key(pem: &[u8]) -> TarsResult<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| TarsError::Invalid(format!("tls: `key`: no usable private key ({e})")))
}

fn roots(pem: &[u8]) -> TarsResult<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(pem, "ca")? {
        roots
            .add(cert)
            .map_err(|e| TarsError::Invalid(format!("tls: `ca`: {e}")))?;
    }
    Ok(roots)
}

/// Comparable form of a suite name: upper case, without `TLS`, `WITH` and separators.
fn suite_key(name: &str) -> String {
    name.to_ascii_uppercase()
        .split(['-', '_'])
        .filter(|p| !p.is_empty() && *p != "TLS" && *p != "TLS13" && *p != "WITH")
        .collect()
}

/// The *ring* provider, with only the `ciphers` named (all of them when none are).
fn provider(ciphers: Option<&str>) -> TarsResult<Arc<CryptoProvider>> {
    let mut provider = rustls::crypto::ring::default_provider();
    let names: Vec<&str> = ciphers
        .unwrap_or_default()
        .split([':', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if !names.is_empty() {
        let all = std::mem::take(&mut provider.cipher_suites);
        for name in names {
            let want = suite_key(name);
            // OpenSSL leaves the hash off CHACHA20 suites' names.
            let found = all.iter().find(|s| {
                let have = suite_key(&format!("{:?}", s.suite()));
                have == want || have == format!("{want}SHA256")
            });
            match found {
                Some(s) => provider.cipher_suites.push(*s),
                None => {
                    let known: Vec<String> =
                        all.iter().map(|s| format!("{:?}", s.suite())).collect();
                    return Err(TarsError::Invalid(format!(
                        "tls: unknown cipher suite `{name}` (known: {})",
                        known.join(", ")
                    )));
                }
            }
        }
    }
    Ok(Arc::new(provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_names_in_either_spelling() {
        let p = provider(Some("ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384")).unwrap();
        assert_eq!(p.cipher_suites.len(), 2);
        let p = provider(Some("ECDHE-ECDSA-CHACHA20-POLY1305")).unwrap();
        assert_eq!(p.cipher_suites.len(), 1);
        assert!(provider(Some("RC4-MD5")).is_err());
        assert!(!provider(None).unwrap().cipher_suites.is_empty());
    }
}
