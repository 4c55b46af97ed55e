//! The client side of TLS: what a client trusts and presents.

use super::verify::ChainOnly;
use super::{certs, private_key, provider, read, roots, tls_err};
use crate::error::{TarsError, TarsResult};
use rustls::pki_types::ServerName;
use std::sync::Arc;
use tokio::net::TcpStream;

/// How a client checks the server's certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsVerify {
    /// The chain up to a trusted CA **and** the host name dialled (sent as SNI): the default
    /// for new deployments.
    #[default]
    Hostname,
    /// The chain only, without SNI, as TarsCpp: certificates that work with TarsCpp clients
    /// work here.
    ChainOnly,
}

/// Where a client's TLS material comes from (TarsCpp's client keys: per object, then
/// client-wide).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsClientOptions {
    /// `ca`: PEM file of the CAs that issue server certificates.
    pub ca: String,
    /// `cert`: PEM file of the client's certificate chain (mutual TLS).
    pub cert: Option<String>,
    /// `key`: PEM file of the client's private key (with `cert`).
    pub key: Option<String>,
    /// `ciphers`: as [`TlsServerOptions::ciphers`](super::TlsServerOptions::ciphers).
    pub ciphers: Option<String>,
    /// How the server's certificate is checked.
    pub verify: TlsVerify,
}

/// A client's TLS configuration, shared by its connections. Cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls")
    }
}

impl ClientTls {
    /// Loads the files named by `options`.
    pub fn from_options(options: &TlsClientOptions) -> TarsResult<Self> {
        let ca = read(&options.ca, "ca")?;
        let identity = match (options.cert.as_deref(), options.key.as_deref()) {
            (Some(c), Some(k)) if !c.is_empty() => Some((read(c, "cert")?, read(k, "key")?)),
            (Some(c), _) if !c.is_empty() => {
                return Err(TarsError::Invalid("tls: `cert` needs `key`".into()))
            }
            _ => None,
        };
        let identity = identity.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice()));
        Self::build(&ca, identity, options.verify, options.ciphers.as_deref())
    }

    /// From PEM text: the trusted CAs, and the client's own chain and key for mutual TLS.
    pub fn from_pem(
        ca: &[u8],
        identity: Option<(&[u8], &[u8])>,
        verify: TlsVerify,
    ) -> TarsResult<Self> {
        Self::build(ca, identity, verify, None)
    }

    /// Uses a rustls configuration as it is (its verifier and SNI setting included).
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> Self {
        ClientTls { config }
    }

    fn build(
        ca: &[u8],
        identity: Option<(&[u8], &[u8])>,
        verify: TlsVerify,
        ciphers: Option<&str>,
    ) -> TarsResult<Self> {
        let provider = provider(ciphers)?;
        let roots = Arc::new(roots(ca)?);
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?;
        let builder = match verify {
            TlsVerify::Hostname => builder.with_root_certificates(roots),
            TlsVerify::ChainOnly => {
                let webpki =
                    rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                        .build()
                        .map_err(|e| TarsError::Invalid(format!("tls: `ca`: {e}")))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
            }
        };
        let mut config = match identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(certs(chain, "cert")?, private_key(key)?)
                .map_err(|e| TarsError::Invalid(format!("tls: client cert and key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = verify == TlsVerify::Hostname;
        Ok(ClientTls {
            config: Arc::new(config),
        })
    }

    /// Runs the handshake on `stream`, dialled to `host`. The error says why it failed
    /// (unknown CA, expired, wrong name, no client certificate, not a TLS server).
    pub async fn connect(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> TarsResult<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
            .or_else(|_| ServerName::try_from("tars.invalid".to_string()))
            .map_err(|e| TarsError::Invalid(format!("tls: server name `{host}`: {e}")))?;
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, stream)
            .await
            .map_err(|e| TarsError::Io(format!("tls handshake with `{host}` failed: {e}")))
    }
}
