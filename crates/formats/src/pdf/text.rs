//! The text layer as the result carries it: whitespace normalised as it streams in, the first
//! `limits.text_chars` characters kept, and the length and word count taken over all of it.
//!
//! Normalisation: a run of whitespace becomes one space, or one line break when it holds one,
//! or a blank line (`\n\n`) when it holds two or more; whitespace at the start and end of the
//! document is dropped. Words are the maximal runs of non-whitespace characters, as
//! `str::split_whitespace` counts them. Memory stays at `text_chars` characters, whatever the
//! size of the text.

/// Accumulates text given in pieces (glyphs, lines, pages).
pub(crate) struct TextSink {
    keep: usize,
    kept: String,
    kept_chars: usize,
    length: u64,
    words: u64,
    /// Whitespace seen since the last character written: 0 none, 1 a space, 2 a line break,
    /// 3 two or more line breaks.
    pending: u8,
}

impl TextSink {
    /// A sink that keeps the first `keep` characters.
    pub(crate) fn new(keep: usize) -> Self {
        TextSink {
            keep,
            kept: String::new(),
            kept_chars: 0,
            length: 0,
            words: 0,
            pending: 0,
        }
    }

    /// Appends a piece of text.
    pub(crate) fn push_str(&mut self, text: &str) {
        for c in text.chars() {
            self.push(c);
        }
    }

    /// Appends one character.
    pub(crate) fn push(&mut self, c: char) {
        if c.is_whitespace() {
            let weight = match c {
                '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{2028}' | '\u{2029}' => 2,
                _ => 1,
            };
            self.pending = match (self.pending, weight) {
                (p, 2) if p >= 2 => 3,
                (p, w) => p.max(w),
            };
            return;
        }
        if self.length == 0 {
            self.pending = 0;
        }
        let separator = match std::mem::take(&mut self.pending) {
            0 => None,
            1 => Some(" "),
            2 => Some("\n"),
            _ => Some("\n\n"),
        };
        let starts_word = self.length == 0 || separator.is_some();
        if let Some(sep) = separator {
            for s in sep.chars() {
                self.write(s);
            }
        }
        if starts_word {
            self.words += 1;
        }
        self.write(c);
    }

    /// Ends a page: what follows starts on a new paragraph.
    pub(crate) fn page_break(&mut self) {
        self.pending = 3;
    }

    fn write(&mut self, c: char) {
        self.length += 1;
        if self.kept_chars < self.keep {
            self.kept.push(c);
            self.kept_chars += 1;
        }
    }

    /// Characters written so far (after normalisation).
    pub(crate) fn length(&self) -> u64 {
        self.length
    }

    /// The kept text, its full length in characters and its word count.
    pub(crate) fn finish(self) -> (String, u64, u64) {
        (self.kept, self.length, self.words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalise(pieces: &[&str], keep: usize) -> (String, u64, u64) {
        let mut sink = TextSink::new(keep);
        for p in pieces {
            sink.push_str(p);
        }
        sink.finish()
    }

    #[test]
    fn whitespace_runs_collapse_to_a_space_a_line_or_a_paragraph() {
        let (text, length, words) =
            normalise(&["\n\n  Hello \t world \n next", "\n \n\nend  "], 100);
        assert_eq!(text, "Hello world\nnext\n\nend");
        assert_eq!(length, text.chars().count() as u64);
        assert_eq!(words, 4);
    }

    #[test]
    fn counts_cover_all_the_text_while_only_the_start_is_kept() {
        let (text, length, words) = normalise(&["één twee drie vier"], 6);
        assert_eq!(text, "één tw");
        assert_eq!((length, words), (18, 4));
    }

    #[test]
    fn words_split_across_pieces_count_once() {
        let (text, _, words) = normalise(&["hel", "lo", " wor", "ld"], 100);
        assert_eq!((text.as_str(), words), ("hello world", 2));
    }

    #[test]
    fn a_page_break_separates_pages_by_a_blank_line() {
        let mut sink = TextSink::new(100);
        sink.page_break();
        sink.push_str("one");
        sink.page_break();
        sink.push_str("two");
        sink.page_break();
        assert_eq!(sink.finish(), ("one\n\ntwo".to_owned(), 8, 2));
    }
}
