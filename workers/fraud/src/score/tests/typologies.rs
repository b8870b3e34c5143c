//! Each typology on the story it names, and the look-alikes it must leave alone.

use super::*;
use crate::rules::WEAK_HINTS;

const LAPTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0";

#[test]
fn no_weak_hint_alone_makes_a_payment_suspicious() {
    let rules = Rules::default();
    let s = Scorer::new(rules.clone());
    let probe = payment(1, "u1", 10_00, 0);
    for hint in WEAK_HINTS {
        let mut d = s.assess(&probe, &tx_of(&probe));
        d.indicators = vec![sightline_schemas::Indicator {
            name: hint.into(),
            weight: rules.weight_of(hint).unwrap(),
            reason: String::new(),
        }];
        judge(&rules, &mut d);
        assert!(d.score < rules.suspicious_score, "{hint} alone: {d:?}");
    }
}

#[test]
fn a_traveller_seen_abroad_on_their_own_device_is_not_suspicious_and_a_stranger_is() {
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u1");
    s.observe(&payment(1, "u1", 50_00, 0));
    // Ten hours later (a flight) they browse in Lagos on their phone and pay.
    let landed = 36_000;
    s.observe(&view("u1", "s-trip", lagos_ip(), PHONE, landed * 1000));
    let out = s.observe(&edit(payment(2, "u1", 60_00, landed + 60), from_lagos));
    assert!(out.iter().all(|d| d.score < 50), "a traveller: {out:?}");
    // Someone else in Lagos, never seen there, twenty minutes after a payment in
    // Berlin, with the holder's card billed to Germany.
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u2");
    s.observe(&payment(1, "u2", 50_00, 0));
    let out = s.observe(&edit(payment(2, "u2", 60_00, 1_200), from_lagos));
    assert!(suspicious(&s, &out), "{out:?}");
    let names: Vec<&str> = out[0].typologies.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"stolen_card") && names.contains(&"unexplained_place"),
        "{names:?}"
    );
    // The holder pays at home an hour later: Lagos was never trusted, nothing fires.
    assert!(s.observe(&payment(3, "u2", 50_00, 4_800)).is_empty());
}

#[test]
fn a_plausible_flight_lowers_suspicion_even_with_nothing_seen_abroad() {
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u1");
    s.observe(&payment(1, "u1", 50_00, 0));
    // Lagos, 4,900 km away, twelve hours later: no login, no page view, billed at home.
    let out = s.observe(&edit(payment(2, "u1", 60_00, 12 * 3600), from_lagos));
    assert!(out.iter().all(|d| d.score < 50), "a trip: {out:?}");
    let probe = edit(payment(3, "u1", 60_00, 12 * 3600 + 60), from_lagos);
    let d = s.assess(&probe, &tx_of(&probe));
    let place = d.indicators.iter().find(|i| i.name == evidence::NEW_PLACE);
    assert!(
        place.is_some_and(|i| i.reason.contains("reachable")),
        "{d:?}"
    );
}

#[test]
fn a_vpn_user_on_their_own_device_is_explained_even_right_after_paying_at_home() {
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u1");
    s.observe(&payment(1, "u1", 50_00, 0));
    s.observe(&view("u1", "s-vpn", lagos_ip(), PHONE, 300_000));
    let out = s.observe(&edit(payment(2, "u1", 45_00, 360), from_lagos));
    assert!(out.iter().all(|d| d.score < 50), "{out:?}");
}

#[test]
fn a_password_attack_then_a_new_device_paying_is_account_takeover() {
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u1");
    for i in 0..5 {
        s.observe(&login("u1", false, lagos_ip(), LAPTOP, i * 10));
    }
    s.observe(&login("u1", true, lagos_ip(), LAPTOP, 60));
    s.observe(&view("u1", "s-ato", lagos_ip(), LAPTOP, 70_000));
    let pay = edit(payment(1, "u1", 400_00, 120), |tx| {
        tx.ip = Some(lagos_ip());
        tx.card_fingerprint = Some("fp_added_by_them".into());
        tx.billing_country = Some("NG".into());
        (tx.lat, tx.lon, tx.country) = (Some(6.52), Some(3.38), Some("NG".into()));
    });
    let out = s.observe(&pay);
    assert_eq!(typology(&out), Some("account_takeover"), "{out:#?}");
    assert!(out[0].typologies[0]
        .reason
        .contains("password was attacked"));
    for name in [
        evidence::LOGIN_FAILURES,
        evidence::NEW_DEVICE,
        evidence::NEW_CARD,
    ] {
        assert!(out[0].has(name), "{name}: {out:#?}");
    }
    // Three typos at home on their own phone, then paying: a customer.
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u2");
    for i in 0..3 {
        s.observe(&login("u2", false, home_ip(), PHONE, i * 10));
    }
    s.observe(&login("u2", true, home_ip(), PHONE, 40));
    let out = s.observe(&payment(1, "u2", 50_00, 100));
    assert!(!suspicious(&s, &out), "{out:?}");
}

#[test]
fn a_card_turning_up_far_away_in_another_customers_hands_is_a_stolen_card() {
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "victim");
    s.observe(&payment(1, "victim", 50_00, 0));
    let resold = edit(payment(1, "reseller", 300_00, 1_800), |tx| {
        from_lagos(tx);
        tx.billing_country = Some("NG".into());
        tx.card_fingerprint = Some("fp_victim".into());
    });
    let out = s.observe(&resold);
    assert_eq!(typology(&out), Some("stolen_card"), "{out:#?}");
    assert!(out[0].has(evidence::SHARED_CARD) && out[0].has(evidence::CARD_TRAVEL));
}

#[test]
fn a_script_is_caught_by_its_device_without_cookies_and_an_office_is_not() {
    let mut s = Scorer::new(Rules::default());
    let exit: IpAddr = "45.90.1.7".parse().unwrap();
    for i in 0..20 {
        // A new session for every request, as a client without cookies makes.
        s.observe(&view(
            "shopper",
            &format!("s{i}"),
            exit,
            "python-requests/2.32",
            i * 300,
        ));
    }
    let out = s.observe(&edit(payment(1, "shopper", 90_00, 10), |tx| {
        tx.ip = Some(exit)
    }));
    assert_eq!(typology(&out), Some("bot_checkout"), "{out:#?}");
    // Fifteen colleagues behind one address, each at a human pace.
    let mut s = Scorer::new(Rules::default());
    let office: IpAddr = "85.214.9.9".parse().unwrap();
    for step in 0..12 {
        for c in 0..15 {
            let agent = format!("{PHONE} build/{c}");
            let at = step * 20_000 + c * 1_000;
            s.observe(&view(
                &format!("colleague-{c}"),
                &format!("s{c}"),
                office,
                &agent,
                at,
            ));
        }
    }
    let out = s.observe(&edit(payment(1, "colleague-3", 12_00, 250), |tx| {
        tx.ip = Some(office)
    }));
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn a_session_that_switches_ip_is_only_a_hint() {
    let mut s = Scorer::new(Rules::default());
    s.observe(&view("u1", "s1", home_ip(), PHONE, 0));
    s.observe(&view("u1", "s1", lagos_ip(), PHONE, 60_000));
    let out = s.observe(&payment(1, "u1", 40_00, 120));
    let d = s.assess(
        &payment(1, "u1", 40_00, 120),
        &tx_of(&payment(1, "u1", 40_00, 120)),
    );
    assert!(d.has(evidence::IP_CHANGE), "{d:?}");
    assert!(out.is_empty(), "a hint, not a verdict: {out:?}");
}
