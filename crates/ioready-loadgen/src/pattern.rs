//! The bytes of each message: a function of (connection, sequence number),
//! so every echo can be checked byte for byte without keeping copies, and a
//! server that mixes up two connections or two messages is caught.

/// splitmix64: a fast, well-mixed 64-bit hash.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Fills `out` with message `seq` of connection `conn`.
pub(crate) fn fill(out: &mut [u8], conn: u32, seq: u64) {
    let mut state = mix((u64::from(conn) << 40) ^ seq);
    for chunk in out.chunks_mut(8) {
        let bytes = state.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
        state = mix(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ_by_connection_and_sequence() {
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        let mut c = [0u8; 64];
        fill(&mut a, 1, 7);
        fill(&mut b, 2, 7);
        fill(&mut c, 1, 8);
        assert_ne!(a, b);
        assert_ne!(a, c);
        let mut again = [0u8; 64];
        fill(&mut again, 1, 7);
        assert_eq!(a, again);
    }

    #[test]
    fn odd_sizes_are_filled() {
        let mut a = [0u8; 13];
        fill(&mut a, 0, 0);
        let mut b = [0u8; 16];
        fill(&mut b, 0, 0);
        assert_eq!(a[..], b[..13]);
    }
}
