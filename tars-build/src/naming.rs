//! IDL names to Rust names: snake_case fields, methods and modules, UpperCamelCase
//! enumerators, type names kept as written; Rust keywords become raw identifiers.

/// Words of an identifier: split at `_`, at a lower-to-upper change and before the last
/// capital of an acronym (`getXMLData` -> get, XML, Data). Digits stay with their word.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// `sServantName` -> `s_servant_name`, `getXML` -> `get_xml`, `TestApp` -> `test_app`.
/// A leading `_` is kept (`_x` -> `_x`).
pub fn snake(name: &str) -> String {
    let body = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    let lead = name.chars().take_while(|&c| c == '_').count();
    let out = format!("{}{body}", "_".repeat(lead));
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// `RED` -> `Red`, `TARS_NORMAL` -> `TarsNormal`, `eColor` -> `EColor`.
pub fn upper_camel(name: &str) -> String {
    let out: String = words(name)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut cs = lower.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect();
    if out.is_empty() {
        name.to_string()
    } else {
        out
    }
}

/// `say_hello` -> `sayHello`: what `#[tars_interface]` derives a wire name from.
pub fn lower_camel(rust: &str) -> String {
    let name = rust.strip_prefix("r#").unwrap_or(rust);
    let mut out = String::new();
    let mut upper_next = false;
    for c in name.chars() {
        if c == '_' {
            upper_next = !out.is_empty();
        } else if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Rust keywords (strict and reserved, 2021 edition).
const KEYWORDS: [&str; 51] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: [&str; 5] = ["self", "Self", "super", "crate", "_"];

/// `name` as a Rust identifier: keywords become `r#kw`, the few that cannot (`self`,
/// `Self`, `super`, `crate`) get a trailing `_`.
pub fn rust_ident(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) || name == "gen" {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

/// Whether `name` is UpperCamelCase enough for `non_camel_case_types` to stay quiet.
pub fn is_camel(name: &str) -> bool {
    let n = name.trim_start_matches('_');
    n.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && !n.contains('_')
}

/// Whether `name` is UPPER_CASE enough for `non_upper_case_globals`.
pub fn is_upper(name: &str) -> bool {
    !name.chars().any(|c| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(snake("sServantName"), "s_servant_name");
        assert_eq!(snake("getXMLData"), "get_xml_data");
        assert_eq!(snake("TestApp"), "test_app");
        assert_eq!(snake("user_id"), "user_id");
        assert_eq!(snake("userId"), "user_id");
        assert_eq!(snake("iVersion2"), "i_version2");
        assert_eq!(snake("ABC"), "abc");
        assert_eq!(upper_camel("RED"), "Red");
        assert_eq!(upper_camel("TARS_NORMAL"), "TarsNormal");
        assert_eq!(upper_camel("eRed"), "ERed");
        assert_eq!(lower_camel("s_rsp"), "sRsp");
        assert_eq!(rust_ident("type"), "r#type");
        assert_eq!(rust_ident("self"), "self_");
    }
}
