//! Value shapes shared by the settings tree: durations, byte sizes, ports, lenient scalars.
//!
//! The YAML file and the environment both end up here, so every deserializer accepts what either of
//! them produces: an environment value such as `8080` or `true` arrives already parsed (figment turns it
//! into a number or a bool), while `30s` or `100MB` arrive as strings.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserializer;
use serde::de::{self, Unexpected, Visitor};

/// Parses a duration: a bare number is seconds (`90`, `1.5`); otherwise one or more
/// `<number><unit>` parts as Go's `time.ParseDuration` writes them (`500ms`, `90s`, `5m`, `1h30m`),
/// with units `ns`, `us` (`µs`), `ms`, `s`, `m`, `h` and `d` (24 h).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty".into());
    }
    if let Ok(secs) = parse_decimal(text, 1_000_000_000) {
        return Ok(nanos_to_duration(secs));
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or("a unit after the last number")?;
        let unit_end = rest[number_end..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .map_or(rest.len(), |i| number_end + i);
        let (number, unit) = (&rest[..number_end], rest[number_end..unit_end].trim());
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            _ => return Err(format!("unknown unit {unit:?}")),
        };
        total = total
            .checked_add(parse_decimal(number.trim(), nanos_per_unit)?)
            .ok_or("too large")?;
        rest = &rest[unit_end..];
    }
    Ok(nanos_to_duration(total))
}

/// Parses a byte size: a bare whole number is bytes; otherwise `<number><unit>` where decimal units
/// are powers of 1000 (`KB`, `MB`, `GB`, `TB`, also `K`, `M`, `G`, `T`) and binary units are powers of
/// 1024 (`KiB`, `MiB`, `GiB`, `TiB`, also `Ki`, `Mi`, `Gi`, `Ti`), case-insensitive: `10MB` is
/// 10 000 000 bytes and `10MiB` is 10 485 760. A fraction is allowed with a unit (`1.5GB`).
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    if number.is_empty() {
        return Err("a number".into());
    }
    let multiplier: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => return Err(format!("unknown unit {unit:?}")),
    };
    let bytes = parse_decimal(number, multiplier)?;
    u64::try_from(bytes).map_err(|_| "too large".to_string())
}

/// Formats a duration the way `parse_duration` reads it back, for messages and the sample file.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    for (unit, size) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
    ] {
        if nanos >= size && nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else {
        format!("{nanos}ns")
    }
}

/// `number * unit` for a decimal `number` such as `12` or `1.25`, exact (no floating point).
fn parse_decimal(number: &str, unit: u128) -> Result<u128, String> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_only(whole) || !digits_only(fraction) {
        return Err(format!("{number:?} is not a number"));
    }
    let too_large = || "too large".to_string();
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut total = whole.checked_mul(unit).ok_or_else(too_large)?;
    let mut scale = unit;
    for digit in fraction.bytes().take(30) {
        scale /= 10;
        total += u128::from(digit - b'0') * scale;
    }
    Ok(total)
}

fn nanos_to_duration(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

/// One visitor for the scalar shapes below; `kind` picks the shape and says what is expected.
#[derive(Clone, Copy)]
enum Kind {
    Duration,
    ByteSize,
    Port,
    Bool,
}

struct ScalarVisitor(Kind);

/// A parsed scalar, before it is narrowed to the field's type.
enum Scalar {
    Duration(Duration),
    Bytes(u64),
    Port(u16),
    Bool(bool),
}

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Kind::Duration => "a duration: seconds (90) or a number with a unit (500ms, 90s, 5m, 1h)",
            Kind::ByteSize => "a size: bytes (1048576) or a number with a unit (10MB = 10000000 bytes, 10MiB = 10485760 bytes)",
            Kind::Port => "a port number 0..65535",
            Kind::Bool => "true or false",
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        match self.0 {
            Kind::Duration => Ok(Scalar::Duration(Duration::from_secs(v))),
            Kind::ByteSize => Ok(Scalar::Bytes(v)),
            Kind::Port => u16::try_from(v)
                .map(Scalar::Port)
                .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self)),
            Kind::Bool if v <= 1 => Ok(Scalar::Bool(v == 1)),
            Kind::Bool => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        match self.0 {
            Kind::Duration if v.is_finite() && v >= 0.0 => Duration::try_from_secs_f64(v)
                .map(Scalar::Duration)
                .map_err(|_| E::invalid_value(Unexpected::Float(v), &self)),
            _ => Err(E::invalid_type(Unexpected::Float(v), &self)),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        match self.0 {
            Kind::Bool => Ok(Scalar::Bool(v)),
            _ => Err(E::invalid_type(Unexpected::Bool(v), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        let invalid = || E::invalid_value(Unexpected::Str(v), &self);
        match self.0 {
            Kind::Duration => parse_duration(v)
                .map(Scalar::Duration)
                .map_err(|_| invalid()),
            Kind::ByteSize => parse_byte_size(v).map(Scalar::Bytes).map_err(|_| invalid()),
            Kind::Port => v.trim().parse().map(Scalar::Port).map_err(|_| invalid()),
            Kind::Bool => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(Scalar::Bool(true)),
                "false" | "no" | "off" | "0" => Ok(Scalar::Bool(false)),
                _ => Err(invalid()),
            },
        }
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D, kind: Kind) -> Result<Scalar, D::Error> {
    d.deserialize_any(ScalarVisitor(kind))
}

/// `Duration` from integer seconds or a string with units (see [`parse_duration`]).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match scalar(d, Kind::Duration)? {
        Scalar::Duration(v) => Ok(v),
        _ => unreachable!("the duration visitor yields durations"),
    }
}

/// Bytes from an integer or a string with units (see [`parse_byte_size`]).
pub fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match scalar(d, Kind::ByteSize)? {
        Scalar::Bytes(v) => Ok(v),
        _ => unreachable!("the size visitor yields sizes"),
    }
}

/// A TCP port, with an error that says so.
pub fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    match scalar(d, Kind::Port)? {
        Scalar::Port(v) => Ok(v),
        _ => unreachable!("the port visitor yields ports"),
    }
}

/// A TCP port when set (see [`port`]).
pub fn opt_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    port(d).map(Some)
}

/// A bool that also takes `1`/`0`, `yes`/`no`, `on`/`off`, as the replaced service's variables did.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match scalar(d, Kind::Bool)? {
        Scalar::Bool(v) => Ok(v),
        _ => unreachable!("the bool visitor yields bools"),
    }
}

/// Text from any scalar, so that `password: 123456` in YAML is the string "123456".
struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A string from any scalar; null is an error for a required string.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(TextVisitor)?
        .ok_or_else(|| de::Error::invalid_type(Unexpected::Unit, &TextVisitor))
}

/// An optional string from any scalar; null and `""` are `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(d.deserialize_any(TextVisitor)?.filter(|s| !s.is_empty()))
}

/// An optional secret from any scalar; null and `""` are `None`.
pub fn opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(opt_string(d)?.map(SecretString::from))
}

/// A list of strings from a YAML sequence or from one comma-separated string (`"csv,tsv,pdf"`,
/// also `"[csv, tsv]"`), as an environment variable gives it. Items are trimmed; empty ones dropped.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings, or one comma-separated string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            let v = v
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .unwrap_or(v);
            Ok(v.split(',')
                .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
                .filter(|s| !s.is_empty())
                .collect())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<Lenient>()? {
                items.extend(
                    item.0
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| s.trim().to_owned()),
                );
            }
            Ok(items)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    struct Lenient(Option<String>);
    impl<'de> serde::Deserialize<'de> for Lenient {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(TextVisitor).map(Lenient)
        }
    }
    d.deserialize_any(ListVisitor)
}
