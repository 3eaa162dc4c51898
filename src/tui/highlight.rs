//! A small JSON and YAML highlighter for the detail pane: each line split into tokens of a
//! few kinds (keys, strings, numbers, literals, punctuation, comments). Good enough for
//! istioctl's `-o json` and kubectl's `-o yaml`; not a parser.

/// What a piece of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Key,
    Str,
    Number,
    /// `true`, `false`, `null`.
    Literal,
    Punct,
    Comment,
    Plain,
}

/// Which highlighter a text takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Json,
    Yaml,
    Text,
}

/// One line as `(token, text)` pieces whose texts concatenate to the line.
pub type Pieces = Vec<(Token, String)>;

pub fn line(lang: Lang, text: &str) -> Pieces {
    match lang {
        Lang::Json => json_line(text),
        Lang::Yaml => yaml_line(text),
        Lang::Text => vec![(Token::Plain, text.to_owned())],
    }
}

fn scalar(word: &str) -> Token {
    let w = word.trim();
    if matches!(w, "true" | "false" | "null" | "~") {
        Token::Literal
    } else if !w.is_empty() && w.parse::<f64>().is_ok() {
        Token::Number
    } else {
        Token::Str
    }
}

fn json_line(text: &str) -> Pieces {
    let mut out: Pieces = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            // A string: to the closing quote, minding escapes.
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            let s: String = chars[start..i].iter().collect();
            // A key is a string followed by `:`.
            let rest = chars[i..].iter().find(|c| !c.is_whitespace());
            let kind = if rest == Some(&':') {
                Token::Key
            } else {
                Token::Str
            };
            out.push((kind, s));
        } else if "{}[],:".contains(c) {
            out.push((Token::Punct, c.to_string()));
            i += 1;
        } else if c.is_whitespace() {
            let start = i;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            out.push((Token::Plain, chars[start..i].iter().collect()));
        } else {
            let start = i;
            while i < chars.len() && !"{}[],: \t\"".contains(chars[i]) {
                i += 1;
            }
            let w: String = chars[start..i].iter().collect();
            out.push((scalar(&w), w));
        }
    }
    out
}

fn yaml_line(text: &str) -> Pieces {
    let mut out: Pieces = Vec::new();
    let trimmed = text.trim_start();
    let indent = &text[..text.len() - trimmed.len()];
    if !indent.is_empty() {
        out.push((Token::Plain, indent.to_owned()));
    }
    let mut rest = trimmed;
    if rest.starts_with('#') {
        out.push((Token::Comment, rest.to_owned()));
        return out;
    }
    while let Some(after) = rest.strip_prefix("- ") {
        out.push((Token::Punct, "- ".to_owned()));
        rest = after;
    }
    if rest == "-" {
        out.push((Token::Punct, "-".to_owned()));
        return out;
    }
    // `key: value` (the key not quoted-with-colons; good enough for kubectl's output).
    let key_end = if rest.starts_with('"') || rest.starts_with('\'') {
        None
    } else {
        rest.find(": ")
            .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))
    };
    if let Some(k) = key_end {
        out.push((Token::Key, rest[..k].to_owned()));
        out.push((Token::Punct, ":".to_owned()));
        rest = &rest[k + 1..];
        if rest.is_empty() {
            return out;
        }
    }
    let value = rest.trim_start();
    if rest.len() > value.len() {
        out.push((Token::Plain, rest[..rest.len() - value.len()].to_owned()));
    }
    if !value.is_empty() {
        let kind = if value.starts_with('#') {
            Token::Comment
        } else if matches!(value, "|" | ">" | "|-" | ">-" | "{}" | "[]") {
            Token::Punct
        } else {
            scalar(value)
        };
        out.push((kind, value.to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(p: &Pieces) -> Vec<(Token, &str)> {
        p.iter()
            .filter(|(k, _)| *k != Token::Plain)
            .map(|(k, s)| (*k, s.as_str()))
            .collect()
    }

    #[test]
    fn json_keys_strings_numbers() {
        let p = line(
            Lang::Json,
            r#"    "name": "http.8080", "port": 8080, "x": [true, null],"#,
        );
        assert_eq!(
            kinds(&p),
            [
                (Token::Key, "\"name\""),
                (Token::Punct, ":"),
                (Token::Str, "\"http.8080\""),
                (Token::Punct, ","),
                (Token::Key, "\"port\""),
                (Token::Punct, ":"),
                (Token::Number, "8080"),
                (Token::Punct, ","),
                (Token::Key, "\"x\""),
                (Token::Punct, ":"),
                (Token::Punct, "["),
                (Token::Literal, "true"),
                (Token::Punct, ","),
                (Token::Literal, "null"),
                (Token::Punct, "]"),
                (Token::Punct, ","),
            ]
        );
        let text: String = p.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            text,
            r#"    "name": "http.8080", "port": 8080, "x": [true, null],"#
        );
        let p = line(Lang::Json, r#""a \"quoted\": x""#);
        assert_eq!(kinds(&p), [(Token::Str, r#""a \"quoted\": x""#)]);
    }

    #[test]
    fn yaml_keys_items_and_scalars() {
        assert_eq!(
            kinds(&line(Lang::Yaml, "  - name: webapp")),
            [
                (Token::Punct, "- "),
                (Token::Key, "name"),
                (Token::Punct, ":"),
                (Token::Str, "webapp")
            ]
        );
        assert_eq!(
            kinds(&line(Lang::Yaml, "    number: 80")),
            [
                (Token::Key, "number"),
                (Token::Punct, ":"),
                (Token::Number, "80")
            ]
        );
        assert_eq!(
            kinds(&line(Lang::Yaml, "spec:")),
            [(Token::Key, "spec"), (Token::Punct, ":")]
        );
        assert_eq!(
            kinds(&line(Lang::Yaml, "  - \"*.istioinaction.io\"")),
            [(Token::Punct, "- "), (Token::Str, "\"*.istioinaction.io\"")]
        );
        assert_eq!(kinds(&line(Lang::Yaml, "# c")), [(Token::Comment, "# c")]);
    }
}
