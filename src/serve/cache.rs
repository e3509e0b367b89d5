//! Answers kept for reuse: the JSON of each route and query, tagged with
//! the version of what it was computed from (a run's version, or the
//! store's generation for routes over every run). A request whose
//! version still matches is answered from memory; what a write to the
//! run changes is in its version (`Store::run_version`). Bounded in bytes,
//! keys included, and in entries: past [`MAX_BYTES`] or [`MAX_ENTRIES`]
//! the oldest answers go first.

use axum::body::Bytes;
use std::collections::{HashMap, VecDeque};

/// The most bytes of answers kept.
pub const MAX_BYTES: usize = 64 << 20;
/// Answers larger than this are not kept.
pub const MAX_ENTRY: usize = 8 << 20;
/// The most answers kept.
pub const MAX_ENTRIES: usize = 4096;

/// The cache: route and query to (version, answer).
#[derive(Default)]
pub struct Cache {
    entries: HashMap<String, (String, Bytes)>,
    /// Keys in the order they were first stored.
    order: VecDeque<String>,
    bytes: usize,
}

impl Cache {
    /// The answer for `key` computed at `version`, if kept.
    pub fn get(&self, key: &str, version: &str) -> Option<Bytes> {
        match self.entries.get(key) {
            Some((v, body)) if v == version => Some(body.clone()),
            _ => None,
        }
    }

    /// Keeps `body` as the answer for `key` at `version`, replacing an
    /// older one.
    pub fn put(&mut self, key: String, version: String, body: Bytes) {
        if body.len() > MAX_ENTRY {
            return;
        }
        // The key counts too: a query can be long.
        self.bytes += key.len() + body.len();
        match self.entries.insert(key.clone(), (version, body)) {
            Some((_, old)) => self.bytes -= key.len() + old.len(),
            None => self.order.push_back(key),
        }
        while self.bytes > MAX_BYTES || self.entries.len() > MAX_ENTRIES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, body)) = self.entries.remove(&oldest) {
                self.bytes -= oldest.len() + body.len();
            }
        }
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_reused_only_at_its_version() {
        let mut c = Cache::default();
        c.put("/a".into(), "v1".into(), Bytes::from_static(b"one"));
        assert_eq!(c.get("/a", "v1").as_deref(), Some(&b"one"[..]));
        assert!(c.get("/a", "v2").is_none());
        c.put("/a".into(), "v2".into(), Bytes::from_static(b"three"));
        assert!(c.get("/a", "v1").is_none());
        assert_eq!(c.bytes(), 2 + 5, "the key and the answer");
    }

    #[test]
    fn the_oldest_answers_go_first_past_the_bound() {
        let mut c = Cache::default();
        let big = Bytes::from(vec![0u8; MAX_ENTRY]);
        for i in 0..(MAX_BYTES / MAX_ENTRY + 2) {
            c.put(format!("/{i}"), "v".into(), big.clone());
        }
        assert!(c.bytes() <= MAX_BYTES);
        assert!(c.get("/0", "v").is_none() && c.get("/1", "v").is_none());
        assert!(c
            .get(&format!("/{}", MAX_BYTES / MAX_ENTRY + 1), "v")
            .is_some());
        c.put(
            "/huge".into(),
            "v".into(),
            Bytes::from(vec![0u8; MAX_ENTRY + 1]),
        );
        assert!(c.get("/huge", "v").is_none());
    }
}
