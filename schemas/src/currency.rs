//! ISO 4217 alphabetic codes of currencies in circulation (funds and precious-metal
//! codes excluded: they never appear on a checkout).

const CODES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB \
BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR \
FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES \
KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR \
MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR \
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH \
UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/// Every code the validator accepts, in order (a rates table must cover them all).
pub fn iso4217_codes() -> impl Iterator<Item = &'static str> {
    CODES.split_ascii_whitespace()
}

/// Every payment is checked on publish and again by each consumer, so this is a
/// binary search: `CODES` is sorted, each code three letters and one space.
pub(crate) fn is_iso4217(code: &str) -> bool {
    let Ok(code) = <[u8; 3]>::try_from(code.as_bytes()) else {
        return false;
    };
    let codes = CODES.as_bytes();
    let (mut lo, mut hi) = (0, codes.len().div_ceil(4));
    while lo < hi {
        let mid = (lo + hi) / 2;
        match codes[mid * 4..mid * 4 + 3].cmp(&code) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_pass_and_others_fail() {
        for ok in ["EUR", "USD", "JPY", "CHF", "BRL"] {
            assert!(is_iso4217(ok), "{ok}");
        }
        for bad in ["eur", "EU", "EURO", "XXX", "ABC", "", "AAA", "ZZZ", "EU€"] {
            assert!(!is_iso4217(bad), "{bad}");
        }
    }

    #[test]
    fn every_listed_code_is_found_in_the_sorted_list() {
        let codes: Vec<&str> = CODES.split(' ').collect();
        assert!(
            codes.iter().all(|c| c.len() == 3),
            "one space between codes"
        );
        assert!(
            codes.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        for c in codes {
            assert!(is_iso4217(c), "{c}");
        }
    }
}
