//! Parsing config values as Kafka's `ConfigDef` types them. Each returns the value or why it
//! is refused (the caller names the key).

/// A whole number.
pub fn long(v: &str) -> Result<i64, String> {
    v.trim()
        .parse()
        .map_err(|_| "not a valid number".to_string())
}

pub fn long_at_least(v: &str, min: i64) -> Result<i64, String> {
    let n = long(v)?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    Ok(n)
}

pub fn long_in(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n = long(v)?;
    if !(min..=max).contains(&n) {
        return Err(format!("must be between {min} and {max}"));
    }
    Ok(n)
}

pub fn int_in(v: &str, min: i32, max: i32) -> Result<i32, String> {
    let n = long_in(v, i64::from(min), i64::from(max))?;
    i32::try_from(n).map_err(|_| format!("must be between {min} and {max}"))
}

pub fn double_in(v: &str, min: f64, max: f64) -> Result<f64, String> {
    let n: f64 = v
        .trim()
        .parse()
        .map_err(|_| "not a valid number".to_string())?;
    if !(min..=max).contains(&n) {
        return Err(format!("must be between {min} and {max}"));
    }
    Ok(n)
}

pub fn bool_value(v: &str) -> Result<bool, String> {
    match v.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

pub fn one_of(v: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&v.trim()) {
        Ok(())
    } else {
        Err(format!("must be one of {}", allowed.join(", ")))
    }
}

/// Checks a value against a key's Kafka type only.
pub fn check_type(ty: super::Type, v: &str) -> Result<(), String> {
    use super::Type;
    match ty {
        Type::Boolean => bool_value(v).map(drop),
        Type::Short | Type::Int | Type::Long => long(v).map(drop),
        Type::Double => double_in(v, f64::MIN, f64::MAX).map(drop),
        Type::String | Type::List | Type::Password => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(long(" 12 "), Ok(12));
        assert!(long("1x").is_err());
        assert!(long_at_least("0", 1).is_err());
        assert_eq!(int_in("7", 1, 9), Ok(7));
        assert!(int_in("10", 1, 9).is_err());
        assert!(double_in("0.5", 0.0, 1.0).is_ok());
        assert!(bool_value("yes").is_err());
        assert!(one_of("b", &["a", "c"]).is_err());
    }
}
