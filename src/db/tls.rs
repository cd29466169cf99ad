//! TLS for database connections, as libpq behaves per sslmode: `prefer` and `require` encrypt
//! without verifying unless a root certificate is at hand, `verify-ca` checks the chain,
//! `verify-full` the chain and the host name.
//!
//! The connector is built lazily, the first time a server agrees to TLS: building an OpenSSL
//! connector loads and parses the system's whole CA bundle, tens of milliseconds that a run over
//! a Unix socket, with `sslmode=disable`, or against a server without TLS would pay for nothing.

use super::settings::{ConnSettings, SslMode};
use crate::error;
use anyhow::{Context, Result};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

/// The roots a certificate is checked against.
#[derive(Clone)]
enum Roots {
    /// Nothing is verified.
    None,
    /// `sslrootcert=system`: the system's trusted roots.
    System,
    /// The CA of `sslrootcert` or `~/.postgresql/root.crt`.
    File(native_tls::Certificate),
}

/// A `MakeTlsConnect` for tokio-postgres and deadpool whose connector is built on first use
/// and then shared by every connection of the run.
#[derive(Clone)]
pub struct LazyTls {
    roots: Roots,
    check_host_name: bool,
    built: Arc<OnceLock<Result<native_tls::TlsConnector, String>>>,
}

impl LazyTls {
    /// Reads and checks the root certificate now (a bad file is bad input, exit 2, before any
    /// connection); builds nothing yet.
    pub fn for_settings(settings: &ConnSettings) -> Result<LazyTls> {
        let verify = matches!(settings.sslmode, SslMode::VerifyCa | SslMode::VerifyFull);
        let default_root = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
            .filter(|p| p.exists());
        let roots = match settings.sslrootcert.clone().or(default_root) {
            Some(path) if path.as_os_str() == "system" => Roots::System,
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|e| {
                    error::usage(format!(
                        "cannot read the root certificate file \"{}\": {e}",
                        path.display()
                    ))
                })?;
                let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
                    error::usage(format!(
                        "the root certificate file \"{}\" is not a PEM certificate: {e}",
                        path.display()
                    ))
                })?;
                Roots::File(cert)
            }
            None if verify => {
                return Err(error::usage(format!(
                    "sslmode={} needs a root certificate: set sslrootcert (or PGSSLROOTCERT), \
                     put it in ~/.postgresql/root.crt, use sslrootcert=system for the system's \
                     trusted roots, or choose sslmode=require to encrypt without verifying",
                    settings.sslmode
                )));
            }
            None => Roots::None,
        };
        Ok(LazyTls {
            roots,
            check_host_name: settings.sslmode == SslMode::VerifyFull,
            built: Arc::new(OnceLock::new()),
        })
    }

    fn connector(&self) -> Result<native_tls::TlsConnector> {
        self.built
            .get_or_init(|| self.build().map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(|e| anyhow::anyhow!(e))
    }

    fn build(&self) -> Result<native_tls::TlsConnector> {
        let mut builder = native_tls::TlsConnector::builder();
        match &self.roots {
            Roots::System => {}
            Roots::File(cert) => {
                builder
                    .add_root_certificate(cert.clone())
                    .disable_built_in_roots(true);
            }
            Roots::None => {
                builder
                    .danger_accept_invalid_certs(true)
                    .disable_built_in_roots(true);
            }
        }
        builder.danger_accept_invalid_hostnames(!self.check_host_name);
        builder
            .build()
            .context("cannot set up TLS for the database connection")
    }
}

impl<S> MakeTlsConnect<S> for LazyTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type TlsConnect = LazyConnect;
    type Error = std::convert::Infallible;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyConnect, Self::Error> {
        Ok(LazyConnect {
            tls: self.clone(),
            domain: domain.to_string(),
        })
    }
}

/// One connection's TLS handshake, run only if the server agreed to TLS.
pub struct LazyConnect {
    tls: LazyTls,
    domain: String,
}

impl<S> TlsConnect<S> for LazyConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, Self::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = self.tls.connector().map_err(|e| e.to_string())?;
            let tls = postgres_native_tls::TlsConnector::new(connector, &self.domain);
            Ok(TlsConnect::connect(tls, stream).await?)
        })
    }
}
