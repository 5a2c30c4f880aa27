//! Kafka's text form of a 16-byte id (topic ids, cluster ids, directory ids): URL-safe base64
//! without padding, always 22 characters (`org.apache.kafka.common.Uuid.toString`).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes `bytes` as URL-safe base64 without padding.
pub fn base64_url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let sextet = (n >> (18 - 6 * i)) & 0x3f;
            if let Some(c) = ALPHABET.get(sextet as usize) {
                out.push(char::from(*c));
            }
        }
    }
    out
}

/// Decodes Kafka's text form of a 16-byte id; `None` unless it is exactly that.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    if text.len() != 22 {
        return None;
    }
    let mut bits: u32 = 0;
    let mut held = 0u32;
    let mut out = Vec::with_capacity(16);
    for c in text.bytes() {
        let value = u32::try_from(ALPHABET.iter().position(|a| *a == c)?).ok()?;
        bits = (bits << 6) | value;
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push(u8::try_from((bits >> held) & 0xff).ok()?);
        }
    }
    // 22 characters carry 132 bits: 128 of the id and 4 that must be zero.
    if bits & ((1 << held) - 1) != 0 {
        return None;
    }
    out.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kafka() {
        // Uuid 00000000-0000-0000-0000-000000000001 prints as AAAAAAAAAAAAAAAAAAAAAQ in Kafka.
        let mut bytes = [0u8; 16];
        bytes[15] = 1;
        assert_eq!(base64_url(&bytes), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert_eq!(parse_uuid("AAAAAAAAAAAAAAAAAAAAAQ"), Some(bytes));
    }

    #[test]
    fn round_trips_and_refuses_what_is_not_an_id() {
        let id = *b"\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10";
        assert_eq!(parse_uuid(&base64_url(&id)), Some(id));
        assert_eq!(
            parse_uuid("K1H2zwLnQ4yjMK2IkhI-5g")
                .map(|b| base64_url(&b))
                .as_deref(),
            Some("K1H2zwLnQ4yjMK2IkhI-5g")
        );
        for bad in [
            "",
            "AAAA",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
    }
}
