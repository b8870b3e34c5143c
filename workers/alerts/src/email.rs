//! Email receivers: a notification's subject and text ([`crate::payload`]) sent
//! over SMTP with lettre, with STARTTLS or implicit TLS and authentication as the
//! receiver's URL says. The URL may hold a password: no error repeats it.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sightline_runtime::config::ReceiverSettings;

use crate::error::AlertError;
use crate::group::Notification;
use crate::notify::Failure;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// For the whole exchange: lettre's own bounds connecting, not a server
    /// that stops answering halfway.
    timeout: std::time::Duration,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Mailer {
    /// Checks the receiver's sender, recipients and URL; connects on each send.
    pub fn new(r: &ReceiverSettings) -> Result<Self, AlertError> {
        let bad = |what: String| AlertError::Rules(format!("receiver {:?}: {what}", r.name));
        let from = r
            .from
            .as_deref()
            .ok_or_else(|| bad("format email needs from (the sender's address)".into()))?;
        let from: Mailbox = from
            .parse()
            .map_err(|e| bad(format!("from {from:?}: {e}")))?;
        if r.to.is_empty() {
            return Err(bad(
                "format email needs to (the recipients' addresses)".into()
            ));
        }
        let to =
            r.to.iter()
                .map(|a| a.parse().map_err(|e| bad(format!("to {a:?}: {e}"))))
                .collect::<Result<Vec<Mailbox>, _>>()?;
        // Parsed here to say what is wrong without repeating the URL.
        let url = url::Url::parse(&r.url.0)
            .map_err(|e| bad(format!("url is not an smtp:// or smtps:// URL ({e})")))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&r.url.0)
            .map_err(|e| bad(format!("url: {e}")))?
            .timeout(Some(r.timeout));
        if let Some(path) = &r.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| bad(format!("ca_file {}: {e}", path.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| bad(format!("ca_file {}: {e}", path.display())))?;
            let host = url.host_str().unwrap_or_default().to_owned();
            let tls = TlsParameters::builder(host)
                .add_root_certificate(cert)
                .build()
                .map_err(|e| bad(format!("ca_file {}: {e}", path.display())))?;
            let mode = url
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.into_owned());
            builder = builder.tls(match (url.scheme(), mode.as_deref()) {
                ("smtps", _) => Tls::Wrapper(tls),
                (_, Some("required")) => Tls::Required(tls),
                (_, Some("opportunistic")) => Tls::Opportunistic(tls),
                _ => return Err(bad("ca_file needs TLS: smtps:// or ?tls=required".into())),
            });
        }
        Ok(Self {
            timeout: r.timeout,
            transport: builder.build(),
            from,
            to,
        })
    }

    /// The message of `n`: its Message-ID is the notification's id (a retry is
    /// recognisably the same mail), and every mail of one group refers to the
    /// group, so mail clients thread a group's firing and resolution.
    pub fn message(&self, n: &Notification, subject: &str, text: &str) -> Result<Message, String> {
        let group = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, n.group_key.as_bytes());
        let mut m = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(format!("<{}@sightline>", n.id)))
            .references(format!("<{group}@sightline>"))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            m = m.to(to.clone());
        }
        m.body(text.to_owned()).map_err(|e| e.to_string())
    }

    /// One attempt: a refusal for good (5xx) is not retried, the rest is.
    pub async fn send(&self, message: Message) -> Result<(), Failure> {
        let sent = tokio::time::timeout(self.timeout, self.transport.send(message))
            .await
            .map_err(|_| Failure {
                retry: true,
                error: "timed out".to_owned(),
            })?;
        sent.map(drop).map_err(|e| {
            let error = match e.status() {
                Some(code) => format!("the server answered {code}"),
                None if e.is_timeout() => "timed out".to_owned(),
                None => format!("smtp: {e}"),
            };
            Failure {
                retry: !e.is_permanent(),
                error,
            }
        })
    }
}
