//! The simulated world: cities, users with homes, cards and habits.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sightline_schemas::Decimal;

pub struct City {
    pub country: &'static str,
    pub currency: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub ip_prefix: [u8; 2],
}

pub const CITIES: &[City] = &[
    City {
        country: "DE",
        currency: "EUR",
        lat: 52.52,
        lon: 13.40,
        ip_prefix: [85, 214],
    },
    City {
        country: "DE",
        currency: "EUR",
        lat: 48.14,
        lon: 11.58,
        ip_prefix: [85, 215],
    },
    City {
        country: "FR",
        currency: "EUR",
        lat: 48.86,
        lon: 2.35,
        ip_prefix: [90, 84],
    },
    City {
        country: "ES",
        currency: "EUR",
        lat: 40.42,
        lon: -3.70,
        ip_prefix: [83, 44],
    },
    City {
        country: "GB",
        currency: "GBP",
        lat: 51.51,
        lon: -0.13,
        ip_prefix: [81, 2],
    },
    City {
        country: "US",
        currency: "USD",
        lat: 40.71,
        lon: -74.01,
        ip_prefix: [24, 90],
    },
    City {
        country: "US",
        currency: "USD",
        lat: 37.77,
        lon: -122.42,
        ip_prefix: [24, 91],
    },
    City {
        country: "CA",
        currency: "CAD",
        lat: 43.65,
        lon: -79.38,
        ip_prefix: [99, 224],
    },
    City {
        country: "BR",
        currency: "BRL",
        lat: -23.55,
        lon: -46.63,
        ip_prefix: [177, 32],
    },
    City {
        country: "JP",
        currency: "JPY",
        lat: 35.68,
        lon: 139.69,
        ip_prefix: [126, 0],
    },
    City {
        country: "AU",
        currency: "AUD",
        lat: -33.87,
        lon: 151.21,
        ip_prefix: [101, 160],
    },
    City {
        country: "SG",
        currency: "SGD",
        lat: 1.35,
        lon: 103.82,
        ip_prefix: [116, 86],
    },
];

/// Where fraudsters connect from: far from every home above.
pub const FRAUD_ORIGINS: &[City] = &[
    City {
        country: "NG",
        currency: "NGN",
        lat: 6.52,
        lon: 3.38,
        ip_prefix: [197, 210],
    },
    City {
        country: "ID",
        currency: "IDR",
        lat: -6.21,
        lon: 106.85,
        ip_prefix: [114, 124],
    },
    City {
        country: "RU",
        currency: "RUB",
        lat: 55.76,
        lon: 37.62,
        ip_prefix: [95, 165],
    },
];

pub struct User {
    pub id: String,
    pub home: &'static City,
    pub ip: [u8; 4],
    pub cards: Vec<String>,
    /// Typical basket in euros; amounts scatter around it.
    pub typical_amount: f64,
    pub payment_method: &'static str,
}

const METHODS: &[(&str, u32)] = &[
    ("card", 60),
    ("paypal", 15),
    ("apple_pay", 10),
    ("google_pay", 8),
    ("bank_transfer", 5),
    ("klarna", 2),
];

pub fn users(rng: &mut ChaCha8Rng, n: usize) -> Vec<User> {
    (0..n)
        .map(|i| {
            let home = &CITIES[rng.random_range(0..CITIES.len())];
            let cards = (0..rng.random_range(1..=2))
                .map(|_| format!("fp_{:016x}", rng.random::<u64>()))
                .collect();
            User {
                id: format!("u{i:06}"),
                home,
                ip: [
                    home.ip_prefix[0],
                    home.ip_prefix[1],
                    rng.random(),
                    rng.random_range(1..255),
                ],
                cards,
                typical_amount: lognormal(rng, 60f64.ln(), 0.7).clamp(5.0, 800.0),
                payment_method: weighted(rng, METHODS),
            }
        })
        .collect()
}

pub fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (item, w) in items {
        if pick < *w {
            return *item;
        }
        pick -= w;
    }
    items[items.len() - 1].0
}

/// A log-normal sample (Box-Muller): the shape of latencies and basket sizes.
pub fn lognormal(rng: &mut ChaCha8Rng, mu: f64, sigma: f64) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (mu + sigma * z).exp()
}

/// Units of `currency` per euro, roughly: amounts are drawn in euros and converted,
/// so a basket costs about the same everywhere.
pub fn per_euro(currency: &str) -> f64 {
    match currency {
        "GBP" => 0.85,
        "USD" => 1.08,
        "CAD" => 1.5,
        "BRL" => 6.0,
        "JPY" => 160.0,
        "AUD" => 1.65,
        "SGD" => 1.45,
        _ => 1.0,
    }
}

/// A euro value as money in `currency`, with two decimals (none for JPY).
pub fn money(euros: f64, currency: &str) -> Decimal {
    let scale = if currency == "JPY" { 0 } else { 2 };
    let factor = 10f64.powi(scale as i32);
    Decimal::new((euros * per_euro(currency) * factor).round() as i64, scale)
}

pub fn ip_string(ip: [u8; 4]) -> std::net::IpAddr {
    std::net::IpAddr::from(ip)
}
