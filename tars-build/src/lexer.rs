//! The TARS IDL lexer: the token rules of TarsCpp's `tars.l`.
//!
//! Facts it copies: an integer is `[+-]?` then octal (`0[0-7]+`), hex (`0x` lower-case only)
//! or decimal digits, converted like C `strtoll(.., 0)` (so `08` is 0 and `0X10` is the
//! integer 0 followed by the identifier `X10`); a sign is part of the number only when a
//! digit follows at once (`- 1` is a stray `-`); an identifier followed by `(` is an
//! operation name; strings know C escapes, `\0oo` octal and `\x` hex, and refuse NUL.

use crate::error::{Error, Span};

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or keyword.
    Word(String),
    /// An identifier directly followed by `(` (the `(` is consumed).
    Op(String),
    /// An integer constant.
    Int(i64),
    /// A floating-point constant.
    Float(f64),
    /// A string literal, unescaped (raw bytes).
    Str(Vec<u8>),
    /// `::`.
    Scope,
    /// `#include "path"`.
    Include(String),
    /// Any other printable character.
    Punct(char),
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Op(w) => format!("`{w}(`"),
            Tok::Int(v) => format!("integer `{v}`"),
            Tok::Float(v) => format!("number `{v}`"),
            Tok::Str(_) => "a string literal".into(),
            Tok::Scope => "`::`".into(),
            Tok::Include(_) => "`#include`".into(),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Eof => "end of file".into(),
        }
    }
}

/// A token with its position and the comment just before it (or after the previous `;` on
/// the same line), used as documentation.
#[derive(Debug, Clone)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where it starts.
    pub span: Span,
    /// Comment text before it.
    pub doc: Option<String>,
    /// Comment on the same line after it (filled for `;`).
    pub trailing: Option<String>,
}

/// Splits `src` (file number `file`) into tokens.
pub fn lex(src: &[u8], file: usize) -> Result<Vec<Token>, Error> {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        col: 1,
        file,
    };
    let mut out: Vec<Token> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    loop {
        // Whitespace and comments.
        loop {
            let c = lx.peek(0);
            if c.is_ascii_whitespace() && c != 0 {
                lx.bump();
            } else if c == b'/' && lx.peek(1) == b'/' {
                let line = lx.line;
                lx.bump();
                lx.bump();
                let start = lx.pos;
                while lx.peek(0) != b'\n' && lx.peek(0) != 0 {
                    lx.bump();
                }
                // Comments that are not UTF-8 (GBK is common) are not kept.
                let text = std::str::from_utf8(&src[start..lx.pos])
                    .map(|t| t.trim().to_string())
                    .unwrap_or_default();
                lx.attach(&mut out, &mut pending, text, line);
            } else if c == b'/' && lx.peek(1) == b'*' {
                let span = lx.span();
                let line = lx.line;
                lx.bump();
                lx.bump();
                let start = lx.pos;
                while !(lx.peek(0) == b'*' && lx.peek(1) == b'/') {
                    if lx.at_end() {
                        return Err(Error::at(span, "end of file in a /* comment"));
                    }
                    lx.bump();
                }
                let text = std::str::from_utf8(&src[start..lx.pos])
                    .map(clean_block)
                    .unwrap_or_default();
                lx.bump();
                lx.bump();
                lx.attach(&mut out, &mut pending, text, line);
            } else {
                break;
            }
        }
        let span = lx.span();
        let doc = (!pending.is_empty()).then(|| pending.join("\n"));
        pending.clear();
        if lx.at_end() {
            out.push(Token {
                tok: Tok::Eof,
                span,
                doc: None,
                trailing: None,
            });
            return Ok(out);
        }
        let tok = lx.token(span)?;
        out.push(Token {
            tok,
            span,
            doc,
            trailing: None,
        });
    }
}

/// The text of a `/* */` comment without the leading `*` of each line.
fn clean_block(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            l.strip_prefix('*').map(str::trim).unwrap_or(l)
        })
        .collect();
    lines.join("\n").trim().to_string()
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
    file: usize,
}

impl Lexer<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self, n: usize) -> u8 {
        self.src.get(self.pos + n).copied().unwrap_or(0)
    }

    fn bump(&mut self) -> u8 {
        let c = self.peek(0);
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if c & 0xC0 != 0x80 {
            // Columns count characters: UTF-8 continuation bytes do not move them.
            self.col += 1;
        }
        c
    }

    fn span(&self) -> Span {
        Span {
            file: self.file,
            line: self.line,
            col: self.col,
        }
    }

    /// A comment documents the next token, unless it follows a `;` (or `,`) on that
    /// token's line, where it documents what that `;` ended.
    fn attach(&self, out: &mut [Token], pending: &mut Vec<String>, text: String, line: u32) {
        if text.is_empty() {
            return;
        }
        if let Some(last) = out.last_mut() {
            let ends_item = matches!(last.tok, Tok::Punct(';') | Tok::Punct(','));
            if ends_item && last.span.line == line && pending.is_empty() {
                last.trailing = Some(text);
                return;
            }
        }
        pending.push(text);
    }

    fn token(&mut self, span: Span) -> Result<Tok, Error> {
        let c = self.peek(0);
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = self.pos;
            while self.peek(0).is_ascii_alphanumeric() || self.peek(0) == b'_' {
                self.bump();
            }
            let word = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
            // `name (` is an operation name, whitespace allowed before the parenthesis.
            let mut n = 0;
            while self.peek(n).is_ascii_whitespace() && self.peek(n) != 0 {
                n += 1;
            }
            if self.peek(n) == b'(' {
                for _ in 0..=n {
                    self.bump();
                }
                return Ok(Tok::Op(word));
            }
            return Ok(Tok::Word(word));
        }
        let signed = (c == b'+' || c == b'-')
            && (self.peek(1).is_ascii_digit()
                || (self.peek(1) == b'.' && self.peek(2).is_ascii_digit()));
        if c.is_ascii_digit() || signed || (c == b'.' && self.peek(1).is_ascii_digit()) {
            return self.number(span);
        }
        if c == b'"' {
            return self.string(span);
        }
        if c == b':' && self.peek(1) == b':' {
            self.bump();
            self.bump();
            return Ok(Tok::Scope);
        }
        if self.src[self.pos..].starts_with(b"#include") {
            for _ in 0.."#include".len() {
                self.bump();
            }
            while matches!(self.peek(0), b' ' | b'\t') {
                self.bump();
            }
            if self.peek(0) != b'"' {
                return Err(Error::at(self.span(), "expected \"FILE\" after #include"));
            }
            let start = self.pos;
            while self.peek(0) != b'\n' && !self.at_end() {
                self.bump();
            }
            let rest = String::from_utf8_lossy(&self.src[start..self.pos]);
            let rest = rest.trim_end();
            let Some(end) = rest.rfind('"').filter(|&e| e > 0) else {
                return Err(Error::at(span, "expected \"FILE\" after #include"));
            };
            return Ok(Tok::Include(rest[1..end].to_string()));
        }
        if !(32..=126).contains(&c) {
            return Err(Error::at(
                span,
                format!("illegal input character: '\\{c:03o}'"),
            ));
        }
        self.bump();
        Ok(Tok::Punct(c as char))
    }

    fn number(&mut self, span: Span) -> Result<Tok, Error> {
        let start = self.pos;
        if matches!(self.peek(0), b'+' | b'-') {
            self.bump();
        }
        let digits_start = self.pos;
        // Hex: `0x` (lower case, as tars.l) and at least one hex digit.
        if self.peek(0) == b'0' && self.peek(1) == b'x' && self.peek(2).is_ascii_hexdigit() {
            self.bump();
            self.bump();
            while self.peek(0).is_ascii_hexdigit() {
                self.bump();
            }
            let text = self.text(start);
            return int_value(&text, span).map(Tok::Int);
        }
        while self.peek(0).is_ascii_digit() {
            self.bump();
        }
        let int_digits = self.pos - digits_start;
        let mut is_float = false;
        if self.peek(0) == b'.' && (int_digits > 0 || self.peek(1).is_ascii_digit()) {
            is_float = true;
            self.bump();
            while self.peek(0).is_ascii_digit() {
                self.bump();
            }
        }
        let exp_follows = matches!(self.peek(0), b'e' | b'E')
            && (self.peek(1).is_ascii_digit()
                || (matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit()));
        if exp_follows {
            is_float = true;
            self.bump();
            if matches!(self.peek(0), b'+' | b'-') {
                self.bump();
            }
            while self.peek(0).is_ascii_digit() {
                self.bump();
            }
        }
        if !is_float {
            let text = self.text(start);
            return int_value(&text, span).map(Tok::Int);
        }
        let text = self.text(start);
        if matches!(self.peek(0), b'f' | b'F') {
            self.bump();
        }
        let v: f64 = text
            .parse()
            .map_err(|_| Error::at(span, format!("bad float point constant `{text}'")))?;
        if v.is_infinite() {
            return Err(Error::at(
                span,
                format!("float point constant `{text}' too large (overflow)"),
            ));
        }
        Ok(Tok::Float(v))
    }

    fn text(&self, start: usize) -> String {
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    fn string(&mut self, span: Span) -> Result<Tok, Error> {
        self.bump();
        let mut out = Vec::new();
        loop {
            let here = self.span();
            if self.at_end() {
                return Err(Error::at(span, "end of file in a string"));
            }
            match self.bump() {
                b'"' => return Ok(Tok::Str(out)),
                b'\n' => return Err(Error::at(here, "newline in a string")),
                b'\\' => {
                    let e = self.bump();
                    match e {
                        b'\\' | b'"' | b'\'' | b'?' => out.push(e),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'v' => out.push(0x0B),
                        b'f' => out.push(0x0C),
                        b'a' => out.push(0x07),
                        b'b' => out.push(0x08),
                        b'0'..=b'3' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                if (b'0'..=b'7').contains(&self.peek(0)) {
                                    v = v * 8 + u32::from(self.bump() - b'0');
                                }
                            }
                            if v == 0 {
                                return Err(Error::at(
                                    here,
                                    "illegal NUL character in string constant",
                                ));
                            }
                            out.push(v as u8);
                        }
                        b'x' => {
                            let mut v: u64 = 0;
                            while self.peek(0).is_ascii_hexdigit() {
                                let d = (self.bump() as char).to_digit(16).unwrap_or(0);
                                v = v.wrapping_mul(16).wrapping_add(u64::from(d));
                            }
                            if v == 0 {
                                return Err(Error::at(
                                    here,
                                    "illegal NUL character in string constant",
                                ));
                            }
                            out.push(v as u8);
                        }
                        0 if self.at_end() => {
                            return Err(Error::at(span, "end of file in a string"))
                        }
                        other => {
                            // tars.l keeps the backslash of an unknown escape; so do we,
                            // with the character it escapes.
                            out.push(b'\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }
}

/// The value of an integer token, as C `strtoll(text, 0, 0)`: a leading `0` means octal and
/// parsing stops at the first digit that is not octal; out of range is an error.
fn int_value(text: &str, span: Span) -> Result<i64, Error> {
    let (neg, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = body.strip_prefix("0x") {
        (16, hex)
    } else if body.len() > 1 && body.starts_with('0') {
        let octal_len = body[1..]
            .bytes()
            .take_while(|b| (b'0'..=b'7').contains(b))
            .count();
        (8, &body[1..1 + octal_len])
    } else {
        (10, body)
    };
    let out_of_range = || Error::at(span, format!("integer constant `{text}' out of range"));
    if digits.is_empty() {
        return Ok(0);
    }
    let magnitude = u64::from_str_radix(digits, radix).map_err(|_| out_of_range())?;
    if neg {
        if magnitude > 1u64 << 63 {
            return Err(out_of_range());
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| out_of_range())
    }
}
