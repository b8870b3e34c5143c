//! aiosmtpd (ops/install.sh), a real SMTP server, as the email receiver's peer:
//! plain, STARTTLS or implicit TLS with a certificate from a CA made for the
//! test, optionally requiring a login; every message it accepts is a file.

use std::path::{Path, PathBuf};

use sightline_runtime::servers::{self, ChildServer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    Plain,
    StartTls,
    Implicit,
}

pub struct SmtpPeer {
    pub server: ChildServer,
    dir: tempfile::TempDir,
}

pub struct SmtpOptions<'a> {
    pub tls: SmtpTls,
    /// `user:password` the server requires.
    pub login: Option<&'a str>,
    /// The first messages answered 451 (a temporary failure).
    pub tempfail: u32,
}

impl SmtpPeer {
    pub fn start(options: SmtpOptions) -> SmtpPeer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("../.tools/venv/bin/python");
        let script = root.join("clients/smtp_server.py");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        if options.tls != SmtpTls::Plain {
            write_certificates(dir.path());
        }
        let server = servers::spawn_ready("aiosmtpd", 0, |port| {
            let mut cmd = std::process::Command::new(&python);
            cmd.arg(&script)
                .arg(port.to_string())
                .arg(dir.path().join("mail"))
                .args(["--tempfail", &options.tempfail.to_string()]);
            let tls = match options.tls {
                SmtpTls::Plain => None,
                SmtpTls::StartTls => Some("starttls"),
                SmtpTls::Implicit => Some("implicit"),
            };
            if let Some(tls) = tls {
                cmd.args(["--tls", tls])
                    .arg("--cert")
                    .arg(dir.path().join("server.pem"))
                    .arg("--key")
                    .arg(dir.path().join("server.key"));
            }
            if let Some(login) = options.login {
                cmd.args(["--login", login]);
            }
            cmd
        })
        .unwrap_or_else(|e| panic!("aiosmtpd starts (ops/install.sh): {e}"));
        SmtpPeer { server, dir }
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// The CA the server's certificate is issued by (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The messages accepted so far, oldest first: the server's `X-` lines
    /// (envelope, TLS, login), then the message as received.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

/// A CA, and a certificate for 127.0.0.1 and localhost it issued.
fn write_certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}
