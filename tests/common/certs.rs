//! A CA and certificates generated at test time (rcgen), for the TLS tests.

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// A CA: its certificate and key.
pub struct Ca {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Ca {
    /// The CA certificate as PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
}

/// A self-signed CA named `name`.
pub fn make_ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

/// A leaf for `names`, issued by `ca`: (chain PEM, key PEM).
pub fn leaf(ca: &Ca, names: &[&str], expired: bool) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(2002, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A `Test.HelloServer.HelloObj` server on `ssl -h 127.0.0.1 -p 0 -t 60000` with `tls`; its port.
pub async fn tls_hello_server(tls: tars_core::tls::ServerTls) -> (tars_core::Server, u16) {
    use tars_rs::demo::hello::{HelloImpl, HelloServant, HELLO_OBJ};
    let server = tars_core::Server::builder()
        .adapter_options(
            HELLO_OBJ,
            tars_core::server::AdapterOptions {
                tls: Some(tls),
                ..Default::default()
            },
        )
        .servant(
            HELLO_OBJ,
            "ssl -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(HelloImpl::default()),
        )
        .start()
        .await
        .unwrap();
    let port = server.endpoint(HELLO_OBJ).unwrap().port;
    (server, port)
}
