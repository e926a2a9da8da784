//! Random identifiers from the operating system's CSPRNG.

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut out = String::with_capacity(n * 2);
    for _ in 0..n {
        let [b] = random_bytes::<1>();
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A recovery session id: 128 random bits.
pub fn session_id() -> String {
    random_hex(16)
}

/// An assistance request reference a person can read out on the phone: `AR-XXXX-XXXX` in
/// Crockford base 32 (no I, L, O, U), 40 random bits.
pub fn assistance_reference() -> String {
    let bytes = random_bytes::<5>();
    let mut value = bytes.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64);
    let mut chars = [0u8; 8];
    for c in chars.iter_mut().rev() {
        *c = CROCKFORD[(value & 31) as usize];
        value >>= 5;
    }
    let s = std::str::from_utf8(&chars).expect("ascii");
    format!("AR-{}-{}", &s[..4], &s[4..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_are_readable_and_distinct() {
        let a = super::assistance_reference();
        let b = super::assistance_reference();
        assert_eq!(a.len(), 12);
        assert!(a.starts_with("AR-"));
        assert!(a[3..].chars().all(|c| c == '-' || super::CROCKFORD.contains(&(c as u8))));
        assert_ne!(a, b);
        assert_eq!(super::session_id().len(), 32);
    }
}
