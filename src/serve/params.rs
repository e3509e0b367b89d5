//! A request's query string, checked: only the parameters a route takes,
//! each at most once, numbers within their bounds. Every refusal names
//! the parameter (docs/API.md).

use super::error::{ApiError, ApiResult};

/// The decoded parameters of one request.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `raw` (the part after `?`), refusing a parameter not in
    /// `allowed` and one given twice.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> ApiResult<Params> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !allowed.contains(&key.as_ref()) {
                let takes = if allowed.is_empty() {
                    "no parameters".to_string()
                } else {
                    allowed.join(", ")
                };
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{}`: this route takes {takes}",
                    printable(&key)
                )));
            }
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(ApiError::bad_request(format!("{key}: given twice")));
            }
            pairs.push((key.into_owned(), value.into_owned()));
        }
        Ok(Params { pairs })
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` as a whole number in `lo..=hi`, or `None` if not given.
    pub fn number(&self, key: &str, lo: usize, hi: usize) -> ApiResult<Option<usize>> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        let bad = || {
            ApiError::bad_request(format!(
                "{key}: must be a whole number between {lo} and {hi}, got `{}`",
                printable(text)
            ))
        };
        let n: usize = text.parse().map_err(|_| bad())?;
        if n < lo || n > hi {
            return Err(bad());
        }
        Ok(Some(n))
    }

    /// `key` as a whole number, required.
    pub fn required_number(&self, key: &str, lo: usize, hi: usize) -> ApiResult<usize> {
        self.number(key, lo, hi)?
            .ok_or_else(|| ApiError::bad_request(format!("{key}: required")))
    }
}

/// `id` (a path segment) as a store id.
pub fn id(what: &str, text: &str) -> ApiResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|&id| id >= 0)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{what} id: must be a whole number, got `{}`",
                printable(text)
            ))
        })
}

/// `text` cut to 80 characters with control characters escaped, for an
/// error message that repeats what a client sent.
pub fn printable(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    let mut out: String = cut.escape_debug().collect();
    if text.chars().count() > 80 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused_by_name() {
        let e = Params::parse(Some("points=10&pionts=3"), &["points"]).unwrap_err();
        assert!(e.message.contains("`pionts`"), "{}", e.message);
        assert!(e.message.contains("takes points"), "{}", e.message);
        let e = Params::parse(Some("points=10&points=3"), &["points"]).unwrap_err();
        assert_eq!(e.message, "points: given twice");
        let p = Params::parse(Some("name=deep%20net"), &["name"]).unwrap();
        assert_eq!(p.get("name"), Some("deep net"));
    }

    #[test]
    fn numbers_outside_their_bounds_are_refused_with_the_bounds() {
        let p = Params::parse(Some("points=1&step=x&to=7"), &["points", "step", "to"]).unwrap();
        let e = p.number("points", 2, 5000).unwrap_err();
        assert_eq!(
            e.message,
            "points: must be a whole number between 2 and 5000, got `1`"
        );
        assert!(p.number("step", 0, 9).is_err());
        assert_eq!(p.number("to", 0, 9).unwrap(), Some(7));
        assert_eq!(p.number("from", 0, 9).unwrap(), None);
        assert_eq!(
            p.required_number("from", 0, 9).unwrap_err().message,
            "from: required"
        );
    }

    #[test]
    fn ids_must_be_whole_numbers_and_echoes_are_escaped_and_cut() {
        assert_eq!(id("run", "12").unwrap(), 12);
        assert!(id("run", "-1").is_err());
        let e = id("run", "a\u{1b}[31m").unwrap_err();
        assert!(e.message.contains("\\u{1b}"), "{}", e.message);
        assert!(printable(&"x".repeat(1000)).len() < 100);
    }
}
