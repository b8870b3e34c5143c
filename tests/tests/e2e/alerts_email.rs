//! Email receivers against a real SMTP server (aiosmtpd): STARTTLS with a login
//! through the evaluator, implicit TLS, a plain relay, a refused login, and a
//! temporary failure retried. The server's certificate is issued by a CA the
//! receiver is told to trust (`ca_file`).

use std::time::Duration;

use sightline_alerts::notify::{Delivery, Notifier};
use sightline_alerts::{Notification, Status};
use sightline_counters::{Layout, RedisStore};
use sightline_runtime::config::{
    AlertsSettings, CountersSettings, ReceiverFormat, ReceiverSettings,
};
use sightline_schemas::OffsetDateTime;
use sightline_tests::smtp::{SmtpOptions, SmtpPeer, SmtpTls};
use sightline_tests::{Redis, Stack};

use crate::alerts::{count, evaluator, receiver, traffic};

fn mail_receiver(url: String, ca: Option<std::path::PathBuf>) -> ReceiverSettings {
    ReceiverSettings {
        from: Some("Sightline <alerts@example.com>".into()),
        to: vec![
            "oncall@example.com".into(),
            "Team Lead <lead@example.com>".into(),
        ],
        ca_file: ca,
        ..receiver("mail", url, ReceiverFormat::Email)
    }
}

fn settings(r: ReceiverSettings) -> AlertsSettings {
    AlertsSettings {
        receivers: vec![r],
        ..AlertsSettings::default()
    }
}

/// A header's value in a raw message (unfolded).
fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let head = message.split("\r\n\r\n").next()?;
    head.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

fn a_notification() -> Notification {
    let t0 = OffsetDateTime::now_utc();
    let labels = sightline_alerts::Labels::from([
        ("alertname".to_owned(), "SlowCheckout".to_owned()),
        ("severity".to_owned(), "P3".to_owned()),
    ]);
    Notification {
        id: uuid::Uuid::new_v4(),
        group_key: "alertname=SlowCheckout".into(),
        group_labels: labels.clone(),
        status: Status::Firing,
        receiver: None,
        alerts: vec![sightline_alerts::Alert {
            fingerprint: "f1".into(),
            rule: "SlowCheckout".into(),
            severity: sightline_alerts::Severity::P3,
            labels,
            summary: "P95 2.4 s".into(),
            value: 2400.0,
            status: Status::Firing,
            active_since: t0,
            firing_since: Some(t0),
            resolved_at: None,
        }],
        digest: 1,
        repeat_interval: Duration::from_secs(3600),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_mailed_over_starttls_with_a_login_and_its_resolution_threads_under_it() {
    let smtp = SmtpPeer::start(SmtpOptions {
        tls: SmtpTls::StartTls,
        login: Some("sightline:s3cret pass"),
        tempfail: 1,
    });
    let url = format!(
        "smtp://sightline:s3cret%20pass@127.0.0.1:{}?tls=required",
        smtp.port()
    );
    let settings = settings(mail_receiver(url, Some(smtp.ca_file())));
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    let t0 = OffsetDateTime::now_utc();
    count(&counters, traffic("api", 100, 20, t0), 1).await;
    let at = |secs: i64| t0 + time::Duration::seconds(secs);
    let mut eval = evaluator(&stack, &redis, &counters, &settings).await;
    eval.tick(t0).await.unwrap();
    eval.tick(at(120)).await.unwrap();
    let tick = eval.tick(at(150)).await.unwrap();
    assert_eq!(
        tick.deliveries,
        [Delivery::Delivered {
            receiver: "mail".into(),
            attempts: 2
        }],
        "the first attempt met a 451 and was retried"
    );
    let tick = eval.tick(at(460)).await.unwrap();
    assert_eq!(tick.notifications[0].status, Status::Resolved);
    assert!(matches!(tick.deliveries[0], Delivery::Delivered { .. }));

    let mail = smtp.messages();
    assert_eq!(mail.len(), 2, "one firing, one resolved: {mail:?}");
    let (firing, resolved) = (&mail[0], &mail[1]);
    assert_eq!(header(firing, "X-TLS"), Some("yes"), "STARTTLS was used");
    assert_eq!(header(firing, "X-Login"), Some("sightline"));
    assert_eq!(
        header(firing, "X-Envelope-To"),
        Some("oncall@example.com,lead@example.com")
    );
    assert_eq!(header(firing, "Subject"), Some("[FIRING:1] HighErrorRate"));
    assert_eq!(
        header(firing, "From"),
        Some("Sightline <alerts@example.com>")
    );
    let id = tick.notifications[0].id;
    assert_eq!(
        header(resolved, "Message-ID"),
        Some(format!("<{id}@sightline>").as_str())
    );
    assert_eq!(
        header(resolved, "Subject"),
        Some("[RESOLVED] HighErrorRate")
    );
    assert_eq!(
        header(firing, "References"),
        header(resolved, "References"),
        "one thread per group"
    );
    assert!(
        firing.contains("errors are 20.0% of requests on api"),
        "{firing}"
    );
    assert!(resolved.contains("resolved at "), "{resolved}");
}

#[tokio::test]
async fn implicit_tls_delivers_and_a_plain_relay_delivers() {
    let smtps = SmtpPeer::start(SmtpOptions {
        tls: SmtpTls::Implicit,
        login: None,
        tempfail: 0,
    });
    let url = format!("smtps://127.0.0.1:{}", smtps.port());
    let notifier = Notifier::new(&settings(mail_receiver(url, Some(smtps.ca_file())))).unwrap();
    let n = a_notification();
    let d = notifier.deliver(&n).await;
    assert!(matches!(d[0], Delivery::Delivered { .. }), "{d:?}");
    let mail = smtps.messages();
    assert_eq!(header(&mail[0], "X-TLS"), Some("yes"));
    assert_eq!(
        header(&mail[0], "Subject"),
        Some("[FIRING:1] SlowCheckout (severity=P3)")
    );

    let relay = SmtpPeer::start(SmtpOptions {
        tls: SmtpTls::Plain,
        login: None,
        tempfail: 0,
    });
    let url = format!("smtp://127.0.0.1:{}", relay.port());
    // This receiver has its own wording.
    let worded = ReceiverSettings {
        template: Some(sightline_runtime::config::TemplateSettings {
            title: Some("{{ firing }} firing: {{ alerts[0].summary }}".into()),
            body: Some(
                "{% for a in alerts %}{{ a.rule }} since {{ a.starts_at }}\n{% endfor %}".into(),
            ),
        }),
        ..mail_receiver(url, None)
    };
    let notifier = Notifier::new(&settings(worded)).unwrap();
    let d = notifier.deliver(&n).await;
    assert!(matches!(d[0], Delivery::Delivered { .. }), "{d:?}");
    let mail = &relay.messages()[0];
    assert_eq!(header(mail, "X-TLS"), Some("no"));
    assert_eq!(header(mail, "Subject"), Some("1 firing: P95 2.4 s"));
    assert!(
        mail.ends_with("SlowCheckout since ") || mail.contains("SlowCheckout since 20"),
        "{mail}"
    );
}

#[tokio::test]
async fn a_refused_login_fails_at_once_without_naming_the_password_and_an_unknown_ca_is_refused() {
    let smtp = SmtpPeer::start(SmtpOptions {
        tls: SmtpTls::StartTls,
        login: Some("sightline:right"),
        tempfail: 0,
    });
    let url = format!(
        "smtp://sightline:wrong-pw@127.0.0.1:{}?tls=required",
        smtp.port()
    );
    let notifier =
        Notifier::new(&settings(mail_receiver(url.clone(), Some(smtp.ca_file())))).unwrap();
    let d = notifier.deliver(&a_notification()).await;
    let Delivery::Failed {
        attempts, error, ..
    } = &d[0]
    else {
        panic!("{d:?}");
    };
    assert_eq!(*attempts, 1, "a refused login is not retried: {error}");
    assert!(error.contains("535"), "{error}");
    assert!(!error.contains("wrong-pw"), "{error}");
    // Without the CA the certificate is not trusted: no mail goes in clear.
    let notifier = Notifier::new(&settings(mail_receiver(url, None))).unwrap();
    let d = notifier.deliver(&a_notification()).await;
    let Delivery::Failed { error, .. } = &d[0] else {
        panic!("{d:?}");
    };
    assert!(!error.contains("wrong-pw"), "{error}");
    assert!(smtp.messages().is_empty());
}
