//! The document's text as it streams by: the first `limits.text_chars` characters kept, the
//! characters and words of all of it counted.
//!
//! Content characters (from `w:t`, and `w:tab`, `w:br`, `w:cr`, `w:noBreakHyphen` as one character
//! each) are counted in `character_count`, like Word's "characters (with spaces)". The separators
//! added between paragraphs (`\n`), table cells (`\t`) and rows (`\n`) are part of `text` but not
//! counted. A word is a maximal run of non-whitespace content characters inside one paragraph.

/// The text kept and the counts.
#[derive(Debug)]
pub(crate) struct TextOut {
    text: String,
    kept: usize,
    limit: usize,
    truncated: bool,
    characters: u64,
    words: u64,
    in_word: bool,
}

impl TextOut {
    /// Keeps at most `limit` characters of text.
    pub(crate) fn new(limit: usize) -> Self {
        TextOut {
            text: String::new(),
            kept: 0,
            limit,
            truncated: false,
            characters: 0,
            words: 0,
            in_word: false,
        }
    }

    /// Content characters.
    pub(crate) fn content(&mut self, s: &str) {
        for c in s.chars() {
            self.characters += 1;
            if c.is_whitespace() {
                self.in_word = false;
            } else if !self.in_word {
                self.in_word = true;
                self.words += 1;
            }
            self.keep(c);
        }
    }

    /// A separator between paragraphs, cells or rows: ends the current word, not counted.
    pub(crate) fn separator(&mut self, c: char) {
        self.in_word = false;
        self.keep(c);
    }

    /// Replaces a trailing `from` separator by `to` (a paragraph's `\n` becomes the cell's `\t`),
    /// if the text kept ends with it.
    pub(crate) fn retag_last(&mut self, from: char, to: char) {
        if !self.truncated && self.text.ends_with(from) {
            self.text.pop();
            self.text.push(to);
        }
    }

    fn keep(&mut self, c: char) {
        if self.kept < self.limit {
            self.text.push(c);
            self.kept += 1;
        } else {
            self.truncated = true;
        }
    }

    /// Whether text was left out because of the limit.
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }

    /// Content characters seen.
    pub(crate) fn characters(&self) -> u64 {
        self.characters
    }

    /// Words seen.
    pub(crate) fn words(&self) -> u64 {
        self.words
    }

    /// The text kept.
    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_span_runs_but_not_paragraphs() {
        let mut t = TextOut::new(100);
        t.content("ita");
        t.content("li");
        t.content("c two");
        t.separator('\n');
        t.content("three");
        assert_eq!((t.words(), t.characters()), (3, 15));
        assert_eq!(t.into_text(), "italic two\nthree");
    }

    #[test]
    fn text_is_cut_at_the_limit_but_counts_go_on() {
        let mut t = TextOut::new(3);
        t.content("abcdef");
        assert!(t.truncated());
        assert_eq!(t.characters(), 6);
        assert_eq!(t.into_text(), "abc");
    }

    #[test]
    fn a_cell_end_retags_the_paragraph_separator() {
        let mut t = TextOut::new(100);
        t.content("a");
        t.separator('\n');
        t.retag_last('\n', '\t');
        t.content("b");
        t.separator('\n');
        t.retag_last('\n', '\t');
        t.retag_last('\t', '\n');
        assert_eq!(t.into_text(), "a\tb\n");
    }
}
