//! TLS for the CORE endpoints (rustls, ring provider; TLS 1.2 and 1.3 only, spec §1.11) and
//! mutual TLS: a client certificate chaining to the configured client CA authenticates the
//! submitter named by the certificate's subject common name (CN = submitter id). A client
//! without a certificate may still connect and authenticate by password; a certificate that
//! does not chain to the CA fails the handshake.

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// PEM files of the server certificate chain and key, and of the CA(s) trusted for client
/// certificates (none: no client certificates are asked for).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: {what}")]
    Pem { path: PathBuf, what: &'static str },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|error| TlsError::Read { path: path.into(), error })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|error| TlsError::Read { path: path.into(), error })?;
    if certs.is_empty() {
        return Err(TlsError::Pem { path: path.into(), what: "holds no PEM certificate" });
    }
    Ok(certs)
}

fn pem_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|error| TlsError::Read { path: path.into(), error })?;
    rustls_pemfile::private_key(&mut bytes.as_slice())
        .map_err(|error| TlsError::Read { path: path.into(), error })?
        .ok_or(TlsError::Pem { path: path.into(), what: "holds no PEM private key" })
}

/// The rustls server configuration of these files.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in pem_certs(ca)? {
                roots.add(c)?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(pem_certs(&files.cert)?, pem_key(&files.key)?)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The submitter a verified client certificate names: its subject CN.
///
/// The TBSCertificate holds the issuer before the subject, so the subject's CN is the last
/// `commonName` attribute (OID 2.5.4.3) in the certificate that precedes the extensions;
/// no extension this system issues or expects carries one.
pub fn subject_cn(der: &[u8]) -> Option<String> {
    const OID_CN: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = der.windows(OID_CN.len()).rposition(|w| w == OID_CN)?;
    let tag = *der.get(at + 5)?;
    // UTF8String, PrintableString, IA5String, TeletexString.
    if !matches!(tag, 0x0c | 0x13 | 0x16 | 0x14) {
        return None;
    }
    let len = usize::from(*der.get(at + 6)?);
    if len >= 0x80 {
        return None;
    }
    let value = der.get(at + 7..at + 7 + len)?;
    std::str::from_utf8(value).ok().map(str::to_string).filter(|s| !s.is_empty())
}

/// The identity of a mutual-TLS connection, attached to each of its requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate(pub String);
