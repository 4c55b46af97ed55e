//! [`ConfigValue`]: the types the typed getters read, with TarsCpp's reading of numbers,
//! flags and sizes.

/// A type a config value can be read as, by [`Config::get_or`](super::Config::get_or)
/// (TarsCpp's forgiving reading) and [`Config::get_parsed`](super::Config::get_parsed)
/// (strict).
pub trait ConfigValue: Sized {
    /// What the value should look like, for error messages (`an integer`, ...).
    const EXPECTED: &'static str;

    /// The strict reading: the whole value must be well formed.
    fn parse_strict(value: &str) -> Option<Self>;

    /// TarsCpp's reading of a value that is not well formed; `None` means "use the default".
    fn parse_lenient(value: &str) -> Option<Self> {
        Self::parse_strict(value)
    }
}

impl ConfigValue for String {
    const EXPECTED: &'static str = "a string";

    fn parse_strict(value: &str) -> Option<Self> {
        Some(value.to_owned())
    }
}

/// Strict integer syntax: `[+-]digits`, or `0x` and hex digits (TarsCpp's two forms).
fn strict_int(s: &str) -> Option<i128> {
    if let Some(hex) = s.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return i128::from_str_radix(hex, 16).ok();
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// TarsCpp's `TC_Common::strto<int>`: `0x...` is read by `strtol(.., 16)`, anything else by
/// `atoi` (leading blanks, a sign, then the digits up to the first non-digit; none gives 0).
/// Out-of-range values saturate here (TarsCpp truncates or is undefined).
fn lenient_int(s: &str) -> i128 {
    let (digits, radix, negative) = if let Some(hex) = s.strip_prefix("0x") {
        (hex, 16, false)
    } else {
        let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        match t.strip_prefix('-') {
            Some(rest) => (rest, 10, true),
            None => (t.strip_prefix('+').unwrap_or(t), 10, false),
        }
    };
    let mut n: i128 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        n = n.saturating_mul(radix as i128).saturating_add(d as i128);
    }
    if negative {
        -n
    } else {
        n
    }
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl ConfigValue for $t {
            const EXPECTED: &'static str = concat!("an integer (", stringify!($t), ")");

            fn parse_strict(value: &str) -> Option<Self> {
                strict_int(value).and_then(|n| <$t>::try_from(n).ok())
            }

            fn parse_lenient(value: &str) -> Option<Self> {
                let n = lenient_int(value).clamp(<$t>::MIN as i128, <$t>::MAX as i128);
                <$t>::try_from(n).ok()
            }
        }
    )*};
}

int_value!(i16, i32, i64, isize, u16, u32, u64, usize);

impl ConfigValue for bool {
    const EXPECTED: &'static str = "a flag (1/0, y/n, yes/no, true/false, on/off)";

    /// TarsCpp reads flags key by key (`!= "0"`, `== "1"`, lower-cased `== "y"`); this accepts
    /// the spellings of all of them, case-insensitively.
    fn parse_strict(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "1" | "y" | "yes" | "true" | "on" => Some(true),
            "0" | "n" | "no" | "false" | "off" => Some(false),
            _ => None,
        }
    }
}

/// A size in bytes written as TarsCpp's `TC_Common::toSize` reads it: `52428800`, `10M`,
/// `128K`, `1G`, `1.5M` (K, M, G are powers of 1024). Used for `logsize` and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ConfigValue for ByteSize {
    const EXPECTED: &'static str = "a size (bytes, or a number followed by K, M or G)";

    fn parse_strict(value: &str) -> Option<Self> {
        let unit = match value.as_bytes().last()? {
            b'K' => 1u64 << 10,
            b'M' => 1 << 20,
            b'G' => 1 << 30,
            _ => return value.parse().ok().map(ByteSize),
        };
        let number = &value[..value.len() - 1];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        let n: f64 = number.parse().ok()?;
        // `as` saturates for floats: a huge size becomes u64::MAX.
        Some(ByteSize((n * unit as f64) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(i32::parse_strict("42"), Some(42));
        assert_eq!(i32::parse_strict("-42"), Some(-42));
        assert_eq!(i32::parse_strict("+7"), Some(7));
        assert_eq!(i32::parse_strict("0x1F"), Some(31));
        assert_eq!(u16::parse_strict("65536"), None);
        assert_eq!(u32::parse_strict("-1"), None);
        for bad in [
            "", "12abc", "abc", " 1", "0x", "0xg", "0X10", "1.5", "--1", "0x-1",
        ] {
            assert_eq!(i64::parse_strict(bad), None, "{bad:?}");
        }
        assert_eq!(
            i64::parse_strict("99999999999999999999999999999999999999999"),
            None
        );
    }

    #[test]
    fn lenient_integers_read_as_tarscpp() {
        assert_eq!(i32::parse_lenient("12abc"), Some(12));
        assert_eq!(i32::parse_lenient("abc"), Some(0));
        assert_eq!(i32::parse_lenient("  -8 x"), Some(-8));
        assert_eq!(i32::parse_lenient("0x1g"), Some(1));
        assert_eq!(i32::parse_lenient("0X10"), Some(0));
        assert_eq!(i32::parse_lenient("99999999999"), Some(i32::MAX));
        assert_eq!(i32::parse_lenient("-99999999999"), Some(i32::MIN));
        assert_eq!(u32::parse_lenient("-5"), Some(0));
        assert_eq!(u64::parse_lenient(&"9".repeat(100)), Some(u64::MAX));
    }

    #[test]
    fn flags() {
        for t in ["1", "y", "Y", "yes", "TRUE", "on"] {
            assert_eq!(bool::parse_strict(t), Some(true), "{t}");
        }
        for f in ["0", "n", "N", "no", "false", "Off"] {
            assert_eq!(bool::parse_strict(f), Some(false), "{f}");
        }
        assert_eq!(bool::parse_strict("2"), None);
        assert_eq!(bool::parse_lenient("maybe"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse_strict("52428800"), Some(ByteSize(52428800)));
        assert_eq!(ByteSize::parse_strict("10M"), Some(ByteSize(10 << 20)));
        assert_eq!(ByteSize::parse_strict("128K"), Some(ByteSize(128 << 10)));
        assert_eq!(ByteSize::parse_strict("1G"), Some(ByteSize(1 << 30)));
        assert_eq!(ByteSize::parse_strict("1.5M"), Some(ByteSize(3 << 19)));
        for bad in ["", "M", "10m", "10 M", "x1M", "1..5M", "-1M", "1e3M", "ten"] {
            assert_eq!(ByteSize::parse_strict(bad), None, "{bad:?}");
        }
        assert_eq!(
            ByteSize::parse_strict(&format!("{}G", "9".repeat(30))),
            Some(ByteSize(u64::MAX))
        );
    }

    #[test]
    fn strings_take_anything() {
        assert_eq!(String::parse_strict(""), Some(String::new()));
        assert_eq!(String::parse_lenient("a b"), Some("a b".into()));
    }
}
