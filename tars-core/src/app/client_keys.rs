//! The client's TLS and AK/SK keys from `/tars/application/client` (client-wide) and its
//! sub-domains `/tars/application/client/<Obj>` (per object, first): `ca`, `cert`, `key`,
//! `ciphers`, `accesskey`, `secretkey`, and the tars-rs key `tls-verify` (`hostname`, the
//! default, or `chain`: chain only, no SNI, as TarsCpp).

use super::AppError;
use crate::auth::AuthKey;
use crate::client::{ClientConfig, ObjectSecurity};
use crate::config::Domain;
use crate::tls::{ClientTls, TlsClientOptions, TlsVerify};
use std::collections::BTreeMap;

/// The keys of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientKeys {
    /// `ca` (and `cert`, `key`, `ciphers`, `tls-verify`); `None` without `ca`.
    pub tls: Option<TlsClientOptions>,
    /// `accesskey` / `secretkey`; `None` when both are empty.
    pub auth: Option<AuthKey>,
}

/// The client-wide keys and those of each object sub-domain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientSecurity {
    /// From `/tars/application/client`.
    pub client: ClientKeys,
    /// From `/tars/application/client/<Obj>`, by object name.
    pub objects: BTreeMap<String, ClientKeys>,
}

impl ClientSecurity {
    /// Reads the keys of `client` (the `/tars/application/client` domain) and its sub-domains.
    pub fn from_domain(client: &Domain, file: &str) -> Result<ClientSecurity, AppError> {
        Ok(ClientSecurity {
            client: keys(client, CLIENT, file)?,
            objects: client
                .domains()
                .map(|d| {
                    let path = format!("{CLIENT}/{}", d.name());
                    Ok((d.name().to_string(), keys(d, &path, file)?))
                })
                .collect::<Result<_, AppError>>()?,
        })
    }

    /// Loads the files named and sets them on `config`: client-wide in `tls` / `auth`, per
    /// object in `objects`.
    pub fn apply(&self, config: &mut ClientConfig) -> Result<(), AppError> {
        let load = |o: &Option<TlsClientOptions>| {
            o.as_ref()
                .map(ClientTls::from_options)
                .transpose()
                .map_err(|e| AppError::Invalid(format!("{CLIENT}: {e}")))
        };
        config.tls = load(&self.client.tls)?;
        config.auth = self.client.auth.clone();
        for (obj, keys) in &self.objects {
            let security = ObjectSecurity {
                tls: load(&keys.tls)?,
                auth: keys.auth.clone(),
            };
            if security.tls.is_some() || security.auth.is_some() {
                config.objects.insert(obj.clone(), security);
            }
        }
        Ok(())
    }
}

const CLIENT: &str = "/tars/application/client";

fn keys(d: &Domain, path: &str, file: &str) -> Result<ClientKeys, AppError> {
    let text = |key: &str| {
        d.get(key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let bad = |key: &str, why: &str| AppError::Invalid(format!("{file}: {path}<{key}>: {why}"));
    let auth = match (text("accesskey"), text("secretkey")) {
        (None, None) => None,
        (ak, sk) => Some(AuthKey::new(ak.unwrap_or_default(), sk.unwrap_or_default())),
    };
    let verify = match text("tls-verify").as_deref() {
        None | Some("hostname") => TlsVerify::Hostname,
        Some("chain") => TlsVerify::ChainOnly,
        Some(_) => return Err(bad("tls-verify", "expected `hostname` or `chain`")),
    };
    let tls = match text("ca") {
        None if text("cert").is_some() => return Err(bad("ca", "`cert` is set but `ca` is not")),
        None => None,
        Some(ca) => {
            if text("cert").is_some() != text("key").is_some() {
                return Err(bad("key", "`cert` and `key` go together"));
            }
            Some(TlsClientOptions {
                ca,
                cert: text("cert"),
                key: text("key"),
                ciphers: text("ciphers"),
                verify,
            })
        }
    };
    Ok(ClientKeys { tls, auth })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const CONF: &str = "<tars>\n<application>\n<client>\n\
        ca = /etc/tars/ca.pem\n accesskey = wide-ak\n secretkey = wide-sk\n\
        <Test.HelloServer.HelloObj>\n ca = /etc/tars/hello-ca.pem\n cert = c.pem\n key = k.pem\n\
        tls-verify = chain\n accesskey = hello-ak\n secretkey = hello-sk\n\
        </Test.HelloServer.HelloObj>\n\
        <Test.Other.PlainObj>\n locator = ignored\n</Test.Other.PlainObj>\n\
        </client>\n</application>\n</tars>\n";

    fn read(text: &str) -> Result<ClientSecurity, AppError> {
        let cfg: Config = text.parse().unwrap();
        ClientSecurity::from_domain(cfg.domain("/tars/application/client").unwrap(), "x.conf")
    }

    #[test]
    fn reads_client_wide_and_per_object_keys() {
        let s = read(CONF).unwrap();
        let wide = s.client.tls.as_ref().unwrap();
        assert_eq!(
            (wide.ca.as_str(), wide.cert.as_deref(), wide.verify),
            ("/etc/tars/ca.pem", None, TlsVerify::Hostname)
        );
        assert_eq!(s.client.auth, Some(AuthKey::new("wide-ak", "wide-sk")));
        let hello = &s.objects["Test.HelloServer.HelloObj"];
        let tls = hello.tls.as_ref().unwrap();
        assert_eq!(
            (tls.ca.as_str(), tls.cert.as_deref(), tls.key.as_deref()),
            ("/etc/tars/hello-ca.pem", Some("c.pem"), Some("k.pem"))
        );
        assert_eq!(tls.verify, TlsVerify::ChainOnly);
        assert_eq!(hello.auth, Some(AuthKey::new("hello-ak", "hello-sk")));
        assert_eq!(s.objects["Test.Other.PlainObj"], ClientKeys::default());
    }

    #[test]
    fn applies_keys_per_object_then_client_wide() {
        let mut s = read(CONF).unwrap();
        // No files to load in a unit test: TLS is covered by the integration tests.
        s.client.tls = None;
        s.objects.get_mut("Test.HelloServer.HelloObj").unwrap().tls = None;
        let mut config = ClientConfig::default();
        s.apply(&mut config).unwrap();
        assert_eq!(
            config.auth_for("Test.HelloServer.HelloObj"),
            Some(AuthKey::new("hello-ak", "hello-sk"))
        );
        assert_eq!(
            config.auth_for("Test.Other.PlainObj"),
            Some(AuthKey::new("wide-ak", "wide-sk"))
        );
        assert!(!config.objects.contains_key("Test.Other.PlainObj"));
    }

    #[test]
    fn bad_keys_name_the_domain_and_a_missing_file_fails_apply() {
        let e = read(
            "<tars>\n<application>\n<client>\ncert = c.pem\n</client>\n</application>\n</tars>\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("/tars/application/client<ca>"),
            "{e}"
        );
        let e = read(
            "<tars>\n<application>\n<client>\nca = a\ntls-verify = maybe\n</client>\n</application>\n</tars>\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("tls-verify"), "{e}");
        let s = read("<tars>\n<application>\n<client>\nca = /nonexistent/ca.pem\n</client>\n</application>\n</tars>\n")
            .unwrap();
        let e = s.apply(&mut ClientConfig::default()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
