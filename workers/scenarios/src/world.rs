//! Where the suite's customers live and shop: places with coordinates, currency
//! and address blocks, the devices they use, and what a euro is in each currency.
//! Written for this suite alone: none of it comes from the generator.

use std::net::{IpAddr, Ipv4Addr};

use rand::Rng;
use rand_chacha::ChaCha20Rng;

/// A city customers live in or pass through.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub currency: &'static str,
    /// The first two octets of the addresses handed out there.
    pub block: [u8; 2],
}

pub const PLACES: [Place; 18] = [
    place("DE", 52.52, 13.40, "EUR", [91, 64]),
    place("FR", 48.86, 2.35, "EUR", [90, 12]),
    place("ES", 40.42, -3.70, "EUR", [83, 44]),
    place("IT", 45.46, 9.19, "EUR", [79, 23]),
    place("NL", 52.37, 4.90, "EUR", [145, 53]),
    place("GB", 51.51, -0.13, "GBP", [86, 150]),
    place("US", 40.71, -74.01, "USD", [68, 201]),
    place("US", 37.77, -122.42, "USD", [98, 207]),
    place("CA", 43.65, -79.38, "CAD", [99, 230]),
    place("BR", -23.55, -46.63, "BRL", [177, 92]),
    place("IN", 19.08, 72.88, "INR", [106, 51]),
    place("JP", 35.68, 139.69, "JPY", [126, 77]),
    place("AU", -33.87, 151.21, "AUD", [101, 160]),
    place("SG", 1.35, 103.82, "SGD", [116, 86]),
    place("PL", 52.23, 21.01, "PLN", [83, 21]),
    place("SE", 59.33, 18.07, "SEK", [81, 170]),
    place("CH", 47.38, 8.54, "CHF", [85, 3]),
    place("MX", 19.43, -99.13, "MXN", [187, 190]),
];

const fn place(
    country: &'static str,
    lat: f64,
    lon: f64,
    currency: &'static str,
    block: [u8; 2],
) -> Place {
    Place {
        country,
        lat,
        lon,
        currency,
        block,
    }
}

/// Units of `currency` a euro buys, roughly, for sizing amounts. The scorer gets
/// no such table from here: it must bring its own.
pub fn per_euro(currency: &str) -> f64 {
    match currency {
        "USD" => 1.08,
        "GBP" => 0.85,
        "CAD" => 1.47,
        "BRL" => 5.9,
        "INR" => 90.0,
        "JPY" => 162.0,
        "AUD" => 1.64,
        "SGD" => 1.45,
        "PLN" => 4.3,
        "SEK" => 11.4,
        "CHF" => 0.95,
        "MXN" => 18.5,
        _ => 1.0,
    }
}

/// `euros` in `currency`, with the minor units the currency has.
pub fn amount(euros: f64, currency: &str) -> rust_decimal::Decimal {
    let value = euros * per_euro(currency);
    let scale = if currency == "JPY" { 0 } else { 2 };
    let factor = 10f64.powi(scale as i32);
    let minor = (value * factor).round().max(1.0) as i64;
    rust_decimal::Decimal::new(minor, scale)
}

/// Great-circle distance in kilometres.
pub fn km(a: &Place, b: &Place) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.lat.to_radians(),
        a.lon.to_radians(),
        b.lat.to_radians(),
        b.lon.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// An address in `place`'s block.
pub fn address(rng: &mut ChaCha20Rng, place: &Place) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        place.block[0],
        place.block[1],
        rng.random_range(0..=255),
        rng.random_range(1..=254),
    ))
}

/// An address of a hosting provider a VPN or a proxy exits from, in `place`.
pub fn exit_node(rng: &mut ChaCha20Rng, place: &Place) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        45,
        place.block[1] ^ 0x5a,
        rng.random_range(0..=15),
        rng.random_range(1..=254),
    ))
}

const BROWSERS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/129.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/129.0 Safari/537.36",
];

/// A browser a person uses, with a build number of its own so devices differ.
pub fn device(rng: &mut ChaCha20Rng) -> String {
    let base = BROWSERS[rng.random_range(0..BROWSERS.len())];
    format!("{base} build/{}", rng.random_range(1000..9999))
}

/// What automated checkout tools announce themselves as, or hide behind.
pub fn script_agent(rng: &mut ChaCha20Rng) -> String {
    match rng.random_range(0..3) {
        0 => "python-requests/2.32.3".into(),
        1 => format!(
            "Mozilla/5.0 HeadlessChrome/{}.0",
            rng.random_range(118..131)
        ),
        _ => "Go-http-client/1.1".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_amounts_are_plausible() {
        let (berlin, new_york) = (&PLACES[0], &PLACES[6]);
        let d = km(berlin, new_york);
        assert!((6300.0..6500.0).contains(&d), "{d}");
        assert_eq!(amount(10.0, "EUR").to_string(), "10.00");
        assert_eq!(amount(10.0, "JPY").to_string(), "1620");
        assert_eq!(amount(0.001, "EUR").to_string(), "0.01", "never zero");
    }
}
