//! Character-level text for language modelling: the bundled King James New
//! Testament (data/kjv-nt/README.md: Matthew 1:1 to Revelation 22:21, one
//! verse per line, 949,481 ASCII characters, 297,704 bytes gzipped and
//! compiled into the binary), or any text.
//!
//! - **Vocabulary**: the distinct characters of the whole text, sorted by
//!   code point; every character is kept as it is (no case folding, no
//!   merging of punctuation), so a sample decodes to exactly what the net
//!   predicted. The bundled text has 63 (newline, space, punctuation,
//!   letters).
//! - **Split**: the training text is everything up to and including the
//!   first line break at or after [`TRAIN_FRACTION`] of the characters;
//!   the validation text is the rest. For the bundled text: Matthew 1:1
//!   to 1 Peter 3:18 train (7,298 verses, 854,572 characters, unigram
//!   entropy 4.346 bits per character), 1 Peter 3:19 to Revelation 22:21
//!   validate (659 verses, 94,909 characters).
//! - **Examples**: a text is cut into consecutive windows of `T + 1`
//!   characters that overlap by one; example `k` reads characters
//!   `k T .. k T + T` and its target at step `t` is the next character,
//!   `k T + t + 1` ([`SeqTargets::PerStep`]).
//! - **Baseline**: [`unigram_entropy_bits`] of the training text, the loss
//!   of a model that ignores context; a language model's cross-entropy in
//!   nats is `ln 2` times its bits per character.
//!
//! ```
//! use gradscope::data::sequence::text::{unigram_entropy_bits, CharText};
//! // 33 characters: the first line break at or after 29 ends training.
//! let t = CharText::from_text(&("ab\n".repeat(10) + "ba\n")).unwrap();
//! assert_eq!(t.symbols, vec!['\n', 'a', 'b']);
//! assert_eq!((t.decode(&t.train), t.decode(&t.valid)), ("ab\n".repeat(10), "ba\n".into()));
//! // Three equally frequent characters: log2(3) bits.
//! assert!((unigram_entropy_bits(&t.train, 3) - 3f64.log2()).abs() < 1e-12);
//! ```

use super::{SeqDataset, SeqInputs, SeqTargets};
use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;

const BUNDLED: &[u8] = include_bytes!("../../../data/kjv-nt/kjv-nt.txt.gz");

/// The share of the characters that trains (cut at the next line break).
pub const TRAIN_FRACTION: f64 = 0.9;

/// A text as character ids over its own vocabulary, split in two.
#[derive(Clone, Debug, PartialEq)]
pub struct CharText {
    /// Id `i` is `symbols[i]`, sorted by code point.
    pub symbols: Vec<char>,
    /// The training text's ids.
    pub train: Vec<u32>,
    /// The validation text's ids.
    pub valid: Vec<u32>,
}

/// The bundled file as compiled in (gzip), for its checksum.
pub fn bundled_file() -> &'static [u8] {
    BUNDLED
}

/// The bundled text, decompressed.
pub fn bundled_text() -> String {
    let mut text = String::new();
    GzDecoder::new(BUNDLED)
        .read_to_string(&mut text)
        .expect("the bundled text is gzipped UTF-8 (checked by tests)");
    text
}

impl CharText {
    /// The bundled King James New Testament.
    pub fn bundled() -> CharText {
        Self::from_text(&bundled_text()).expect("the bundled text is long enough")
    }

    /// `text` mapped to ids and split (see the module doc).
    ///
    /// Fails on a text too short to leave any validation characters.
    pub fn from_text(text: &str) -> Result<CharText> {
        let chars: Vec<char> = text.chars().collect();
        let mut symbols = chars.clone();
        symbols.sort_unstable();
        symbols.dedup();
        let ids: Vec<u32> = chars
            .iter()
            .map(|c| symbols.binary_search(c).expect("a symbol of the text") as u32)
            .collect();
        let at = (chars.len() as f64 * TRAIN_FRACTION) as usize;
        let cut = chars[at..]
            .iter()
            .position(|&c| c == '\n')
            .map_or(chars.len(), |p| at + p + 1);
        if cut >= chars.len() {
            return Err(Error::InvalidConfig {
                field: "data.name".into(),
                reason: format!(
                    "a text of {} characters leaves none for validation after its first line \
                     break past {:.0}%",
                    chars.len(),
                    TRAIN_FRACTION * 100.0
                ),
            });
        }
        Ok(CharText {
            symbols,
            valid: ids[cut..].to_vec(),
            train: ids[..cut].to_vec(),
        })
    }

    /// Vocabulary size.
    pub fn vocab(&self) -> usize {
        self.symbols.len()
    }

    /// The characters of `ids`.
    ///
    /// # Panics
    /// When an id is not below [`CharText::vocab`].
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().map(|&i| self.symbols[i as usize]).collect()
    }

    /// The ids of `text`, or `None` if a character is not in the vocabulary.
    pub fn encode(&self, text: &str) -> Option<Vec<u32>> {
        text.chars()
            .map(|c| self.symbols.binary_search(&c).ok().map(|i| i as u32))
            .collect()
    }

    /// Unigram entropy of the training text, bits per character.
    pub fn train_entropy_bits(&self) -> f64 {
        unigram_entropy_bits(&self.train, self.vocab())
    }

    /// `ids` cut into next-character examples of `length` steps
    /// (module doc); the last partial window is dropped.
    ///
    /// # Panics
    /// When `length` is 0.
    pub fn examples(&self, ids: &[u32], length: usize, name: &str) -> SeqDataset {
        assert!(length > 0, "examples of 0 characters");
        let n = ids.len().saturating_sub(1) / length;
        let inputs = ids[..n * length].to_vec();
        let labels = ids[1..n * length + 1].iter().map(|&i| i as usize).collect();
        SeqDataset {
            name: name.to_string(),
            length,
            inputs: SeqInputs::Tokens {
                vocab: self.vocab(),
                ids: inputs,
            },
            targets: SeqTargets::PerStep {
                classes: self.vocab(),
                labels,
            },
        }
    }
}

/// `-sum p log2 p` over the frequencies of the ids (each `< vocab`) in
/// `ids`: bits per character of the best context-free model. 0 for an
/// empty slice.
pub fn unigram_entropy_bits(ids: &[u32], vocab: usize) -> f64 {
    let mut counts = vec![0usize; vocab];
    for &i in ids {
        counts[i as usize] += 1;
    }
    let n = ids.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn embedded_file_matches_the_sha256_its_readme_records() {
        let hex: String = Sha256::digest(bundled_file())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let readme = include_str!("../../../data/kjv-nt/README.md");
        let script = include_str!("../../../scripts/vendor-kjv-nt.sh");
        assert!(readme.contains(&hex), "README does not record {hex}");
        assert!(script.contains(&format!("GZ_SHA256={hex}")), "{hex}");
    }

    #[test]
    fn bundled_text_is_the_new_testament_in_ascii() {
        let text = bundled_text();
        assert_eq!((text.len(), text.lines().count()), (949_481, 7_957));
        assert!(text.is_ascii());
        assert!(text.starts_with("The book of the generation of Jesus Christ"));
        assert!(text.ends_with("be with you all. Amen.\n"));
        let t = CharText::bundled();
        assert_eq!(t.vocab(), 63);
        assert_eq!(t.decode(&t.train) + &t.decode(&t.valid), text);
        // The split sits at a line break just past 90%.
        let share = t.train.len() as f64 / text.len() as f64;
        assert!((0.9..0.901).contains(&share), "{share}");
        assert_eq!(t.symbols[t.train[t.train.len() - 1] as usize], '\n');
    }

    #[test]
    fn round_trip_and_split_on_a_tiny_text() {
        let text = "ab\nba\nab\nba\nab\nba\nab\nba\nab\nba\nzz\n";
        let t = CharText::from_text(text).unwrap();
        assert_eq!(t.symbols, vec!['\n', 'a', 'b', 'z']);
        // 33 characters; 90% is 29.7 -> 29, the line break at 29 ends train.
        assert_eq!(
            t.decode(&t.train),
            "ab\nba\nab\nba\nab\nba\nab\nba\nab\nba\n"
        );
        assert_eq!(t.decode(&t.valid), "zz\n");
        assert_eq!(t.encode("zab"), Some(vec![3, 1, 2]));
        assert_eq!(t.encode("q"), None);
        assert!(CharText::from_text("one line only").is_err());
    }

    #[test]
    fn entropy_of_known_distributions() {
        // Uniform over 4: 2 bits; one symbol: 0; (1/2, 1/4, 1/4): 1.5.
        assert_eq!(unigram_entropy_bits(&[0, 1, 2, 3], 4), 2.0);
        assert_eq!(unigram_entropy_bits(&[2, 2, 2], 3), 0.0);
        assert_eq!(unigram_entropy_bits(&[0, 0, 1, 2], 3), 1.5);
        // "abab\n" repeated: p = (1/5, 2/5, 2/5).
        let t = CharText::from_text(&("abab\n".repeat(9) + "b\n")).unwrap();
        assert_eq!(t.decode(&t.valid), "b\n");
        let h = -(0.2f64 * 0.2f64.log2() + 2.0 * 0.4 * 0.4f64.log2());
        assert!((t.train_entropy_bits() - h).abs() < 1e-12);
    }

    #[test]
    fn examples_target_the_next_character() {
        let t = CharText::from_text("hello world\nhello world\nbye\nx\n").unwrap();
        let d = t.examples(&t.train, 4, "text:train");
        // 28 training characters: (28 - 1) / 4 = 6 windows.
        assert_eq!((d.len(), d.length), (6, 4));
        assert_eq!(d.defect(), None);
        let (SeqInputs::Tokens { ids, .. }, SeqTargets::PerStep { labels, .. }) =
            (&d.inputs, &d.targets)
        else {
            panic!()
        };
        assert_eq!(t.decode(&ids[4..8]), "o wo");
        let next: Vec<u32> = labels[4..8].iter().map(|&l| l as u32).collect();
        assert_eq!(t.decode(&next), " wor");
    }
}
