//! Splitting a message into words and masking the words that are values. No
//! per-source rules: a word is a value when it holds a digit where words do not
//! (numbers, hex, ids, addresses, times, sizes), or is a path, a URL, an email,
//! or quoted text.

/// What a masked value becomes.
pub const WILDCARD: &str = "<*>";

/// The words of `message`: split on whitespace, with the punctuation that only
/// separates (`,` `;` `(` `)` `[` `]` `=` `:` at a word's end) split off, so that
/// `user=alice,` and `user=bob` share their constant part.
pub fn tokens(message: &str) -> Vec<String> {
    words(message).into_iter().map(str::to_owned).collect()
}

/// [`tokens`] as slices of `message`: every word is a piece of it.
fn words(message: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(16);
    for word in message.split_whitespace() {
        split_word(word, &mut out);
    }
    out
}

fn split_word<'a>(word: &'a str, out: &mut Vec<&'a str>) {
    // `key=value` and `key:value`: the key is constant, the value may not be.
    for sep in ['=', ':'] {
        if let Some((key, value)) = word.split_once(sep) {
            let url_like = sep == ':' && value.starts_with("//");
            // A key is a word: `10.0.0.1:5432` and `12:04:33` are values whole.
            let valued_key = key.chars().any(|c| c.is_ascii_digit());
            if !key.is_empty() && !value.is_empty() && !url_like && !valued_key {
                // The key with its separator, as one word.
                out.push(&word[..key.len() + sep.len_utf8()]);
                split_word(value, out);
                return;
            }
        }
    }
    let trimmed = word.trim_end_matches([',', ';', ')', ']', '.', ':']);
    let trimmed = trimmed.trim_start_matches(['(', '[']);
    out.push(if trimmed.is_empty() { word } else { trimmed });
}

/// Whether a word is a value rather than part of the message's wording.
pub fn is_variable(word: &str) -> bool {
    if word == WILDCARD {
        return true;
    }
    let quoted = word.len() >= 2
        && ((word.starts_with('"') && word.ends_with('"'))
            || (word.starts_with('\'') && word.ends_with('\'')));
    if quoted {
        return true;
    }
    if word.contains("://") || (word.contains('@') && word.contains('.')) {
        return true;
    }
    // A path: `/var/log/x`, `./a/b`, `C:\x`.
    if (word.starts_with('/') || word.starts_with("./"))
        && word.len() > 1
        && word[1..].contains(['/', '.'])
    {
        return true;
    }
    word.chars().any(|c| c.is_ascii_digit())
}

/// `message` as its words with values masked.
pub fn mask(message: &str) -> Vec<String> {
    masked_words(message)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// [`mask`] without copying: the words are slices of `message`, or [`WILDCARD`].
pub(crate) fn masked_words(message: &str) -> Vec<&str> {
    let mut words = words(message);
    for w in &mut words {
        if is_variable(w) {
            *w = WILDCARD;
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(s: &str) -> String {
        mask(s).join(" ")
    }

    #[test]
    fn values_are_masked_and_wording_kept() {
        assert_eq!(
            masked("connection to 10.0.0.1:5432 timed out after 3000 ms"),
            "connection to <*> timed out after <*> ms"
        );
        assert_eq!(
            masked("PacketResponder 1 for block blk_38865049064139660 terminating"),
            "PacketResponder <*> for block <*> terminating"
        );
        assert_eq!(masked("user=alice, role=admin"), "user= alice role= admin");
        assert_eq!(
            masked("GET /api/v1/users/42 took 3.5ms"),
            "GET <*> took <*>"
        );
        assert_eq!(
            masked("session 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 opened at 12:04:33"),
            "session <*> opened at <*>"
        );
        assert_eq!(
            masked("file \"report final.pdf\" saved"),
            "file \"report final.pdf\" saved"
        );
        assert_eq!(masked("mail to bob@example.com"), "mail to <*>");
        assert_eq!(masked("fetch https://x.io/a failed"), "fetch <*> failed");
    }
}
