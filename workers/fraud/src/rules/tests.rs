use super::*;

#[test]
fn the_built_in_rules_parse() {
    let rules = Rules::default();
    assert_eq!(rules.velocity.window, Duration::from_secs(120));
    assert_eq!(rules.rates.base, "EUR");
    assert!(rules
        .typologies
        .iter()
        .any(|t| t.name == "account_takeover"));
}

fn refused(text: String) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).unwrap();
    Rules::load(&path, Rates::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn a_bad_file_names_the_key() {
    let err = refused(DEFAULT_RULES.replace("max = 2", "max = \"two\""));
    assert!(err.contains("max"), "{err}");
    let err = refused(DEFAULT_RULES.replace("weight = 75", "weight = 175"));
    assert!(err.contains("bot must be 0-100"), "{err}");
    let err = refused(DEFAULT_RULES.replace("[new_card]\n", "[new_card]\ncolour = 1\n"));
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn a_typology_must_name_known_evidence() {
    let err = refused(DEFAULT_RULES.replace("all = [\"declines\"]", "all = [\"declined\"]"));
    assert!(
        err.contains("card_testing") && err.contains("`declined`"),
        "{err}"
    );
    let err = refused(DEFAULT_RULES.replace("all = [\"declines\"]", "all = []"));
    assert!(
        err.contains("card_testing") && err.contains("`all`"),
        "{err}"
    );
}

#[test]
fn no_weak_hint_may_weigh_enough_to_be_suspicious_alone() {
    let text = DEFAULT_RULES.replace(
        "[country_mismatch]\n# The payment comes from another country than the billing address.\nweight = 25",
        "[country_mismatch]\nweight = 55",
    );
    assert_ne!(
        text, DEFAULT_RULES,
        "the test edits the country_mismatch weight"
    );
    let err = refused(text);
    assert!(err.contains("country_mismatch.weight is 55"), "{err}");
}
