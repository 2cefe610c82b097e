//! Connections: plain TCP or TLS (rustls, ring) with an optional client certificate, each one a
//! keep-alive HTTP/1.1 connection driven by hyper.

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A base URL: `http://host:port[/prefix]` or `https://...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// The Host header: `host[:port]` as written.
    pub authority: String,
    /// A path prefix without a trailing slash (often empty).
    pub prefix: String,
}

impl BaseUrl {
    pub fn parse(url: &str) -> Result<BaseUrl> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            bail!("--url must start with http:// or https:// (got {url})");
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            bail!("--url has no host: {url}");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse::<u16>() {
                Ok(port) => (h, port),
                Err(_) if authority.starts_with('[') && authority.ends_with(']') => {
                    (authority, if https { 443 } else { 80 })
                }
                Err(_) => bail!("--url has a bad port: {url}"),
            },
            _ => (authority, if https { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(BaseUrl { https, host, port, authority: authority.to_string(), prefix: prefix.to_string() })
    }

    /// The request target for `path` (which starts with `/`).
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

/// TLS material from the command line.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles<'a> {
    pub ca: Option<&'a Path>,
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
}

/// Opens connections to one server.
#[derive(Clone)]
pub struct Connector {
    pub url: BaseUrl,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
}

pub type Conn = SendRequest<Full<Bytes>>;

impl Connector {
    pub fn new(url: BaseUrl, files: &TlsFiles<'_>) -> Result<Connector> {
        if !url.https {
            if files.cert.is_some() || files.ca.is_some() {
                bail!("--cert, --key and --ca need an https:// URL");
            }
            return Ok(Connector { url, tls: None });
        }
        let mut roots = rustls::RootCertStore::empty();
        match files.ca {
            Some(ca) => {
                for cert in CertificateDer::pem_file_iter(ca).with_context(|| format!("reading {}", ca.display()))? {
                    let cert = cert.with_context(|| format!("reading a certificate from {}", ca.display()))?;
                    roots.add(cert).with_context(|| format!("trusting the certificate in {}", ca.display()))?;
                }
                if roots.is_empty() {
                    bail!("{} holds no certificate", ca.display());
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots);
        let config = match (files.cert, files.key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .with_context(|| format!("reading {}", cert.display()))?
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("reading the certificates in {}", cert.display()))?;
                if chain.is_empty() {
                    bail!("{} holds no certificate", cert.display());
                }
                let key = PrivateKeyDer::from_pem_file(key)
                    .with_context(|| format!("reading the private key in {}", key.display()))?;
                builder.with_client_auth_cert(chain, key).context("the client certificate and key do not match")?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => bail!("--cert and --key go together"),
        };
        let name = ServerName::try_from(url.host.clone()).with_context(|| format!("server name {}", url.host))?;
        Ok(Connector { url, tls: Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name)) })
    }

    /// A new keep-alive connection (TLS handshake included).
    pub async fn connect(&self) -> Result<Conn> {
        let tcp = TcpStream::connect((self.url.host.as_str(), self.url.port))
            .await
            .with_context(|| format!("connecting to {}", self.url.authority))?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => handshake(tcp).await,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .with_context(|| format!("TLS handshake with {}", self.url.authority))?;
                handshake(tls).await
            }
        }
    }

    /// A request on this server: `path` under the URL's prefix, with a body or none.
    pub fn request(
        &self,
        method: hyper::Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Request> {
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(self.url.path(path))
            .header(hyper::header::HOST, &self.url.authority);
        if let Some(ct) = content_type {
            b = b.header(hyper::header::CONTENT_TYPE, ct);
        }
        Ok(b.body(Full::new(body))?)
    }
}

pub type Request = hyper::Request<Full<Bytes>>;

async fn handshake<S>(io: S) -> Result<Conn>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        // The connection ends when the server closes it or the sender is dropped; the next
        // request on it reports the failure.
        let _ = conn.await;
    });
    Ok(sender)
}

/// A response: status, content type and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: hyper::StatusCode,
    pub content_type: String,
    /// `Retry-After` (503 during maintenance or load shedding).
    pub retry_after: Option<String>,
    pub body: Bytes,
}

/// Sends one request on `conn` and reads the whole answer.
pub async fn exchange(conn: &mut Conn, req: Request) -> Result<Reply> {
    conn.ready().await?;
    let resp = conn.send_request(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    let content_type =
        parts.headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let retry_after = parts.headers.get(hyper::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    Ok(Reply { status: parts.status, content_type, retry_after, body })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls() {
        let u = BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.prefix.as_str(), u.https), ("127.0.0.1", 8080, "", false));
        let u = BaseUrl::parse("https://core.example.test/hets/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.prefix.as_str()), ("core.example.test", 443, "/hets"));
        assert_eq!(u.path("/healthz"), "/hets/healthz");
        let u = BaseUrl::parse("http://[::1]:9000").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert!(BaseUrl::parse("ftp://x").is_err());
        assert!(BaseUrl::parse("http://x:notaport").is_err());
    }
}
